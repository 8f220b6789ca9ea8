#!/bin/sh
# tests/portmap/node_direct.sh BINARY: symmetric <-> symmetric goes direct
# when one side's router maps the node's port (issue 12).
#
# Two sites behind "masquerade fully-random" (APDM, APDF): without port
# mapping this pair stays on the relay (tests/node/pairs.sh). Rob's router
# runs miniupnpd (natlab_upnp, all three protocols); Rob's node maps its
# port, and its join code carries the mapped endpoint. Matt joins with the
# code: both must end on the direct path, with Rob seen at the mapped
# endpoint, and messages must flow both ways. Rob's SIGTERM deletes the
# mapping. Root only (77 otherwise); about 20 s.
set -u
bin=${1:?usage: node_direct.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
command -v miniupnpd >/dev/null 2>&1 || { echo "SKIP: miniupnpd not found (Debian package miniupnpd-nftables)"; exit 77; }
nd_begin "$bin" lab
# ctest turns port mapping off for every test; this one is about it.
export ATMOSPHERE_PORT_MAPPING=on

nd_lab_public
natlab_site a symmetric
natlab_site b symmetric
natlab_upnp a pcp,natpmp,upnp 203.0.113.10:3478 || exit 77
rip=$(natlab_router_ip a)

rob=$nd_tmp/rob
matt=$nd_tmp/matt
nd_run a "$rob" init lab --relay "$nd_relay_url" $nd_stun_args --port 7001 --name rob >"$rob.init" 2>&1 ||
	{ echo "FAIL: init: $(cat "$rob.init")"; exit 1; }
nd_start a "$rob" "$rob.log" serve
rob_pid=$nd_pid
nd_wait 15 "rob's mapping" grep -q "port mapping: the gateway maps $rip:7001 to UDP port 7001" "$rob.log" ||
	{ bad "rob: no mapping: $(tail -n 5 "$rob.log")"; }
grep "port mapping:" "$rob.log"
nd_wait 15 "rob's node answers" nd_up a "$rob" || { cat "$rob.log"; exit 1; }
nd_run a "$rob" join >"$rob.code" 2>&1
code=$(sed -n 's/^Full code: //p' "$rob.code")
[ -n "$code" ] || { echo "FAIL: no join code: $(cat "$rob.code")"; exit 1; }
t0=$(nd_ms)
nd_start b "$matt" "$matt.out" join "$code" --port 7002 --name matt
direct_both() {
	nd_path_is a "$rob" matt direct && nd_path_is b "$matt" rob direct
}
if nd_wait 20 "both direct" direct_both; then
	echo "direct both ways after $(($(nd_ms) - t0)) ms"
else
	bad "not direct: rob sees '$(nd_peer a "$rob" matt)', matt sees '$(nd_peer b "$matt" rob)'"
fi
remote=$(nd_run b "$matt" peers --json | "$nd_py" -c '
import json, sys
for p in json.load(sys.stdin)["peers"]:
    if p.get("name") == "rob":
        print(p.get("remote"))')
echo "matt reaches rob at $remote"
[ "$remote" = "$rip:7001" ] || bad "matt's direct path to rob is $remote, want the mapped $rip:7001"
ms=$(nd_flows a "$rob" b "$matt" direct 15) || bad "messages did not flow both ways"
echo "messages both ways in ${ms:-?} ms"
nd_kill "$rob_pid"
rules=$(natlab_exec a-r nft list chain inet miniupnpd prerouting_miniupnpd | grep -c "dnat ip to")
[ "$rules" = 0 ] || bad "$rules mapping(s) left on the router after rob's SIGTERM"

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out" "$NL_TMP/miniupnpd-a.log"; do
		echo "== ${f##*/}"
		grep -v parse_stun "$f" | tail -n 20
	done
	echo "node_direct: FAILED"
	exit 1
fi
echo "node_direct: ok"
