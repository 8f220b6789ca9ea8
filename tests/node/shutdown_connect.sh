#!/bin/sh
# tests/node/shutdown_connect.sh BINARY [ROUNDS]: `atmosphere serve` stops
# promptly while its relay links are not up (issue 11). Loopback, no root.
#
# Rob's mesh has two relays that never let a link up:
#  - a "silent" relay: a Python listener that accepts TCP and never answers
#    the HTTP upgrade (the link waits in relay_client_connect);
#  - a "dead" relay: a closed port (the link waits in its reconnect backoff).
# A pending invite puts an inbox link on each. Each round starts the node,
# waits until the silent relay holds a connection and the dead one was
# refused, then sends SIGTERM (or SIGINT) after a varying delay and checks:
#  - exit 0 within 2.5 s (a generous bound on a noisy machine; the node
#    interrupts those waits at once, so a stop takes tens of ms);
#  - no coroutine outlived the runtime's grace period (its log would name
#    it: "still running after the grace period").
# The measured times are printed. ROUNDS (default 4) rounds, about 2 s each.
# Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: shutdown_connect.sh BINARY [ROUNDS]}
rounds=${2:-4}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/nodes.sh"
nd_begin "$bin"
nd_loopback_servers

silent_log=$nd_tmp/silent.out
nd_spawn - "$silent_log" "$nd_py" -u -c '
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
print("silent listening on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
held = []
deadline = time.monotonic() + 600
while time.monotonic() < deadline:
    s.settimeout(1)
    try:
        c, _ = s.accept()
    except socket.timeout:
        continue
    held.append(c) # never read, never answered
    print("accepted", flush=True)
'
nd_wait 10 "silent listener" grep -qs "^silent listening on" "$silent_log" || { cat "$silent_log"; exit 1; }
silent=ws://127.0.0.1:$(sed -n 's/^silent listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$silent_log")
# A closed TCP port: bind one, then let it go.
dead_port=$("$nd_py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dead=ws://127.0.0.1:$dead_port

rob=$nd_tmp/rob
port=$(nd_free_udp)
nd_run - "$rob" init lab --relay "$silent" --relay "$dead" $nd_stun_args --port "$port" --name rob >"$rob.init" 2>&1 ||
	{ cat "$rob.init"; exit 1; }

times=
i=0
while [ "$i" -lt "$rounds" ]; do
	i=$((i + 1))
	sig=TERM
	[ $((i % 2)) -eq 0 ] && sig=INT
	log=$rob.$i.log
	accepted=$(grep -c "^accepted" "$silent_log")
	nd_start - "$rob" "$log" serve --no-port-mapping
	pid=$nd_pid
	nd_wait 10 "rob's node answers" nd_up - "$rob" || { cat "$log"; exit 1; }
	[ "$i" -eq 1 ] && { nd_run - "$rob" join >"$rob.code" 2>&1 || bad "rob's join: $(cat "$rob.code")"; }
	nd_wait 10 "the silent relay holds a link" sh -c "[ \$(grep -c '^accepted' '$silent_log') -gt $accepted ]" ||
		bad "round $i: no connection reached the silent relay"
	nd_wait 10 "the dead relay refused a link" grep -qs "127.0.0.1:$dead_port: cannot connect" "$log" ||
		bad "round $i: the dead relay's link did not fail: $(tail -3 "$log")"
	# Land the signal at different points of the backoff (500 ms, 1 s, ...).
	sleep "0.$((i * 37 % 10))"
	t0=$(nd_ms)
	kill -"$sig" "$pid"
	n=0
	while kill -0 "$pid" 2>/dev/null && [ $n -lt 100 ]; do
		sleep 0.02
		n=$((n + 1))
	done
	ms=$(($(nd_ms) - t0))
	if kill -0 "$pid" 2>/dev/null; then
		bad "round $i SIG$sig: still running after $ms ms"
		kill -KILL "$pid"
	fi
	wait "$pid"
	rc=$?
	echo "round $i SIG$sig: exit $rc after $ms ms"
	times="$times $ms"
	[ "$rc" -eq 0 ] || bad "round $i SIG$sig: exit $rc, want 0: $(tail -5 "$log")"
	[ "$ms" -lt 2500 ] || bad "round $i SIG$sig: took $ms ms (bound 2500)"
	grep "still running" "$log" && bad "round $i SIG$sig: a coroutine waited for the runtime's grace period"
done
echo "stop times (ms):$times"
[ "$fail" -eq 0 ] || { echo "shutdown_connect: FAILED"; tail -n 20 "$rob.$i.log"; exit 1; }
echo "shutdown_connect: the node stops at once with links connecting and in backoff"
exit 0
