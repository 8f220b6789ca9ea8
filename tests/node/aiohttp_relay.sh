#!/bin/sh
# tests/node/aiohttp_relay.sh BINARY: the node works through a minimal
# seed-protocol relay written with Python's aiohttp (min_relay.py: pairs two
# WebSockets per /relay/{id} and forwards their messages, nothing else: no
# paired notice, nothing held).
#
# The lab's public host runs min_relay.py instead of our relay (and our STUN
# server); the wan router drops UDP between the two sites, so the join and
# every message go through min_relay.py. Rob and Matt must both list the
# other as connected on the relay path, messages must go both ways and ping
# must answer. Needs root and /usr/bin/python3 with aiohttp; exits 77
# otherwise. About 10 s.
set -u
bin=${1:?usage: aiohttp_relay.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
"$nd_py" -c 'import aiohttp' 2>/dev/null || { echo "SKIP: $nd_py lacks aiohttp (python3-aiohttp)"; exit 77; }
nd_begin "$bin" lab

nd_lab_public --no-relay
nd_relay_log=$nd_tmp/min_relay.out
nd_spawn pub "$nd_relay_log" "$nd_py" "$here/min_relay.py" 203.0.113.10 8080
nd_wait 15 "min_relay.py listening" grep -qs "^min relay listening on 203.0.113.10:8080" "$nd_relay_log" || {
	cat "$nd_relay_log"
	exit 1
}
nd_relay_url=ws://203.0.113.10:8080
natlab_site a full_cone
natlab_site b port_restricted
nd_block_direct a b

rob=$nd_tmp/rob
matt=$nd_tmp/matt
nd_pair_up a "$rob" b "$matt" 7001 7002 || exit 1
relay_both() {
	nd_path_is a "$rob" matt relay && nd_path_is b "$matt" rob relay
}
if nd_wait 30 "both connected over min_relay.py" relay_both; then
	echo "connected through min_relay.py after $(($(nd_ms) - nd_join_ms)) ms"
else
	bad "not connected through the relay: rob sees '$(nd_peer a "$rob" matt)', matt sees '$(nd_peer b "$matt" rob)'"
fi
nd_wait 10 "join finished" grep -q "✓ Joined mesh: lab" "$matt.out" || bad "no '✓ Joined mesh: lab' line"
grep -q "✓ Connected via relay: $nd_relay_url" "$matt.out" || bad "no '✓ Connected via relay: $nd_relay_url' line"
out=$(nd_run a "$rob" send matt "through aiohttp" 2>&1) || bad "rob's send: $out"
case $out in *"via relay path"*) ;; *) bad "rob's send did not go via the relay: $out" ;; esac
nd_run b "$matt" send rob "back through aiohttp" >/dev/null 2>&1 || bad "matt's send failed"
nd_recv_until b "$matt" "$matt.recv" "rob: through aiohttp" 10 || bad "matt did not receive"
nd_recv_until a "$rob" "$rob.recv" "matt: back through aiohttp" 10 || bad "rob did not receive"
out=$(nd_run b "$matt" ping rob 2>&1) || bad "ping: $out"
case $out in *"via relay path"*) echo "$out" ;; *) bad "ping does not say 'via relay path': $out" ;; esac

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out" "$nd_relay_log"; do
		echo "== ${f##*/}"
		tail -n 20 "$f"
	done
	echo "aiohttp_relay: FAILED"
	exit 1
fi
echo "aiohttp_relay: the node works through min_relay.py"
exit 0
