#!/bin/sh
# tests/node/self_candidate.sh BINARY: a peer's loopback candidate with our
# own port is our own socket, and is never punched (node_cand_accept,
# docs/NODE.md "Refused candidates").
#
# Every node lists its interfaces among its candidates, loopback too (two
# nodes on one host meet on 127.0.0.1). Rob and Matt, in two namespaces
# behind full-cone NATs, both use UDP port 7777 and both have a bridge
# at 172.17.0.1 (as every Docker host has), so each lists 127.0.0.1:7777
# and 172.17.0.1:7777, which on the other side are that side's own
# socket. Checked, on both sides: connected on a direct path; the other's
# two are counted under self.candidates_refused.self and not listed among
# its candidates; and no packet from either reached the node (before,
# each sent itself a punch or keepalive every 400 ms there, which it
# received and could not open). Needs root; exits 77 otherwise. About
# 15 s.
set -u
bin=${1:?usage: self_candidate.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
nd_begin "$bin" lab
export ATMOSPHERE_LOG=debug

nd_lab_public
natlab_site a full_cone
natlab_site b full_cone
for h in a b; do
	# A veth pair stands in for the bridge (the kernel may lack "dummy").
	natlab_exec $h ip link add dock0 type veth peer name dock1 &&
		natlab_exec $h ip addr add 172.17.0.1/16 dev dock0 &&
		natlab_exec $h ip link set dock1 up && natlab_exec $h ip link set dock0 up ||
		bad "cannot add an interface at 172.17.0.1 on $h"
done
rob=$nd_tmp/rob
matt=$nd_tmp/matt
nd_pair_up a "$rob" b "$matt" 7777 7777 || exit 1
direct_both() { nd_path_is a "$rob" matt direct && nd_path_is b "$matt" rob direct; }
nd_wait 30 "both connected on a direct path" direct_both ||
	bad "not direct: rob sees '$(nd_peer a "$rob" matt)', matt sees '$(nd_peer b "$matt" rob)'"
# A few punch windows and keepalives go by.
sleep 3

# check HOST HOME LOG OTHER
check() {
	n=$(nd_field "$1" "$2" self candidates_refused.self)
	cands=$(nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
for p in json.load(sys.stdin)["peers"]:
    if p.get("name") == sys.argv[1]:
        print(" ".join(c["address"] for c in p.get("candidates") or []))' "$4")
	echo "$(basename "$2"): refused as self: ${n:-absent}; $4's candidates: $cands"
	[ "${n:-0}" -ge 2 ] 2>/dev/null ||
		bad "$(basename "$2") did not count $4's 127.0.0.1:7777 and 172.17.0.1:7777 under self (${n:-absent})"
	[ -n "$cands" ] || bad "$(basename "$2") lists no candidates of $4"
	for own in 127.0.0.1:7777 172.17.0.1:7777; do
		case " $cands " in
		*" $own "*) bad "$(basename "$2") lists $4's $own, its own socket, among $4's candidates" ;;
		esac
		k=$(grep -c "from $own" "$3")
		[ "$k" -eq 0 ] || bad "$(basename "$2") received $k packets from $own, its own socket: $(grep -m 2 "from $own" "$3")"
	done
}
check a "$rob" "$rob.log" matt
check b "$matt" "$matt.out" rob

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out"; do
		echo "== ${f##*/}"
		grep -v "e2e packet" "$f" | tail -n 15
	done
	echo "self_candidate: FAILED"
	exit 1
fi
echo "self_candidate: neither node punches its own socket"
exit 0
