#!/bin/sh
# tests/node/hard_nat_seq.sh BINARY: hard-NAT probing toward a NAT that
# allocates ports sequentially (issue 12), in the NAT lab.
#
# Rob sits behind a port_restricted router, Matt behind a symmetric one
# whose masquerade takes its port from an nftables counter (`masquerade to
# :numgen inc mod 200 offset 0x2800`, as tests/stun/natlab_ports.sh does):
# every new flow gets the next port, 256 apart (the counter reaches the NAT
# in host byte order: 40, 296, 552, ...), over 200 ports from 40 to 50,984.
# Checks:
#   - Matt's node samples its NAT's port allocation at start-up and finds
#     it sequential with stride 256 (`peers --json` self.hard_nat.port_allocation);
#   - Matt, the hard side, sends the prediction ('S') before its 'G';
#   - the pair goes direct on both sides;
#   - the path opened to a port of the predicted window: Rob's `peers --json`
#     hard_nat.last_hit.by is "prediction" (not "random": with ~200 mapped
#     ports a random probe hits too, 1 - (1 - 180/64512)^2048 = 99.7 %, which
#     is why the test looks at where the hit was, not only at "direct").
# ND_KEEP=1 keeps the logs. About 20 s. Needs root; exits 77 otherwise.
set -u
bin=${1:?usage: hard_nat_seq.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
nd_begin "$bin" lab

nd_lab_public
natlab_site pr1 port_restricted
natlab_site sq2 symmetric
# The counter rule (natlab/lab.sh), loaded afresh: the counter starts at 0,
# so it does not wrap within the ~10 flows before the attempt.
natlab_sequential sq2 0x2800

# self_ports HOST HOME: "PATTERN STRIDE" of the node's own port allocation.
self_ports() {
	nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
pa = json.load(sys.stdin)["self"]["hard_nat"]["port_allocation"]
print("none" if pa is None else "%s %s" % (pa["pattern"], pa["stride"]))
' 2>&1
}
matt_sampled() {
	[ "$(self_ports sq2 "$matt")" != none ]
}

rob="$nd_tmp/rob"
matt="$nd_tmp/matt"
nd_pair_up pr1 "$rob" sq2 "$matt" 21051 21052 || exit 1
nd_wait 30 "both connected" nd_both_connected pr1 "$rob" sq2 "$matt" || {
	nd_dump_all 30
	exit 1
}
nd_wait 10 "matt sampled its port allocation" matt_sampled || bad "matt's node did not sample its port allocation"
pa=$(self_ports sq2 "$matt")
echo "matt's port allocation: $pa"
[ "$pa" = "sequential 256" ] || bad "matt's port allocation is '$pa', want 'sequential 256'"

both_direct() {
	nd_path_is pr1 "$rob" matt direct && nd_path_is sq2 "$matt" rob direct
}
if nd_wait 25 "direct path on both sides" both_direct; then
	echo "direct after $(($(nd_ms) - nd_join_ms)) ms from 'join CODE'"
else
	bad "port_restricted <-> sequential symmetric did not go direct: rob $(nd_peer pr1 "$rob" matt), matt $(nd_peer sq2 "$matt" rob)"
fi
grep -h "predicting .* mappings after port" "$matt.out" | sed 's/^.*INFO /hard side: /'
grep -q "our NAT allocates ports sequentially: predicting" "$matt.out" || bad "the hard side sent no prediction"
grep -h "its NAT allocates ports sequentially" "$rob.log" | sed 's/^.*INFO /easy side: /'
line=$(grep -h "hard-NAT probing opened a direct path after" "$rob.log" | tail -n 1)
echo "easy side: ${line#*probing }"
# Where the path opened: the predicted window, and early in it.
hit=$(nd_run pr1 "$rob" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
d = json.load(sys.stdin)
h = [p for p in d["peers"] if p.get("name") == "matt"][0]["hard_nat"]
hit, pred = h["last_hit"], h["prediction"]
print("none" if hit is None else hit["by"], None if hit is None else hit["index"],
      None if pred is None else pred["window"], h["last_probes"])
' 2>&1)
echo "rob's last hit (by, index, window, probes): $hit"
set -- $hit
if [ "${1:-}" != prediction ]; then
	bad "the path did not open through the prediction: last_hit '$hit'"
elif [ "$2" -gt "$3" ]; then
	bad "hit index $2 outside the window $3"
fi
grep -q "hard-NAT probing opened a direct path after .*: predicted port" "$rob.log" ||
	bad "the easy side's log does not say the prediction hit: '$line'"
nd_run pr1 "$rob" send matt "over the predicted path" >/dev/null 2>&1 || bad "rob's send failed"
nd_recv_until sq2 "$matt" "$matt.recv" "rob: over the predicted path" 10 || bad "matt did not receive"
nd_kill "$nd_rob_pid" "$nd_matt_pid"

if [ "$fail" -ne 0 ]; then
	nd_dump_all 30
	echo "hard_nat_seq: FAILED"
	exit 1
fi
echo "hard_nat_seq: passed"
exit 0
