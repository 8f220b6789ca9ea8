#!/bin/sh
# tests/node/shutdown.sh BINARY [ROUNDS]: an orderly shutdown of `atmosphere serve`
# (issue 11). Loopback, no root; needs /usr/bin/python3 with aiohttp.
#
# The relay is tests/node/min_relay.py, which logs the code of each
# client's Close frame (1006 when a connection ends without one). Rob's
# node (STUN refresher running; --no-port-mapping: deleting a mapping at
# exit is portmap/'s own bounded wait, not measured here) serves with a pending invite (its inbox links wait on the relay) and
# a `recv --follow` client on its control socket. For SIGTERM, then SIGINT
# on a restarted node:
#  - the process exits 0 within 2.5 s (the runtime's 1.5 s grace and a
#    margin), and it warns past 1.4 s (something waited for the cancel;
#    50-210 ms measured, 1.54 s before the node interrupted its control
#    clients; about one stop in fifteen still waits: docs/NODE.md);
#  - its log says what it closes;
#  - it removed control.sock itself;
#  - every relay link it had ended with a Close 1000 (none 1006);
#  - its UDP port is free again (the socket closed);
#  - the node then starts again on the same port and state.
# ROUNDS (default 2) stops alternate SIGTERM and SIGINT; the stop times are
# printed with their median and maximum (`shutdown.sh BIN 50` measures the
# distribution). About 15 s for 2. Exit 0 pass, 1 fail, 77 skip.
set -u
bin=${1:?usage: shutdown.sh BINARY [ROUNDS]}
rounds=${2:-2}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/nodes.sh"
"$nd_py" -c 'import aiohttp' 2>/dev/null || { echo "SKIP: $nd_py lacks aiohttp (python3-aiohttp)"; exit 77; }
nd_begin "$bin"
# Our STUN server: the node refreshes its endpoint through its own UDP
# socket, so the refresher is running when the signal comes.
nd_loopback_servers
relay_log=$nd_tmp/min_relay.out
nd_spawn - "$relay_log" "$nd_py" "$here/min_relay.py" 127.0.0.1 0
nd_wait 15 "min_relay.py listening" grep -qs "^min relay listening on 127.0.0.1:" "$relay_log" || { cat "$relay_log"; exit 1; }
url=ws://127.0.0.1:$(sed -n 's/^min relay listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$relay_log")

rob=$nd_tmp/rob
port=$(nd_free_udp)
nd_run - "$rob" init lab --relay "$url" $nd_stun_args --port "$port" --name rob >"$rob.init" 2>&1 ||
	{ cat "$rob.init"; exit 1; }

udp_free() {
	"$nd_py" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.bind(("0.0.0.0", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$port"
}
links_up() { # the inbox links on the relay, from self.relays
	[ "$(nd_run - "$rob" peers --json | "$nd_py" -c '
import json, sys
print(sum(r.get("links_up", r.get("up", 0)) for r in json.load(sys.stdin)["self"]["relays"]))')" -ge "$1" ] 2>/dev/null
}

round=0
times=
while [ "$round" -lt "$rounds" ]; do
	round=$((round + 1))
	sig=TERM
	[ $((round % 2)) -eq 0 ] && sig=INT
	log=$rob.$sig.log
	nd_start - "$rob" "$log" serve --no-port-mapping
	pid=$nd_pid
	nd_wait 10 "rob's node answers" nd_up - "$rob" || { cat "$log"; exit 1; }
	# A pending invite: its inbox (and short-code) links wait on the relay.
	[ "$round" -eq 1 ] && { nd_run - "$rob" join >"$rob.code" 2>&1 || bad "rob's join: $(cat "$rob.code")"; }
	# Both links up (the invite's inbox and its short code's rendezvous): a
	# link still connecting or in its reconnect backoff is not interrupted
	# and holds the exit until the runtime's grace (1.5 s) cancels it.
	want=1 # later rounds: a restart voids the short code; its inbox stays
	[ "$round" -eq 1 ] && want=2
	nd_wait 10 "links up on the relay" links_up "$want" || bad "relay links not up: $(nd_run - "$rob" peers --json)"
	# A control client that never hangs up.
	nd_start - "$rob" "$nd_tmp/follow.$sig" recv --follow
	follow_pid=$nd_pid
	before=$(grep -c "client left" "$relay_log")
	t0=$(nd_ms)
	kill -"$sig" "$pid"
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	ms=$(($(nd_ms) - t0))
	if kill -0 "$pid" 2>/dev/null; then
		bad "SIG$sig: still running after $ms ms"
		kill -KILL "$pid"
	fi
	wait "$pid"
	rc=$?
	echo "SIG$sig: exit $rc after $ms ms"
	times="$times $ms"
	[ "$rc" -eq 0 ] || bad "SIG$sig: exit $rc, want 0: $(tail -5 "$log")"
	# Known gap (docs/NODE.md, "Stopping the node"): now and then one
	# coroutine still waits out the runtime's 1.5 s grace. Warn, and fail
	# only past the grace and a margin.
	[ "$ms" -lt 1400 ] || echo "WARN: SIG$sig: took $ms ms: something waited for the runtime's grace period"
	[ "$ms" -lt 2500 ] || bad "SIG$sig: took $ms ms, past the runtime's grace period (1.5 s) and a margin"
	grep -q "stopping: closing [0-9]* relay links\{0,1\}, the control socket and the UDP socket" "$log" ||
		bad "SIG$sig: the log does not say what it closes: $(tail -3 "$log")"
	[ -e "$rob/control.sock" ] && bad "SIG$sig: control.sock left behind"
	udp_free || bad "SIG$sig: UDP port $port still bound"
	nd_wait 5 "the relay saw the links end" sh -c "[ \$(grep -c 'client left' '$relay_log') -gt $before ]" ||
		bad "SIG$sig: the relay saw no link end"
	ended=$(sed -n "$((before + 1)),\$p" "$relay_log" | grep "client left")
	echo "$ended" | sed 's/^/  relay: /'
	echo "$ended" | grep -v -q "(close code 1000)" && bad "SIG$sig: a relay link ended without Close 1000"
	kill "$follow_pid" 2>/dev/null
	grep "still running" "$log" | sed 's/^/  /'
done
echo "stop times (ms):$times"
echo "$times" | tr ' ' '\n' | sed '/^$/d' | sort -n | awk '{ a[NR] = $1 } END { printf "stops: %d, median %d ms, max %d ms\n", NR, a[int((NR + 1) / 2)], a[NR] }'

if [ "$fail" -ne 0 ]; then
	for f in "$rob.TERM.log" "$rob.INT.log" "$relay_log"; do
		echo "== ${f##*/}"
		tail -n 20 "$f"
	done
	echo "shutdown: FAILED"
	exit 1
fi
echo "shutdown: SIGTERM and SIGINT end the node in order: exit 0, socket file gone, Close 1000 on every relay link"
exit 0
