#!/bin/sh
# tests/node/lazy_links.sh BINARY: lazy relay links and doorbells
# (node/lazy.h, docs/NODE.md "How many members"), on loopback (no root).
#
# Lazy mode is forced at any size (ATMOSPHERE_LAZY_LINKS_AT=0), with a 4 s
# idle time and no ring neighbours. Rob, Matt and Ana form a mesh (Matt and
# Ana joined through Rob and learned of each other); then all three restart
# as `serve --relay-only` (no direct paths: the relay or nothing).
#  1. Idle, each node holds its doorbell and no pair link at all.
#  2. `send ana` on Matt's node calls Ana (a pair link and a knock at her
#     doorbell); the message arrives; Ana's log shows the knock.
#  3. After the idle time both sides close the pair links again, and Ana's
#     doorbell is up again for the next caller: Ana's `send matt` calls Matt
#     and arrives.
#  3b. A call that finds no one is made again: Ana stops, Matt's send fails;
#     Ana comes back and Matt's next send calls again and arrives.
#  3c. A client that takes Ana's doorbell (it knows the id, as a member or
#     the relay could) and never knocks is dropped within a few seconds,
#     and Matt's call then gets through.
#  3d. Idle pair links close on both sides or neither: Matt, restarted with
#     a 60 s idle time, calls Ana; when her side goes idle she asks him, he
#     still uses the links, and both keep them.
#  3e. Matt (also capped at 1 member linked at once) cannot link Rob while
#     Ana was used within 10 s, and says why; later Ana makes room.
#  3f. The other way round: Matt, at his cap with Rob used within 10 s, is
#     called by Ana; he tells her why he cannot link her, and her send fails
#     at once saying so; once Rob has been unused for 10 s, Ana's next call
#     makes Matt ask Rob for the room, and links her when it is free.
#  4. With one ring neighbour on each side (ATMOSPHERE_LAZY_RING=1: in a mesh
#     of three, everyone), Matt and Ana connect over the relay with no
#     traffic at all.
#  5. Matt stops; Ana rotates the mesh secret and keeps a link on the old
#     epoch's pair session with Matt, her ring neighbour; Matt comes back
#     with the old secret, is handed the new one there, and his message
#     arrives over the new epoch's pair session.
# About 80 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: lazy_links.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/nodes.sh"
nd_begin "$bin"
# On failure: every node's decisions about its links in full (the races
# this test guards against need the whole sequence), then each log's end.
dump() {
	for f in "$nd_tmp"/*.log* "$nd_tmp"/*.out; do
		[ -f "$f" ] || continue
		echo "== ${f##*/}: relay links"
		grep -E "relay links|relay link ws|relay ws|knocked|session [0-9a-f]{8}" "$f" | tail -n 120
		echo "== ${f##*/}: the end"
		tail -n 30 "$f"
	done
}

nd_loopback_servers
for n in rob matt ana; do
	eval "$n=\$nd_tmp/$n"
	eval "${n}_port=\$(nd_free_udp)"
done
export ATMOSPHERE_LOG=debug ATMOSPHERE_LAZY_LINKS_AT=0 ATMOSPHERE_LAZY_IDLE_MS=4000 ATMOSPHERE_LAZY_RING=0

linked() {
	nd_connected - "$1" "$(basename "$2")" && nd_connected - "$2" "$(basename "$1")"
}
# lazy HOME FIELD: a field of HOME's self.lazy_links.
lazy() {
	nd_field - "$1" self "lazy_links.$2"
}
lazy_is() { [ "$(lazy "$1" "$2")" = "$3" ]; }

# --- the mesh ----------------------------------------------------------------------
nd_run - "$rob" init lab --relay "$nd_relay_url" $nd_stun_args --public-ip 127.0.0.1 --port "$rob_port" \
	--name rob >"$rob.init" 2>&1 || { cat "$rob.init"; exit 1; }
nd_start - "$rob" "$rob.log" serve
rob_pid=$nd_pid
nd_wait 10 "rob's node answers" nd_up - "$rob" || { dump; exit 1; }
c1=$(nd_code - "$rob")
c2=$(nd_code - "$rob")
[ -n "$c1" ] && [ -n "$c2" ] || { echo "FAIL: no codes"; dump; exit 1; }
nd_start - "$matt" "$matt.out" join "$c1" --port "$matt_port" --name matt
matt_pid=$nd_pid
nd_wait 20 "matt joined" linked "$rob" "$matt" || { dump; exit 1; }
nd_start - "$ana" "$ana.out" join "$c2" --port "$ana_port" --name ana
ana_pid=$nd_pid
nd_wait 20 "ana joined" linked "$rob" "$ana" || { dump; exit 1; }
nd_wait 20 "matt and ana learned of each other" linked "$matt" "$ana" || { dump; exit 1; }
nd_kill "$rob_pid" "$matt_pid" "$ana_pid"

# --- restart, relay only ---------------------------------------------------------
start_all() { # start_all SUFFIX
	nd_start - "$rob" "$rob.log$1" serve --relay-only
	rob_pid=$nd_pid
	nd_start - "$matt" "$matt.log$1" serve --relay-only
	matt_pid=$nd_pid
	nd_start - "$ana" "$ana.log$1" serve --relay-only
	ana_pid=$nd_pid
	for h in "$rob" "$matt" "$ana"; do
		nd_wait 10 "${h##*/} answers" nd_up - "$h" || { dump; exit 1; }
	done
}
start_all 2

# 1. idle: a doorbell each, no pair link
for h in "$matt" "$ana"; do
	nd_wait 10 "${h##*/}: lazy, doorbell up" eval 'lazy_is "$h" enabled True && lazy_is "$h" doorbells_up 1' ||
		bad "${h##*/}: lazy_links $(nd_run - "$h" peers --json | jq -c .self.lazy_links)"
done
sleep 2
for h in "$matt" "$ana"; do
	[ "$(lazy "$h" pair_links)" = 0 ] || bad "${h##*/} holds pair links while idle: $(nd_run - "$h" peers --json | jq -c .self.lazy_links)"
done
nd_connected - "$matt" ana && bad "matt lists ana as connected with no link and no traffic"

# 2. matt calls ana
t0=$(nd_ms)
out=$(nd_run - "$matt" send ana "hello through the doorbell" 2>&1) || bad "matt's send to ana failed: $out"
echo "matt -> ana: $out, $(($(nd_ms) - t0)) ms with the call"
nd_recv_until - "$ana" "$ana.recv" "matt: hello through the doorbell" 10 || bad "ana did not receive matt's message"
grep -q "matt knocked at our doorbell" "$ana.log2" || bad "ana's log shows no knock"
[ "$(lazy "$matt" pair_links)" -ge 1 ] 2>/dev/null || bad "matt opened no pair link for the call"

# 3. idle again: pair links close, the doorbell is back; ana calls matt
if nd_wait 15 "pair links closed on both sides" \
	eval 'lazy_is "$matt" pair_links 0 && lazy_is "$ana" pair_links 0 && lazy_is "$ana" doorbells_up 1 && lazy_is "$matt" doorbells_up 1'; then
	echo "idle: pair links closed, doorbells up"
else
	bad "after the idle time: matt $(nd_run - "$matt" peers --json | jq -c .self.lazy_links), ana $(nd_run - "$ana" peers --json | jq -c .self.lazy_links)"
fi
grep -q "idle: its pair link on\\|idle on both sides" "$matt.log2" || bad "matt's log does not say the idle pair link closed"
grep -q "idle on both sides: the pair links close" "$matt.log2" "$ana.log2" ||
	bad "neither side agreed to an idle close: $(grep -h 'relay links' "$matt.log2" "$ana.log2" | tail -n 6)"
out=$(nd_run - "$ana" send matt "and back" 2>&1) || bad "ana's send to matt failed: $out"
nd_recv_until - "$matt" "$matt.recv" "ana: and back" 10 || bad "matt did not receive ana's message"

# 3b. a call that found no one is made again
nd_wait 15 "matt's pair links idle" lazy_is "$matt" pair_links 0 || bad "matt's pair links did not close"
nd_kill "$ana_pid"
if out=$(nd_run - "$matt" send ana "while away" 2>&1); then
	bad "matt's send to ana succeeded while she was stopped: $out"
fi
nd_start - "$ana" "$ana.log2b" serve --relay-only
ana_pid=$nd_pid
nd_wait 10 "ana answers again" nd_up - "$ana" || { dump; exit 1; }
nd_wait 10 "ana's doorbell up" lazy_is "$ana" doorbells_up 1 || bad "ana's doorbell is not up after her restart"
out=$(nd_run - "$matt" send ana "after the retry" 2>&1) || bad "matt's send after ana came back failed: $out"
nd_recv_until - "$ana" "$ana.recv" "matt: after the retry" 10 || bad "ana did not receive matt's retried call"

# 3c. a squatter on ana's doorbell is dropped; callers get through
nd_wait 15 "matt and ana idle again" eval 'lazy_is "$matt" pair_links 0 && lazy_is "$ana" pair_links 0' ||
	bad "pair links did not close before the squat"
/usr/bin/python3 "$here/doorbell_squat.py" "$ana" "$nd_relay_url" 12 >"$nd_tmp/squat.out" 2>&1 &
squat_pid=$!
sleep 1
out=$(nd_run - "$matt" send ana "past the squatter" 2>&1) ||
	out=$(nd_run - "$matt" send ana "past the squatter" 2>&1) || bad "matt's send failed with ana's doorbell taken: $out"
nd_recv_until - "$ana" "$ana.recv" "matt: past the squatter" 10 || bad "ana did not receive matt's message past the squatter"
wait "$squat_pid"
echo "squatter: $(cat "$nd_tmp/squat.out")"
grep -q "^dropped after [0-9.]* s (paired: True)" "$nd_tmp/squat.out" ||
	bad "the squatter was not paired and then dropped: $(cat "$nd_tmp/squat.out")"

# 3d. idle links close on both sides or neither: matt, back with a 60 s
#     idle time, calls ana (4 s); when her side goes idle she asks him, he
#     still uses them, and both keep them (closing hers alone lost what he
#     had in flight)
nd_kill "$matt_pid"
ATMOSPHERE_LAZY_IDLE_MS=60000 ATMOSPHERE_LAZY_MAX_LINKED=1 nd_start - "$matt" "$matt.log3d" serve --relay-only
matt_pid=$nd_pid
nd_wait 10 "matt answers again" nd_up - "$matt" || { dump; exit 1; }
out=$(nd_run - "$matt" send ana "kept awake" 2>&1) || bad "matt's send (60 s idle) failed: $out"
nd_recv_until - "$ana" "$ana.recv" "matt: kept awake" 10 || bad "ana did not receive matt's message (60 s idle)"
if nd_wait 15 "ana asked matt and kept the links" grep -q "matt still uses the pair links: kept" "$ana.log2b"; then
	sleep 2
	[ "$(lazy "$ana" pair_links_up)" -ge 1 ] 2>/dev/null && nd_connected - "$ana" matt ||
		bad "ana's links with matt closed although he still uses them: $(nd_run - "$ana" peers --json | jq -c .self.lazy_links)"
	grep -q "ana idle on both sides" "$matt.log3d" && bad "matt agreed to close links he still uses"
else
	bad "ana did not ask matt before closing idle links: $(grep 'relay links' "$ana.log2b" | tail -n 5)"
fi
out=$(nd_run - "$ana" send matt "still linked" 2>&1) || bad "ana's send on the kept links failed: $out"
nd_recv_until - "$matt" "$matt.recv" "ana: still linked" 10 || bad "matt did not receive ana's message on the kept links"

# 3e. the cap on members linked at once (Matt: 1): Ana, used within 10 s,
#     keeps her place and Matt's send to Rob says why it fails; once she has
#     been unused for 10 s she is asked to make room, agrees, and Rob is
#     linked
if out=$(nd_run - "$matt" send rob "no room" 2>&1); then
	bad "matt's send to rob succeeded past his cap of 1 linked member: $out"
fi
case $out in
*"linked at once already"*) echo "at the cap: $out" ;;
*) bad "matt's send refused at the cap does not say why: $out" ;;
esac
[ "$(lazy "$matt" refused)" -ge 1 ] 2>/dev/null || bad "matt's lazy_links.refused: '$(lazy "$matt" refused)'"
[ "$(lazy "$matt" pair_links)" -le 1 ] 2>/dev/null || bad "matt holds $(lazy "$matt" pair_links) pair links with a cap of 1 member"
sleep 6 # with the refused send's 5 s, Ana unused for over 10 s
out=$(nd_run - "$matt" send rob "room made" 2>&1) || bad "matt's send to rob once ana was unused failed: $out"
nd_recv_until - "$rob" "$rob.recv" "matt: room made" 10 || bad "rob did not receive matt's message once room was made"
grep -q "ana, unused for [0-9]* s, goes idle to make room for rob" "$matt.log3d" || bad "matt's log does not say ana made room"
# She agrees to Matt's question, or he to hers if it crossed his (her idle
# time is 4 s): either way both sides closed, and the place was made.
grep -q "matt idle on both sides (it needs the room)" "$ana.log2b" || grep -q "ana idle on both sides" "$matt.log3d" ||
	bad "neither ana's nor matt's log says their links closed by agreement to make room"
nd_wait 5 "ana's pair links closed" lazy_is "$ana" pair_links 0 ||
	bad "ana keeps pair links after making room: $(nd_run - "$ana" peers --json | jq -c .self.lazy_links)"

# 3f. a callee at its cap says so: Matt uses Rob (just now), Ana calls
out=$(nd_run - "$matt" send rob "still in use" 2>&1) || bad "matt's send to rob, linked, failed: $out"
t_rob=$(nd_ms)
if out=$(nd_run - "$ana" send matt "no room at matt's" 2>&1); then
	bad "ana's send to matt succeeded past his cap of 1 linked member: $out"
fi
took=$(($(nd_ms) - t_rob))
case $out in
*"links the most members it allows at once"*) echo "callee at its cap: $out (${took} ms)" ;;
*) bad "ana's send to matt at his cap does not say why: $out" ;;
esac
# At once: not the 5 s a send waits for an answer that never comes.
[ "$took" -lt 3000 ] || bad "ana's send to matt at his cap took $took ms to fail"
grep -q "ana called, but 1 members are linked at once already, the most: none can make room" "$matt.log3d" ||
	bad "matt's log does not say he refused ana's call at his cap"
nd_connected - "$matt" rob || bad "matt dropped rob, used within 10 s, for ana's call"
sleep $((12 - ($(nd_ms) - t_rob) / 1000)) # rob unused on matt's side for over 10 s
t0=$(nd_ms)
out=$(nd_run - "$ana" send matt "room at matt's" 2>&1) || bad "ana's send to matt once rob was unused failed: $out"
nd_recv_until - "$matt" "$matt.recv" "ana: room at matt's" 10 || bad "matt did not receive ana's message once he made room"
echo "callee made room: ana's send took $(($(nd_ms) - t0)) ms"
grep -q "rob, unused for [0-9]* s, goes idle to make room for ana" "$matt.log3d" || bad "matt's log does not say rob made room for ana"
# Told that he makes room, unless the place was free already when her
# session was confirmed (a race of a few ms with his tick).
grep -q "matt is at its cap of linked members: it makes room" "$ana.log2b" ||
	grep -q "a place is free already: linking ana" "$matt.log3d" ||
	bad "ana's log does not say matt told her he was making room"
grep -q "a place is free\( already\)\{0,1\}: linking ana, who called" "$matt.log3d" ||
	bad "matt's log does not say he linked ana once a place was free"

# 4. ring neighbours keep their links without traffic
nd_kill "$rob_pid" "$matt_pid" "$ana_pid"
export ATMOSPHERE_LAZY_RING=1
start_all 3
t0=$(nd_ms)
if nd_wait 20 "matt and ana linked as ring neighbours" linked "$matt" "$ana"; then
	echo "ring neighbours connected over the relay after $(($(nd_ms) - t0)) ms, no traffic"
else
	bad "ring neighbours not connected: matt $(nd_run - "$matt" peers --json | jq -c .self.lazy_links)"
fi
sleep 5 # past the idle time: ring links stay
nd_connected - "$matt" ana || bad "the ring link went idle"
[ "$(lazy "$matt" ring_neighbours)" = 2 ] || bad "matt's ring_neighbours: $(lazy "$matt" ring_neighbours), want 2"

# 5. a member away during a rotation catches up through its ring
#    neighbours' catch-up links (docs/NODE.md, "How many members")
kept() { # kept HOME: the keys of the node's state.json catch-up
	"$nd_py" -c 'import json,sys
c=json.load(open(sys.argv[1]+"/state.json")).get("catchup")
print(",".join(c["peers"]) if c else "none")' "$1"
}
catchup_links() { nd_field - "$1" "$2" catchup_links; }
matt_pub=$(nd_state_get "$matt/state.json" public_key)
nd_kill "$matt_pid"
at_matt=$(nd_secret "$matt")
out=$(nd_run - "$ana" rotate-secret --json 2>&1) || bad "rotate-secret failed: $out"
[ "$(nd_secret "$ana")" != "$at_matt" ] || bad "ana's secret did not change"
case ",$(kept "$ana")," in
*",$matt_pub,"*) ;;
*) bad "ana keeps no catch-up for matt: '$(kept "$ana")'" ;;
esac
nd_wait 15 "ana waits for matt on the old epoch's pair session" eval '[ "$(catchup_links "$ana" matt)" -ge 1 ] 2>/dev/null' ||
	bad "ana: catchup_links for matt '$(catchup_links "$ana" matt)', lazy_links $(nd_run - "$ana" peers --json | jq -c .self.lazy_links)"
nd_start - "$matt" "$matt.log5" serve --relay-only
matt_pid=$nd_pid
t0=$(nd_ms)
if nd_wait 30 "matt caught up" eval '[ "$(nd_secret "$matt")" = "$(nd_secret "$ana")" ]'; then
	echo "lazy: matt has ana's epoch $(nd_secret "$matt" | cut -d' ' -f1) $(($(nd_ms) - t0)) ms after his start"
else
	bad "matt did not catch up in lazy mode: matt '$(nd_secret "$matt")', ana '$(nd_secret "$ana")'"
fi
nd_wait 20 "ana's old-epoch link with matt closed" eval '[ "$(catchup_links "$ana" matt)" = 0 ]' ||
	bad "ana still has $(catchup_links "$ana" matt) links on the old epoch's session with matt"
nd_wait 20 "matt and ana linked on the new epoch" linked "$matt" "$ana" || bad "matt and ana not linked after the catch-up"
out=$(nd_run - "$matt" send ana "after catching up" 2>&1) || bad "matt's send after the catch-up failed: $out"
nd_recv_until - "$ana" "$ana.recv" "matt: after catching up" 10 || bad "ana did not receive matt's message after the catch-up"

if [ "$fail" -ne 0 ]; then
	dump
	echo "lazy_links: FAILED"
	exit 1
fi
echo "lazy_links: members without traffic hold no pair link; a call through the doorbell connects them"
exit 0
