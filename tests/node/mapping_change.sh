#!/bin/sh
# tests/node/mapping_change.sh BINARY: a node whose NAT moves its mapping to
# a new external port learns its new public endpoint, tells its peer, and
# the peer reconnects.
#
# Rob behind a port-restricted NAT (stock masquerade), Matt behind a full
# cone, our relay and STUN server on the public host. Once they are direct,
# Rob's router starts mapping Rob's port 7001 to external port 27001 (an
# snat rule ahead of the masquerade) and forgets every mapping (`conntrack
# -F`). Then, each within 40 s:
#  - Rob's `peers --json` "self" shows public endpoint ROUTER:27001 (the STUN
#    refresh through the node's own socket, triggered by Matt seeing Rob at
#    a new address or by the direct path dying), and a fresh `atmosphere
#    join` code carries it;
#  - Matt lists Rob as connected on the direct path at ROUTER:27001, and
#    messages flow both ways.
# Needs root and conntrack; exits 77 otherwise. About 20-40 s.
set -u
bin=${1:?usage: mapping_change.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
command -v conntrack >/dev/null 2>&1 || { echo "SKIP: conntrack not found (Debian package conntrack)"; exit 77; }
nd_begin "$bin" lab
dump() {
	for f in "$rob.log" "$matt.out"; do
		echo "== ${f##*/}"
		tail -n 30 "$f"
	done
}

nd_lab_public
natlab_site a port_restricted
natlab_site b full_cone
rip=$(natlab_router_ip a)
rob=$nd_tmp/rob
matt=$nd_tmp/matt
nd_pair_up a "$rob" b "$matt" 7001 7002 || exit 1
both_direct() {
	nd_path_is a "$rob" matt direct && nd_path_is b "$matt" rob direct
}
nd_wait 20 "both connected" nd_both_connected a "$rob" b "$matt" || { dump; exit 1; }
nd_wait 20 "direct path on both sides" both_direct || {
	echo "FAIL: not direct before the test: rob '$(nd_peer a "$rob" matt)', matt '$(nd_peer b "$matt" rob)'"
	dump
	exit 1
}

# self_public HOST HOME: the public endpoint in `peers --json` "self".
self_public() {
	nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
print(json.load(sys.stdin).get("self", {}).get("public_endpoint", ""))'
}
peer_remote() {
	nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
for p in json.load(sys.stdin)["peers"]:
    if p.get("name") == sys.argv[1]:
        print(p.get("remote"))
' "$3"
}
before=$(self_public a "$rob")
[ "$before" = "$rip:7001" ] || bad "rob's public endpoint before the change is '$before', want $rip:7001"

# --- the NAT moves Rob's mapping ------------------------------------------------------
natlab_exec a-r nft insert rule ip nat post oifname wan meta l4proto udp udp sport 7001 snat to "$rip:27001" ||
	bad "cannot add the snat rule"
natlab_exec a-r conntrack -F >/dev/null 2>&1 || bad "conntrack -F failed"
t0=$(nd_ms)
is_new() { [ "$(self_public a "$rob")" = "$rip:27001" ]; }
if nd_wait 40 "rob learns its new public endpoint" is_new; then
	echo "rob's public endpoint $before -> $rip:27001 after $(($(nd_ms) - t0)) ms"
else
	bad "rob's public endpoint is '$(self_public a "$rob")' 40 s after the change, want $rip:27001"
	natlab_exec a-r conntrack -L -p udp 2>/dev/null
fi
grep -q "public endpoint changed from $before to $rip:27001" "$rob.log" || bad "rob's log does not say the endpoint changed"
nd_run a "$rob" join >"$rob.code2" 2>&1
code=$(sed -n 's/^Full code: //p' "$rob.code2")
pub=$("$nd_py" "$here/codes.py" json "$code" 2>/dev/null | "$nd_py" -c 'import json, sys; print(json.load(sys.stdin)["public_endpoint"])')
[ "$pub" = "$rip:27001" ] || bad "a new join code carries public endpoint '$pub', want $rip:27001"
matt_sees_new() {
	nd_path_is b "$matt" rob direct && [ "$(peer_remote b "$matt" rob)" = "$rip:27001" ]
}
if nd_wait 40 "matt reaches rob at the new endpoint" matt_sees_new; then
	echo "matt reconnected to rob at $rip:27001 after $(($(nd_ms) - t0)) ms"
else
	bad "matt does not list rob direct at $rip:27001: '$(nd_peer b "$matt" rob) $(peer_remote b "$matt" rob)'"
fi
nd_run a "$rob" send matt "after the move" >/dev/null 2>&1 || bad "rob's send failed"
nd_run b "$matt" send rob "back after the move" >/dev/null 2>&1 || bad "matt's send failed"
nd_recv_until b "$matt" "$matt.recv" "rob: after the move" 10 || bad "matt did not receive"
nd_recv_until a "$rob" "$rob.recv" "matt: back after the move" 10 || bad "rob did not receive"

if [ "$fail" -ne 0 ]; then
	dump
	echo "mapping_change: FAILED"
	exit 1
fi
echo "mapping_change: the new public endpoint is learned and used"
exit 0
