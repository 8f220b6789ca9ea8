#!/bin/sh
# tests/node/lazy_two_relays.sh BINARY: idle pair links close on every
# relay at once (node/lazy.h, docs/NODE.md "How many members"), on
# loopback (no root).
#
# A mesh with two relays: each lazy node keeps one pair link per relay
# with a member it uses. Rob and Matt (serve --relay-only, links forced
# lazy, 3 s idle time, no ring neighbours) exchange a text, so both hold
# pair links on both relays; then both go idle. One asks the other whether
# the idle links may close; the other agrees and closes both of its links,
# and the relay closes each of the asker's, one Close per relay. Checked:
#  - both sides end with no pair link, and the asker's log says each of
#    its two links closed because the other side closed;
#  - no pair link comes up again in the 3 s after (the asker took the
#    first Close as the whole answer and reconnected the second relay's
#    link, only to close it at its next tick);
#  - a text sent afterwards still arrives (a new call).
# About 20 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: lazy_two_relays.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/nodes.sh"
nd_begin "$bin"
nd_loopback_servers
nd_relay2_start
export ATMOSPHERE_LOG=debug ATMOSPHERE_LAZY_LINKS_AT=0 ATMOSPHERE_LAZY_IDLE_MS=3000 ATMOSPHERE_LAZY_RING=0

nd_pair_relay_only "$nd_relay_url" "$nd_relay2_url"
nd_wait 30 "rob and matt connected" eval 'nd_connected - "$rob" matt && nd_connected - "$matt" rob' ||
	bad "not connected: rob sees '$(nd_peer - "$rob" matt)'"

pair_links() { nd_field - "$1" self lazy_links.pair_links; }
both_two() { [ "$(pair_links "$rob")" = 2 ] && [ "$(pair_links "$matt")" = 2 ]; }
idle_both() { [ "$(pair_links "$rob")" = 0 ] && [ "$(pair_links "$matt")" = 0 ]; }
ups() { grep -c "relay link .* up (node-" "$1"; }
closed_here() { grep -c "idle: its pair link on .* closes (closed on its side)" "$1"; }

out=$(nd_run - "$rob" send matt "hello on two relays" 2>&1) || bad "rob's send failed: $out"
nd_recv_until - "$matt" "$matt.recv" "rob: hello on two relays" 10 || bad "matt did not receive rob's text"
nd_wait 10 "a pair link on each relay, both sides" both_two ||
	bad "pair links: rob $(pair_links "$rob"), matt $(pair_links "$matt")"
r0=$(closed_here "$rob.log")
m0=$(closed_here "$matt.out")
nd_wait 20 "both idle: no pair link" idle_both ||
	bad "after the idle time: rob $(pair_links "$rob"), matt $(pair_links "$matt") pair links"
if [ "$(closed_here "$rob.log")" -gt "$r0" ]; then asker=rob alog=$rob.log n0=$r0; else asker=matt alog=$matt.out n0=$m0; fi
n=$(($(closed_here "$alog") - n0))
echo "idle: $asker asked; $n of its pair links closed because the other side closed"
[ "$n" -eq 2 ] || bad "$asker's log says $n pair links closed on the other side's answer, not 2 (one per relay): $(grep "relay links" "$alog" | tail -n 6)"
u0=$(($(ups "$rob.log") + $(ups "$matt.out")))
sleep 3
u1=$(($(ups "$rob.log") + $(ups "$matt.out")))
[ "$u1" -eq "$u0" ] || bad "$((u1 - u0)) pair link(s) came up again after the idle close: $(grep -h "relay link .* up (node-\|relay links" "$rob.log" "$matt.out" | tail -n 6)"
idle_both || bad "pair links open again: rob $(pair_links "$rob"), matt $(pair_links "$matt")"

out=$(nd_run - "$matt" send rob "after the close" 2>&1) || bad "matt's send after the idle close failed: $out"
nd_recv_until - "$rob" "$rob.recv" "matt: after the close" 10 || bad "rob did not receive matt's text after the idle close"

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out"; do
		echo "== ${f##*/}"
		grep "relay links\|relay link .* up" "$f" | tail -n 20
	done
	echo "lazy_two_relays: FAILED"
	exit 1
fi
echo "lazy_two_relays: idle pair links close on both relays at once"
exit 0
