#!/bin/sh
# tests/node/overlay_relay.sh BINARY: the IP overlay on a relayed pair
# (issue 11, "Tests"): Rob and Matt both behind symmetric NATs (no hole
# punching can open a path: every mapping is per destination and random),
# both running serve --tun. Checked:
#  - both list the other as connected on the relay path;
#  - ping over the overlay's IPv4 addresses answers;
#  - an iperf3 TCP transfer (3 s) from Rob to a server on Matt's overlay
#    address moves bytes (> 0 received) and ends without an error (a reset
#    or a stall would be iperf3's error);
#  - the pair is still on the relay afterwards;
#  - with the TUN's offloads on, the receiver coalesced some of the
#    transfer's segments (a relay link's reads are batches, overlay/gro.h).
#    GRO must say on or off (overlay.gro.enabled in peers --json); off is
#    accepted only for a reason node/overlay.c documents and peers --json
#    or the environment shows: the TUN took no offloads
#    (overlay.offload.enabled false), ATMOSPHERE_TUN_GRO or
#    ATMOSPHERE_TUN_OFFLOAD is "off", or the kernel refused a coalesced
#    write (overlay.gro.fallbacks > 0); anything else fails.
# Needs root and iperf3 (Debian package iperf3, in .ci/deps); exits 77
# otherwise. About 30 s.
set -u
bin=${1:?usage: overlay_relay.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
command -v iperf3 >/dev/null || { echo "SKIP: iperf3 is not installed (apt-get install iperf3)"; exit 77; }
command -v ping >/dev/null || { echo "SKIP: ping is not installed (apt-get install iputils-ping)"; exit 77; }
nd_begin "$bin" lab

nd_lab_public
natlab_site a symmetric
natlab_site b symmetric
rob=$nd_tmp/rob
matt=$nd_tmp/matt
ND_SERVE_ARGS=--tun ND_JOIN_ARGS=--tun nd_pair_up a "$rob" b "$matt" 7777 7777 || exit 1
relay_both() { nd_path_is a "$rob" matt relay && nd_path_is b "$matt" rob relay; }
nd_wait 40 "both connected on the relay" relay_both ||
	bad "not connected on the relay: rob sees '$(nd_peer a "$rob" matt)', matt sees '$(nd_peer b "$matt" rob)'"

m4=$(nd_field a "$rob" matt overlay_ipv4)
r4=$(nd_field b "$matt" rob overlay_ipv4)
echo "rob $r4, matt $m4"
[ -n "$m4" ] && [ -n "$r4" ] || bad "peers --json lacks overlay addresses"
nd_wait 10 "matt's atmosphere0 has $m4" natlab_exec b sh -c "ip -4 addr show atmosphere0 | grep -q '$m4'" ||
	bad "matt's atmosphere0 lacks $m4"
natlab_exec a ping -c 3 -i 0.2 -W 3 "$m4" >"$nd_tmp/ping.out" 2>&1 || bad "ping $m4 over the relay: $(cat "$nd_tmp/ping.out")"

# iperf3 on Matt's overlay address (one test, then it exits), Rob's client.
nd_spawn b "$nd_tmp/iperf-s.out" iperf3 -s -1 -B "$m4" -p 5201
# (iperf3's own "Server listening" sits in its stdio buffer: ask the kernel.)
nd_wait 10 "iperf3 server listening" sh -c "ip netns exec '$(natlab_ns b)' ss -ltnH 'sport = :5201' | grep -q ." ||
	bad "iperf3 -s did not start: $(cat "$nd_tmp/iperf-s.out")"
natlab_exec a timeout 30 iperf3 -c "$m4" -p 5201 -t 3 -J >"$nd_tmp/iperf.json" 2>"$nd_tmp/iperf.err"
rc=$?
res=$("$nd_py" -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print("0 unreadable-json"); sys.exit()
err = d.get("error", "")
end = d.get("end", {})
print(int(end.get("sum_received", {}).get("bytes", 0)), int(end.get("sum_sent", {}).get("retransmits", 0)),
      repr(err) if err else "")' "$nd_tmp/iperf.json")
set -- $res
echo "iperf3 over the relayed overlay: ${1:-0} bytes received in 3 s, ${2:-?} retransmits, exit $rc"
[ "$rc" -eq 0 ] || bad "iperf3 exited $rc: $(cat "$nd_tmp/iperf.err") ${3:-}"
[ -n "${3:-}" ] && bad "iperf3 reported an error: $3"
[ "${1:-0}" -gt 0 ] 2>/dev/null || bad "iperf3 moved no bytes over the overlay"
relay_both || bad "not on the relay path after the transfer: rob sees '$(nd_peer a "$rob" matt)'"
# The relay link's reader hands what one read brought to the overlay as a
# batch: with GRO on (the TUN's offloads), some of Matt's TUN writes carried
# several of the transfer's segments.
gro=$(nd_field b "$matt" self overlay.gro)
echo "matt's GRO over the relay: $gro, offloads: $(nd_field b "$matt" self overlay.offload)"
gro_on=$(nd_field b "$matt" self overlay.gro.enabled)
case $gro_on in
True)
	[ "$(nd_field b "$matt" self overlay.gro.writes)" -gt 0 ] 2>/dev/null || bad "no coalesced TUN write on the relay path: $gro" ;;
False)
	# Off only for a reason node/overlay.c gives (node_overlay_start,
	# tun_write): say which, or fail.
	why=
	[ "$(nd_field b "$matt" self overlay.offload.enabled)" = False ] && why="the TUN has no offloads (overlay.offload.enabled false)"
	[ "${ATMOSPHERE_TUN_OFFLOAD:-}" = off ] && why="ATMOSPHERE_TUN_OFFLOAD=off"
	[ "${ATMOSPHERE_TUN_GRO:-}" = off ] && why="ATMOSPHERE_TUN_GRO=off"
	[ "$(nd_field b "$matt" self overlay.gro.fallbacks)" -gt 0 ] 2>/dev/null && why="the kernel refused a coalesced write (overlay.gro.fallbacks)"
	if [ -n "$why" ]; then
		echo "(GRO is off here: $why; not checked)"
	else
		bad "GRO is off on matt's node for no reason it documents: $gro, offloads $(nd_field b "$matt" self overlay.offload)"
	fi ;;
*)
	bad "peers --json has no overlay.gro.enabled (got '$gro_on'): $gro" ;;
esac

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out" "$nd_tmp/iperf.err"; do
		echo "== ${f##*/}"
		tail -n 20 "$f"
	done
	echo "overlay_relay: FAILED"
	exit 1
fi
echo "overlay_relay: iperf3 TCP over a relayed symmetric <-> symmetric overlay"
exit 0
