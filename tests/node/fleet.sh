#!/bin/sh
# tests/node/fleet.sh BINARY: two nodes whose only path is a relay fleet.
#
# The lab's public host runs deploy/fleet.sh: 3 relays behind HAProxy on
# 203.0.113.10:8080 (the shipped haproxy.cfg). Rob (port-restricted NAT) and
# Matt (full cone) pair through it; the wan router then drops UDP between
# their sites, so every message goes through a relay. The relay holding
# their pair session is killed (SIGKILL): their relay links reconnect
# through HAProxy, which sends both to the relay the hash picks now, and
# `send` traffic flows again both ways. Prints the time that took; the
# relays' logs must name the sites' NAT addresses (from HAProxy's PROXY
# header), never HAProxy's 127.0.0.1.
# Needs root and haproxy; exits 77 otherwise. About 30 s.
set -u
bin=${1:?usage: fleet.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
fleet_sh=$here/../../deploy/fleet.sh
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
for tool in haproxy curl; do
	command -v $tool >/dev/null 2>&1 || { echo "SKIP: $tool not found (Debian package $tool)"; exit 77; }
done
nd_begin "$bin" lab
fleet=$nd_tmp/fleet
# The fleet's processes live in the public host's namespace: stop them
# before the lab goes.
trap 'natlab_exec pub bash "$fleet_sh" stop -d "$fleet" >/dev/null 2>&1; natlab_cleanup; nd_cleanup' EXIT
dump() {
	for f in "$rob.log" "$matt.out" "$fleet"/relay*.log "$fleet/haproxy.log"; do
		echo "== ${f##*/}"
		tail -n 25 "$f"
	done
}

nd_lab_public --no-relay
natlab_exec pub bash "$fleet_sh" start -n 3 -d "$fleet" -b "$bin" -H 203.0.113.10 -p 8080 -- --threads 1 ||
	exit 1
nd_relay_url=ws://203.0.113.10:8080
natlab_site a port_restricted
natlab_site b full_cone
rob=$nd_tmp/rob
matt=$nd_tmp/matt
nd_pair_up a "$rob" b "$matt" 7001 7002 || exit 1
both_path() {
	nd_path_is a "$rob" matt "$1" && nd_path_is b "$matt" rob "$1"
}
nd_wait 20 "both connected" nd_both_connected a "$rob" b "$matt" || { dump; exit 1; }
nd_block_direct a b
nd_wait 30 "both on the relay once direct UDP is blocked" both_path relay || {
	bad "not on the relay: rob '$(nd_peer a "$rob" matt)', matt '$(nd_peer b "$matt" rob)'"
	dump
	exit 1
}
ms=$(nd_flows a "$rob" b "$matt" before 10) || { bad "messages do not flow through the fleet"; dump; exit 1; }

# The relay with an active (paired) session holds the pair session; the
# inbox that carried the join waits empty.
active() {
	natlab_exec pub curl -sS -m 2 --haproxy-protocol "http://127.0.0.1:$(cat "$fleet/relay$1.port")/stats" |
		sed -n 's/.*"active_sessions": \([0-9]*\).*/\1/p'
}
victim=
for k in 1 2 3; do
	[ "$(active $k)" -gt 0 ] 2>/dev/null && victim=$k
done
[ -n "$victim" ] || { bad "no relay holds an active session"; dump; exit 1; }
for k in 1 2 3; do
	if grep -q "client 127\.0\.0\.1\b" "$fleet/relay$k.log"; then
		bad "relay$k logged HAProxy's address as a client: $(grep "client 127.0.0.1" "$fleet/relay$k.log" | head -2)"
	fi
done
ra=$(natlab_router_ip a)
rb=$(natlab_router_ip b)
grep -q "session .* \(first\|second\) client \($ra\|$rb\)\b" "$fleet/relay$victim.log" ||
	bad "relay$victim does not name a site's NAT address: $(grep paired "$fleet/relay$victim.log" | head -3)"

natlab_exec pub bash "$fleet_sh" kill "$victim" -d "$fleet" || exit 1
t0=$(nd_ms)
if ms=$(nd_flows a "$rob" b "$matt" after 20); then
	echo "relay$victim killed: messages flow again after $ms ms (rob sees matt: $(nd_peer a "$rob" matt))"
else
	bad "after relay$victim was killed, messages do not flow within 20 s"
	dump
fi
both_path relay || bad "not on the relay after the kill: rob '$(nd_peer a "$rob" matt)', matt '$(nd_peer b "$matt" rob)'"
moved=
for k in 1 2 3; do
	[ "$k" = "$victim" ] && continue
	[ "$(active $k)" -gt 0 ] 2>/dev/null && moved=$k
done
[ -n "$moved" ] || bad "no surviving relay holds the pair session"
[ -n "$moved" ] && echo "the pair session moved from relay$victim to relay$moved ($(($(nd_ms) - t0)) ms after the kill, checks included)"

if [ "$fail" -ne 0 ]; then
	echo "fleet: FAILED"
	exit 1
fi
echo "fleet: the nodes' traffic survived a relay of the fleet"
exit 0
