#!/bin/sh
# tests/node/loopback.sh BINARY: the whole user journey on one machine, no
# root: our relay and STUN server on 127.0.0.1, Rob and Matt as two nodes
# with their own ATMOSPHERE_HOME and UDP port.
#
#  init (state files 0600 in a 0700 directory; a second init is refused),
#  serve, join (short code MESH-XXXX-XXXX-XXXX shown alike on both sides),
#  join CODE, peers (both connected, both ways), send/recv both ways,
#  recv --follow, ping both ways, send to an unknown peer fails; then Rob's
#  serve restarts and Matt's node restarts as `serve`: each time the peers
#  reconnect without a new join and messages flow again. Rob's mesh lists a
#  second relay that is down: its failure is logged once per link, at the
#  default level, and everything works through the other.
# About 15 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: loopback.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/nodes.sh"
nd_begin "$bin"
dump() {
	for f in "$rob".log* "$matt".out*; do
		echo "== ${f##*/}"
		tail -n 20 "$f"
	done
}

nd_loopback_servers
rob=$nd_tmp/rob
matt=$nd_tmp/matt
rport=$(nd_free_udp)
mport=$(nd_free_udp)
[ "$rport" != "$mport" ] || mport=$(nd_free_udp)

# --- init -----------------------------------------------------------------------
# A second relay that is down (nothing listens on port 9): the node says
# so at the default log level, once per link, and works through the other.
dead_relay=ws://127.0.0.1:9
nd_run - "$rob" init lab --relay "$nd_relay_url" --relay "$dead_relay" $nd_stun_args --public-ip 127.0.0.1 \
	--port "$rport" --name rob >"$rob.init" 2>&1 || { cat "$rob.init"; exit 1; }
grep -q "Created mesh: lab" "$rob.init" || bad "init output: $(cat "$rob.init")"
[ "$(stat -c %a "$rob")" = 700 ] || bad "state directory mode $(stat -c %a "$rob"), want 700"
[ "$(stat -c %a "$rob/state.json")" = 600 ] || bad "state.json mode $(stat -c %a "$rob/state.json"), want 600"
if nd_run - "$rob" init other --port "$rport" >"$rob.init2" 2>&1; then
	bad "a second init replaced the mesh without --force"
fi
grep -q "force" "$rob.init2" || bad "the refused init does not mention --force: $(cat "$rob.init2")"

# --- serve, join, join CODE -------------------------------------------------------------
nd_start - "$rob" "$rob.log" serve
rob_pid=$nd_pid
nd_wait 10 "rob's node answers" nd_up - "$rob" || { dump; exit 1; }
nd_run - "$rob" join >"$rob.code" 2>&1 || bad "join (print a code) failed: $(cat "$rob.code")"
code=$(sed -n 's/^Full code: //p' "$rob.code")
short=$(grep -E '^MESH-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$' "$rob.code")
[ -n "$code" ] && [ -n "$short" ] || { echo "FAIL: no code in: $(cat "$rob.code")"; exit 1; }
t0=$(nd_ms)
nd_start - "$matt" "$matt.out" join "$code" --port "$mport" --name matt
matt_pid=$nd_pid
if nd_wait 20 "both connected" nd_both_connected - "$rob" - "$matt"; then
	echo "joined: both connected after $(($(nd_ms) - t0)) ms ($(nd_peer - "$rob" matt) / $(nd_peer - "$matt" rob))"
else
	bad "not connected: rob sees '$(nd_peer - "$rob" matt)', matt sees '$(nd_peer - "$matt" rob)'"
	dump
	exit 1
fi
grep -q "Join code $short for mesh 'lab'" "$matt.out" || bad "matt does not show the short code $short"
grep -q "WARN relay $dead_relay: cannot connect: .*refused" "$rob.log" ||
	bad "the dead relay's failure is not said at the default level: $(grep "$dead_relay" "$rob.log" | head -3)"
said=$(grep -c "relay $dead_relay: cannot connect" "$rob.log")
[ "$said" -le 8 ] || bad "the dead relay is reported $said times: once per link and outage is enough"
nd_wait 10 "join finished" grep -q "✓ Joined mesh: lab" "$matt.out" || bad "no '✓ Joined mesh: lab'"
# The times `peers --json` gives (ms since the epoch): the first session
# and the direct path opened after `join CODE` started, and not in the future.
t1=$(nd_ms)
times=$(nd_run - "$matt" peers --json | jq -r '.peers[] | select(.name == "rob") |
	"\(.first_session_at_ms) \(.direct_since_ms) \(.path)"')
set -- $times
if [ $# -ne 3 ] || [ "$1" = null ] || [ "$1" -lt "$t0" ] || [ "$1" -gt "$t1" ]; then
	bad "matt's first_session_at_ms for rob is '${1:-}', want one in [$t0, $t1] ($times)"
elif [ "$3" = direct ] || [ "$3" = lan ]; then
	[ "$2" != null ] && [ "$2" -ge "$t0" ] && [ "$2" -le "$t1" ] ||
		bad "matt's direct_since_ms for rob is '$2' on a $3 path, want one in [$t0, $t1]"
else
	[ "$2" = null ] || bad "direct_since_ms is '$2' on a $3 path, want null"
fi
if [ $# -eq 3 ] && [ "$1" != null ]; then
	[ "$2" = null ] && d=- || d=$(($2 - t0))
	echo "matt: first session $(($1 - t0)) ms, direct path $d ms after join CODE started"
fi
nd_run - "$rob" peers | grep -q "matt .*connected" || bad "'peers' (text) on rob: $(nd_run - "$rob" peers)"

# roundtrip TAG: a message each way, received.
roundtrip() {
	nd_run - "$rob" send matt "$1 from rob" >/dev/null 2>&1 || bad "$1: rob's send failed"
	nd_run - "$matt" send rob "$1 from matt" >/dev/null 2>&1 || bad "$1: matt's send failed"
	nd_recv_until - "$matt" "$matt.recv" "rob: $1 from rob" 10 || bad "$1: matt did not receive"
	nd_recv_until - "$rob" "$rob.recv" "matt: $1 from matt" 10 || bad "$1: rob did not receive"
}
roundtrip first
# Each message once: a second recv prints nothing new.
[ -z "$(nd_run - "$matt" recv)" ] || bad "recv printed a message twice"
out=$(nd_run - "$rob" ping matt 2>&1) || bad "rob's ping: $out"
echo "$out"
out=$(nd_run - "$matt" ping rob 2>&1) || bad "matt's ping: $out"
echo "$out"
if out=$(nd_run - "$rob" send nobody "lost" 2>&1); then
	bad "send to an unknown peer succeeded: $out"
fi

# recv --follow gets a message as it arrives.
nd_start - "$matt" "$matt.follow" recv --follow
follow_pid=$nd_pid
sleep_until_following() { nd_run - "$rob" send matt "followed" >/dev/null 2>&1 && grep -q "rob: followed" "$matt.follow"; }
nd_wait 10 "recv --follow shows a message" sleep_until_following || bad "recv --follow showed nothing"
nd_kill "$follow_pid"

# --- restarts ---------------------------------------------------------------------------
nd_kill "$rob_pid"
nd_start - "$rob" "$rob.log2" serve
rob_pid=$nd_pid
t0=$(nd_ms)
if nd_wait 20 "reconnected after rob's restart" nd_both_connected - "$rob" - "$matt"; then
	echo "rob restarted: reconnected after $(($(nd_ms) - t0)) ms"
else
	bad "no reconnection after rob's serve restarted: rob '$(nd_peer - "$rob" matt)', matt '$(nd_peer - "$matt" rob)'"
fi
roundtrip "after rob's restart"

nd_kill "$matt_pid"
nd_start - "$matt" "$matt.out2" serve
matt_pid=$nd_pid
t0=$(nd_ms)
if nd_wait 20 "reconnected after matt's restart" nd_both_connected - "$rob" - "$matt"; then
	echo "matt restarted (serve): reconnected after $(($(nd_ms) - t0)) ms"
else
	bad "no reconnection after matt's node restarted: rob '$(nd_peer - "$rob" matt)', matt '$(nd_peer - "$matt" rob)'"
fi
roundtrip "after matt's restart"
out=$(nd_run - "$matt" ping rob 2>&1) || bad "ping after the restarts: $out"

if [ "$fail" -ne 0 ]; then
	dump
	echo "loopback: FAILED"
	exit 1
fi
echo "loopback: the journey works on loopback"
exit 0
