#!/bin/sh
# tests/node/no_plaintext.sh BINARY: a relay sees only ciphertext.
#
# Rob and Matt behind full-cone NATs (direct would work), but the wan router
# drops UDP between the two sites, so everything goes through our relay.
# tcpdump captures the relay host's traffic while Rob joins and a
# distinctive text goes each way with `send`. The peers must receive the
# texts (over the relay path), and the capture must contain neither text nor
# the mesh's join secret. Relay-to-client WebSocket frames are unmasked, so
# a plaintext message would show in the capture as is; a positive control
# proves it: a plaintext message sent through the same relay by two plain
# WebSocket clients (ws_pair.py) is found in the same capture.
# Needs root and tcpdump; exits 77 otherwise. About 10 s.
set -u
bin=${1:?usage: no_plaintext.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
command -v tcpdump >/dev/null 2>&1 || { echo "SKIP: tcpdump not found"; exit 77; }
"$nd_py" -c 'import aiohttp' 2>/dev/null || { echo "SKIP: $nd_py lacks aiohttp (python3-aiohttp)"; exit 77; }
nd_begin "$bin" lab

nd_lab_public
natlab_site a full_cone
natlab_site b full_cone
nd_block_direct a b
cap=$nd_tmp/relay.pcap
nd_spawn pub "$nd_tmp/tcpdump.out" tcpdump -n -i wan -U --immediate-mode -B 32768 -s 0 -w "$cap" tcp port 8080
tcpdump_pid=$nd_pid
nd_wait 10 "tcpdump listening" grep -qs "listening on wan" "$nd_tmp/tcpdump.out" || {
	cat "$nd_tmp/tcpdump.out"
	exit 1
}

rob=$nd_tmp/rob
matt=$nd_tmp/matt
nd_pair_up a "$rob" b "$matt" 7001 7002 || exit 1
relay_both() {
	nd_path_is a "$rob" matt relay && nd_path_is b "$matt" rob relay
}
nd_wait 30 "both connected over the relay" relay_both ||
	bad "not on the relay: rob sees '$(nd_peer a "$rob" matt)', matt sees '$(nd_peer b "$matt" rob)'"
rnd=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
c1="CANARY-ROB-TO-MATT-$rnd"
c2="CANARY-MATT-TO-ROB-$rnd"
out=$(nd_run a "$rob" send matt "$c1" 2>&1) || bad "rob's send: $out"
case $out in *"via relay path"*) ;; *) bad "rob's send did not go via the relay: $out" ;; esac
out=$(nd_run b "$matt" send rob "$c2" 2>&1) || bad "matt's send: $out"
nd_recv_until b "$matt" "$matt.recv" "rob: $c1" 10 || bad "matt did not receive rob's text"
nd_recv_until a "$rob" "$rob.recv" "matt: $c2" 10 || bad "rob did not receive matt's text"

# Positive control: plaintext through the same relay, from site a's host.
control="PLAINTEXT-CONTROL-$rnd"
natlab_exec a "$nd_py" "$here/ws_pair.py" "$nd_relay_url" "control$rnd" "$control" ||
	bad "the plaintext control did not get through the relay"

# The control went last: once it is in the file, so is everything before it.
nd_wait 5 "the capture holds the control" grep -aqF "$control" "$cap"
nd_kill "$tcpdump_pid"
secret=$(sed -n 's/^ *"secret": *"\([^"]*\)".*/\1/p' "$rob/state.json")
[ -n "$secret" ] || bad "no secret in $rob/state.json"
size=$(wc -c <"$cap")
echo "capture: $size bytes on the relay host's link"
grep -aq "GET /relay/" "$cap" || bad "the capture lacks the relay's HTTP upgrades: it does not hold the relay traffic"
grep -aqF "$control" "$cap" || bad "the capture lacks the plaintext control: the check could not see a leak"
grep -aqF "$c1" "$cap" && bad "rob's text appears in plaintext in the relay capture"
grep -aqF "$c2" "$cap" && bad "matt's text appears in plaintext in the relay capture"
grep -aqF "CANARY" "$cap" && bad "part of a text (CANARY) appears in the relay capture"
[ -n "$secret" ] && grep -aqF -- "$secret" "$cap" && bad "the mesh join secret appears in the relay capture"

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out" "$nd_relay_log"; do
		echo "== ${f##*/}"
		tail -n 20 "$f"
	done
	echo "no_plaintext: FAILED"
	exit 1
fi
echo "no_plaintext: the relay saw no plaintext"
exit 0
