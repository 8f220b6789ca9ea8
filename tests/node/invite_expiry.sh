#!/bin/sh
# tests/node/invite_expiry.sh BINARY: an invite's inbox on the relay closes
# when the invite expires. Our relay and STUN server on 127.0.0.1, one node
# (no root). Rob's mesh has one relay; with no peer and no code, Rob keeps
# no session there. `join --expires 1m --short-expires 2s` opens the code's
# inbox and the short code's rendezvous (two waiting sessions on the
# relay); both are gone after the expiry, while a code issued with the
# default 24 h keeps its inbox. Before, an expired invite's inbox stayed
# open (and was pinged by the relay) until the node stopped.
# About 75 s (the shortest code is valid 1 min). Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: invite_expiry.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/nodes.sh"
nd_begin "$bin"
dump() {
	echo "== rob.log"
	tail -n 30 "$rob.log"
	echo "== relay /stats"
	curl -s "http://127.0.0.1:$nd_relay_port/stats"
	echo
}

nd_loopback_servers
rob=$nd_tmp/rob
rport=$(nd_free_udp)
# waiting SESSIONS: the relay's count of sessions with one client.
waiting() {
	curl -s --max-time 2 "http://127.0.0.1:$nd_relay_port/stats" |
		sed -n 's/.*"waiting_sessions": \([0-9]*\).*/\1/p'
}
waiting_is() { [ "$(waiting)" = "$1" ]; }

nd_run - "$rob" init lab --relay "$nd_relay_url" $nd_stun_args --public-ip 127.0.0.1 --port "$rport" \
	--name rob >"$rob.init" 2>&1 || { cat "$rob.init"; exit 1; }
nd_start - "$rob" "$rob.log" serve
nd_wait 10 "rob's node answers" nd_up - "$rob" || { dump; exit 1; }
sleep 1
waiting_is 0 || { dump; bad "with no code and no peer, $(waiting) waiting session(s) on the relay, want 0"; exit 1; }

nd_run - "$rob" join --expires 1m --short-expires 2s >"$rob.code" 2>&1 ||
	{ bad "join (print a code) failed: $(cat "$rob.code")"; exit 1; }
nd_wait 5 "the code's inbox and rendezvous wait on the relay" waiting_is 2 ||
	{ dump; bad "$(waiting) waiting session(s) after join, want 2"; exit 1; }
t0=$(nd_ms)
if nd_wait 70 "the expired invite's sessions closed" waiting_is 0; then
	echo "inbox and rendezvous closed $(($(nd_ms) - t0)) ms after they were seen (code valid 60 s)"
else
	dump
	bad "$(waiting) waiting session(s) 70 s after a 60 s code was issued, want 0"
fi
grep -q "an invite expired: its inbox closes" "$rob.log" || bad "the node did not log the inbox's close"

# A code still in date keeps its inbox (only the short code's rendezvous,
# 2 s, goes).
nd_run - "$rob" join --short-expires 2s >"$rob.code2" 2>&1 ||
	{ bad "join (print a code) failed: $(cat "$rob.code2")"; exit 1; }
nd_wait 5 "the new code's inbox waits on the relay" waiting_is 2 ||
	{ dump; bad "$(waiting) waiting session(s) after the second join, want 2"; }
sleep 6
waiting_is 1 || { dump; bad "$(waiting) waiting session(s) with a 24 h code in date, want 1 (its inbox)"; }
if [ "$fail" -ne 0 ]; then
	echo "invite_expiry: FAILED"
	exit 1
fi
echo "invite_expiry: an expired invite's inbox closes, one in date stays"
exit 0
