#!/bin/sh
# tests/node/silent_relay.sh BINARY: a relay that stops forwarding without
# closing anything is noticed, and traffic moves to another relay of the
# mesh (issue 11). Loopback, no root.
#
# Two relays; Rob and Matt run --relay-only, so a relay is their only
# path. The relay they both use is then frozen with SIGSTOP: its TCP
# connections stay open (the kernel still holds them) but nothing is
# forwarded and no Close is sent, which is what a hung relay looks like.
# Both nodes must move to the other relay (they notice after
# NODE_RELAY_SILENT_MS of silence) and messages flow again.
# About 20 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: silent_relay.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/nodes.sh"
nd_begin "$bin"
nd_loopback_servers
r1=$nd_relay_url
r1_pid=$nd_relay_pid
nd_relay2_start
r2_pid=$nd_relay2_pid
r2=$nd_relay2_url
# A frozen process must be thawed for the cleanup to end it politely.
trap 'kill -CONT $r1_pid $r2_pid 2>/dev/null; nd_cleanup' EXIT

nd_pair_relay_only "$r1" "$r2"

# relay_of HOME PEER: the relay PEER's traffic uses, from peers --json.
relay_of() {
	nd_run - "$1" peers --json | "$nd_py" -c '
import json, sys
print(next((p.get("relay") or "" for p in json.load(sys.stdin)["peers"] if p["name"] == sys.argv[1]), ""))' "$2"
}
on() { # URL
	[ "$(relay_of "$rob" matt)" = "$1" ] && [ "$(relay_of "$matt" rob)" = "$1" ]
}
# Each side keeps the relay it uses while it works, so the two may use
# different ones: freeze the one Rob uses.
rob_on_relay() { [ -n "$(relay_of "$rob" matt)" ] && [ -n "$(relay_of "$matt" rob)" ]; }
nd_wait 20 "both on a relay" rob_on_relay || bad "not on a relay: rob '$(relay_of "$rob" matt)', matt '$(relay_of "$matt" rob)'"
used=$(relay_of "$rob" matt)
if [ "$used" = "$r1" ]; then used_pid=$r1_pid other=$r2; else used_pid=$r2_pid other=$r1; fi
echo "rob uses $used, matt $(relay_of "$matt" rob); freezing $used"
nd_run - "$rob" send matt "before" >/dev/null || bad "send before the freeze failed"
nd_recv_until - "$matt" "$matt.recv" "rob: before" 10 || bad "matt did not receive 'before'"

kill -STOP "$used_pid"
t0=$(nd_ms)
nd_wait 25 "both moved to the other relay" on "$other" ||
	bad "not moved to $other: rob uses '$(relay_of "$rob" matt)', matt '$(relay_of "$matt" rob)'"
echo "moved to $other $(($(nd_ms) - t0)) ms after $used froze"
grep -q "relay $used carried nothing back" "$rob.log" || bad "rob's log does not say why it moved"
nd_run - "$rob" send matt "after" >/dev/null || bad "send after the move failed"
nd_recv_until - "$matt" "$matt.recv" "rob: after" 10 || bad "matt did not receive 'after'"
nd_run - "$matt" send rob "and back" >/dev/null || bad "matt's send failed"
nd_recv_until - "$rob" "$rob.recv" "matt: and back" 10 || bad "rob did not receive 'and back'"
kill -CONT "$used_pid"

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out"; do
		echo "== ${f##*/}"
		tail -n 20 "$f"
	done
	echo "silent_relay: FAILED"
	exit 1
fi
echo "silent_relay: a frozen relay is left for the other"
exit 0
