#!/bin/sh
# tests/node/multi_relay.sh BINARY: signaling and relayed traffic use every
# relay of the mesh, and move to another when the one in use dies.
#
# Rob and Matt behind port-restricted NATs; the wan router drops UDP between
# their sites, so the relay path is the only one. The mesh's relays, in
# order: an unreachable address (203.0.113.99, nobody there), a relay that is
# not started yet (203.0.113.11:8080, connection refused) and our relay on
# 203.0.113.10:8080.
#  1. join succeeds through the third relay; both list each other as
#     connected on the relay path, `peers --json` names that relay, and
#     messages go both ways.
#  2. the second relay starts; once both are paired on it too, the relay in
#     use is killed: both move to the other relay (within 15 s, the time is
#     printed) and messages flow again.
# Needs root; exits 77 otherwise. About 20-40 s.
set -u
bin=${1:?usage: multi_relay.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
nd_begin "$bin" lab
dump() {
	for f in "$rob.log" "$matt.out" "$nd_tmp"/relay*.out; do
		echo "== ${f##*/}"
		tail -n 30 "$f"
	done
}

nd_lab_public
live=$nd_relay_url
dead=ws://203.0.113.99:8080
second=ws://203.0.113.11:8080
natlab_site a port_restricted
natlab_site b port_restricted
nd_block_direct a b
rob=$nd_tmp/rob
matt=$nd_tmp/matt
# nd_pair_up puts $nd_relay_url first and $ND_INIT_ARGS after it.
nd_relay_url=$dead
ND_INIT_ARGS="--relay $second --relay $live"
nd_pair_up a "$rob" b "$matt" 7001 7002 || exit 1
nd_relay_url=$live

# peer_field HOST HOME PEER FIELD: a field of PEER in `peers --json` (lists
# joined by spaces; "absent" when PEER is not listed).
peer_field() {
	nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
want, field = sys.argv[1], sys.argv[2]
try:
    peers = json.load(sys.stdin)["peers"]
except Exception:
    peers = []
for p in peers:
    if want in (p.get("name"), p.get("node_id")):
        v = p.get(field)
        print(" ".join(sorted(v)) if isinstance(v, list) else v)
        break
else:
    print("absent")
' "$3" "$4"
}
both_relay_via() {
	nd_path_is a "$rob" matt relay && nd_path_is b "$matt" rob relay &&
		[ "$(peer_field a "$rob" matt remote)" = "$1" ] && [ "$(peer_field b "$matt" rob remote)" = "$1" ]
}

# --- 1. the first two relays do not answer -------------------------------------
if nd_wait 40 "both connected" nd_both_connected a "$rob" b "$matt"; then
	echo "joined with the first relays down: both connected after $(($(nd_ms) - nd_join_ms)) ms"
else
	bad "not connected: rob sees '$(nd_peer a "$rob" matt)', matt sees '$(nd_peer b "$matt" rob)'"
	dump
	exit 1
fi
nd_wait 20 "the join finished" grep -q "✓ Joined mesh: lab" "$matt.out" || bad "no '✓ Joined mesh: lab': $(cat "$matt.out")"
grep -q "Connected via relay: $live" "$matt.out" || bad "the join does not say it went via $live: $(cat "$matt.out")"
nd_wait 15 "both on the relay path via $live" both_relay_via "$live" ||
	bad "not on $live: rob '$(nd_peer a "$rob" matt) $(peer_field a "$rob" matt remote)', matt '$(nd_peer b "$matt" rob) $(peer_field b "$matt" rob remote)'"
ms=$(nd_flows a "$rob" b "$matt" first 15) || bad "messages do not flow through $live"

# --- 2. two relays up, the one in use dies -------------------------------------------
nd_start pub "$nd_tmp/pub" "$nd_tmp/relay-second.out" relay --host 203.0.113.11 --port 8080 --threads 1
second_pid=$nd_pid
nd_wait 10 "second relay listening" grep -qs "^relay listening on 203.0.113.11:8080" "$nd_tmp/relay-second.out" ||
	{ cat "$nd_tmp/relay-second.out"; exit 1; }
both_paired_twice() {
	[ "$(peer_field a "$rob" matt relays_paired)" = "$live $second" ] &&
		[ "$(peer_field b "$matt" rob relays_paired)" = "$live $second" ]
}
nd_wait 30 "both paired on both relays" both_paired_twice ||
	bad "not paired on both relays: rob '$(peer_field a "$rob" matt relays_paired)', matt '$(peer_field b "$matt" rob relays_paired)'"
# The relay in use stays in use while it works.
both_relay_via "$live" || bad "moved off a working relay: rob '$(peer_field a "$rob" matt remote)', matt '$(peer_field b "$matt" rob remote)'"
nd_kill "$nd_relay_pid"
t0=$(nd_ms)
if nd_wait 15 "both moved to $second" both_relay_via "$second"; then
	echo "relay $live killed: both on $second after $(($(nd_ms) - t0)) ms"
else
	bad "not on $second within 15 s of killing $live: rob '$(nd_peer a "$rob" matt) $(peer_field a "$rob" matt remote)', matt '$(nd_peer b "$matt" rob) $(peer_field b "$matt" rob remote)'"
fi
if ms=$(nd_flows a "$rob" b "$matt" moved 15); then
	echo "messages flow through $second after $ms ms"
else
	bad "messages do not flow through $second"
fi
grep -q "paired" "$nd_tmp/relay-second.out" || bad "the second relay paired nothing"

if [ "$fail" -ne 0 ]; then
	dump
	echo "multi_relay: FAILED"
	exit 1
fi
echo "multi_relay: the mesh's relays back each other up"
exit 0
