#!/bin/sh
# tests/node/overlay_rejoin.sh BINARY: a home that already has a mesh of its
# own (`atmosphere init`) joins another mesh with `join --tun`, so its
# overlay is up before the join ends and has to change meshes while the
# node runs (issue 11: the overlay used to be started a second time).
#
# Rob creates mesh "lab" and serves with --tun. Matt first runs
# `init solo`, then `join --tun CODE` with Rob's code. Checked:
#  - Matt's atmosphere0 carries exactly one overlay address per family, the
#    ones Rob derives for him in "lab" (none left from "solo");
#  - Matt's interface routes "lab"'s IPv6 prefix and no longer "solo"'s;
#  - ping over both families answers both ways;
#  - Matt's node never logged that its overlay failed to start.
# Needs root; exits 77 otherwise. About 25 s.
set -u
bin=${1:?usage: overlay_rejoin.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
command -v ping >/dev/null || { echo "SKIP: ping is not installed (apt-get install iputils-ping)"; exit 77; }
nd_begin "$bin" lab

nd_lab_public
natlab_site a full_cone
natlab_site b full_cone
rob=$nd_tmp/rob
matt=$nd_tmp/matt
nd_run b "$matt" init solo --relay "$nd_relay_url" $nd_stun_args --port 7777 --name matt >"$matt.init0" 2>&1 ||
	{ echo "FAIL: matt's own init: $(cat "$matt.init0")"; exit 1; }
ND_SERVE_ARGS=--tun ND_JOIN_ARGS=--tun nd_pair_up a "$rob" b "$matt" 7777 7777 || exit 1
nd_wait 25 "both connected" nd_both_connected a "$rob" b "$matt" ||
	bad "not connected: rob sees '$(nd_peer a "$rob" matt)', matt sees '$(nd_peer b "$matt" rob)'"

m4=$(nd_field a "$rob" matt overlay_ipv4)
m6=$(nd_field a "$rob" matt overlay_ipv6)
r4=$(nd_field b "$matt" rob overlay_ipv4)
r6=$(nd_field b "$matt" rob overlay_ipv6)
echo "rob $r4 $r6, matt $m4 $m6"
[ -n "$m4" ] && [ -n "$m6" ] && [ -n "$r4" ] && [ -n "$r6" ] || bad "peers --json lacks overlay addresses"
[ "$(nd_field b "$matt" self overlay_ipv4)" = "$m4" ] || bad "matt's own overlay address differs from what rob derives"

# Matt's interface: one global address per family, the joined mesh's.
addrs() { # FAMILY: the interface's addresses of that family, global scope
	natlab_exec b ip "-$1" -o addr show dev atmosphere0 scope global | awk '{ print $4 }' | sort | tr '\n' ' '
}
nd_wait 10 "matt's atmosphere0 has $m4" sh -c "ip netns exec '$(natlab_ns b)' ip -4 addr show atmosphere0 | grep -q '$m4/'" ||
	bad "matt's atmosphere0 lacks $m4: $(addrs 4)"
got4=$(addrs 4)
got6=$(addrs 6)
echo "matt's atmosphere0: $got4/ $got6"
[ "$got4" = "$m4/32 " ] || bad "matt's atmosphere0 IPv4 addresses are '$got4', want only $m4/32"
[ "$got6" = "$m6/128 " ] || bad "matt's atmosphere0 IPv6 addresses are '$got6', want only $m6/128"
# Its IPv6 routes: the joined mesh's /48 only.
routes6=$(natlab_exec b ip -6 route show dev atmosphere0 | awk '$1 ~ /\// && $1 != "fe80::/64" { print $1 }' | tr '\n' ' ')
echo "matt's IPv6 routes on atmosphere0: $routes6"
r6pfx=$("$nd_py" -c '
import ipaddress, sys
print(ipaddress.ip_network(sys.argv[1] + "/48", strict=False))' "$r6")
[ "$routes6" = "$r6pfx " ] || bad "matt's IPv6 routes on atmosphere0 are '$routes6', want only $r6pfx"

ping_ok() { # HOST ADDR
	natlab_exec "$1" ping -c 3 -i 0.2 -W 2 "$2" >"$nd_tmp/ping.out" 2>&1
}
for t in "a $m4" "a $m6" "b $r4" "b $r6"; do
	set -- $t
	ping_ok "$1" "$2" || bad "ping $2 from $1 failed: $(cat "$nd_tmp/ping.out")"
done
if grep -q "goes on without it" "$matt.out"; then
	bad "matt's overlay failed to start: $(grep overlay "$matt.out" | head -n 5)"
fi

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out"; do
		echo "== ${f##*/}"
		tail -n 30 "$f"
	done
	echo "overlay_rejoin: FAILED"
	exit 1
fi
echo "overlay_rejoin: a home with its own mesh joined another; its running overlay took the joined mesh's addresses"
exit 0
