#!/bin/sh
# tests/node/lan_stable.sh BINARY: a peer reachable at two LAN addresses
# keeps one direct endpoint (no flapping between them).
#
# One site behind a port-restricted NAT with two hosts on a bridge, each
# with two addresses on two subnets of that LAN: Rob 10.1.0.2 and 10.1.9.2,
# Matt 10.1.0.3 and 10.1.9.3. Both candidates of each side answer, from the
# address on the same subnet. Once both are on the `lan` path, `peers --json`
# is sampled on both sides every 0.5 s for 10 s (through the punching window
# and its keepalives): the remote endpoint must not change. Needs root;
# exits 77 otherwise. About 20 s.
set -u
bin=${1:?usage: lan_stable.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
nd_begin "$bin" lab

nd_lab_public
natlab_site home port_restricted
nd_lan_host home home2
ip -n "$(natlab_ns home)" addr add 10.1.9.2/24 dev lan
ip -n "$(natlab_ns home2)" addr add 10.1.9.3/24 dev lan
rob=$nd_tmp/rob
matt=$nd_tmp/matt
nd_pair_up home "$rob" home2 "$matt" 7777 7777 || exit 1
lan_both() {
	nd_path_is home "$rob" matt lan && nd_path_is home2 "$matt" rob lan
}
nd_wait 30 "the lan path on both sides" lan_both ||
	bad "path: rob sees matt '$(nd_peer home "$rob" matt)', matt sees rob '$(nd_peer home2 "$matt" rob)', want lan"

remote() {
	nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
for p in json.load(sys.stdin)["peers"]:
    if p.get("name") == sys.argv[1]:
        print("%s %s" % (p.get("path"), p.get("remote")))
' "$3"
}
: >"$nd_tmp/rob.remotes"
: >"$nd_tmp/matt.remotes"
end=$(($(nd_ms) + 10000))
while [ "$(nd_ms)" -lt "$end" ]; do
	remote home "$rob" matt >>"$nd_tmp/rob.remotes"
	remote home2 "$matt" rob >>"$nd_tmp/matt.remotes"
	sleep 0.5
done
for side in rob matt; do
	n=$(wc -l <"$nd_tmp/$side.remotes")
	kinds=$(sort -u "$nd_tmp/$side.remotes")
	echo "$side saw over $n samples: $(echo "$kinds" | tr '\n' ';')"
	[ "$n" -ge 5 ] || bad "$side: only $n samples"
	[ "$(echo "$kinds" | wc -l)" -eq 1 ] || bad "$side's endpoint for its peer changed within 10 s: $(uniq -c "$nd_tmp/$side.remotes" | tr '\n' ';')"
	case $kinds in lan\ 10.1.*) ;; *) bad "$side is not on a LAN endpoint: $kinds" ;; esac
done
nd_run home "$rob" send matt "steady" >/dev/null || bad "rob's send failed"
nd_recv_until home2 "$matt" "$matt.recv" "rob: steady" 10 || bad "matt did not receive"
moves=$(grep -c "direct path moved" "$rob.log" "$matt.out" | tr '\n' ' ')
echo "'direct path moved' log lines: $moves"

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out"; do
		echo "== ${f##*/}"
		tail -n 20 "$f"
	done
	echo "lan_stable: FAILED"
	exit 1
fi
echo "lan_stable: the direct endpoint stays put"
exit 0
