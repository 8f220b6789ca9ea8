#!/bin/sh
# tests/node/hard_nat.sh BINARY: hard-NAT probing (issue 12) in the NAT lab.
#
# 1. port_restricted <-> symmetric: Rob (port_restricted site) and Matt
#    (symmetric site) must end on a direct path ("direct" on both sides in
#    `peers --json`) through hard-NAT probing, and exchange `send` traffic
#    on it. Prints the probes the easy side sent and the time it took.
# 2. The probing sockets are closed afterwards: the hard side's node holds
#    at most one UDP socket more than before the attempt (the adopted socket that
#    carries the path), and when that path dies (the wan router drops the
#    two sites' UDP) the adopted socket closes too.
# 3. A pair whose direct UDP is blocked from the start: the attempt ends at
#    its deadline and every socket it opened is closed.
# 4. symmetric <-> symmetric: stays on the relay and no attempt is made
#    (both sides hard: node/birthday.h says why).
# 5. `--hard-nat off` on the hard side (port_restricted <-> symmetric again):
#    no request, no probing socket (its UDP socket count never grows), the
#    pair stays on the relay, and `peers --json` shows mode off, role none,
#    no attempt; the easy side's default mode and budget show too.
# 6. `--hard-nat aggressive` on both sides: the hard side opens 512 sockets,
#    the easy side may send 4,096 probes, and the pair goes direct.
# ND_KEEP=1 keeps the logs. About 110 s. Needs root; exits 77 otherwise.
set -u
bin=${1:?usage: hard_nat.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
nd_begin "$bin" lab

nd_lab_public
natlab_site pr1 port_restricted
natlab_site sy2 symmetric
natlab_site sy3 symmetric
natlab_site sy4 symmetric

# UDP sockets of process PID on lab host HOST (other fds, relay links and
# control clients, come and go with the join and are no measure).
udps() { # udps HOST PID
	natlab_exec "$1" ss -uanp 2>/dev/null | grep -c "pid=$2,"
}
peak=0
both_direct() { # also samples the hard side's UDP sockets (informational: the attempt is short)
	_u=$(udps sy2 "$nd_matt_pid")
	[ "$_u" -le "$peak" ] || peak=$_u
	nd_path_is pr1 "$rob" matt direct && nd_path_is sy2 "$matt" rob direct
}
udps_at_most() { # udps_at_most HOST PID N
	[ "$(udps "$1" "$2")" -le "$3" ]
}

# --- 1. port_restricted <-> symmetric -------------------------------------------
rob="$nd_tmp/rob"
matt="$nd_tmp/matt"
nd_pair_up pr1 "$rob" sy2 "$matt" 21001 21002 || exit 1
nd_wait 30 "both connected" nd_both_connected pr1 "$rob" sy2 "$matt" || {
	tail -n 30 "$rob.log" "$matt.out"
	exit 1
}
# Probing starts NODE_BDAY_AFTER_MS (5 s) after the HELLO: this is before.
before=$(udps sy2 "$nd_matt_pid")
[ "$before" -ge 1 ] || bad "cannot count matt's UDP sockets (ss -uanp)"
if nd_wait 25 "direct path on both sides" both_direct; then
	echo "direct after $(($(nd_ms) - nd_join_ms)) ms from 'join CODE'"
else
	bad "port_restricted <-> symmetric did not go direct: rob $(nd_peer pr1 "$rob" matt), matt $(nd_peer sy2 "$matt" rob)"
fi
grep -q "hard-NAT probing: 256 sockets open" "$matt.out" || bad "the symmetric side opened no probing sockets"
line=$(grep -h "hard-NAT probing opened a direct path after" "$rob.log" | tail -n 1)
if [ -n "$line" ]; then
	echo "easy side: ${line#*probing }"
else
	bad "the easy side logged no successful probing"
fi
grep -h "hard-NAT probe from" "$matt.out" | sed 's/^.*INFO /hard side: /'
nd_run pr1 "$rob" send matt "over the probed path" >/dev/null 2>&1 || bad "rob's send failed"
nd_run sy2 "$matt" send rob "back over it" >/dev/null 2>&1 || bad "matt's send failed"
nd_recv_until sy2 "$matt" "$matt.recv" "rob: over the probed path" 10 || bad "matt did not receive"
nd_recv_until pr1 "$rob" "$rob.recv" "matt: back over it" 10 || bad "rob did not receive"
nd_path_is pr1 "$rob" matt direct || bad "rob's path after the messages: $(nd_peer pr1 "$rob" matt)"

# --- 2. the extra sockets are gone ----------------------------------------------
nd_wait 5 "probing sockets closed (UDP sockets <= $before + 1)" udps_at_most sy2 "$nd_matt_pid" $((before + 1)) ||
	bad "matt's node holds $(udps sy2 "$nd_matt_pid") UDP sockets after probing, $before before"
s1=$(udps sy2 "$nd_matt_pid")
echo "hard side UDP sockets: $before before, $peak at the most seen while probing, $s1 with the adopted socket"
nd_block_direct pr1 sy2
nd_wait 15 "the direct path dies" grep -q "direct path .* went silent" "$matt.out" || bad "the direct path did not die"
# The reader notices within a second; the next attempt waits 5 s.
nd_wait 3 "the adopted socket closes" udps_at_most sy2 "$nd_matt_pid" $((s1 - 1)) ||
	bad "the adopted socket stayed open after the path died ($s1 then $(udps sy2 "$nd_matt_pid") UDP sockets)"
s2=$(udps sy2 "$nd_matt_pid")
echo "hard side UDP sockets after the path died: $s2"
nd_unblock_direct
nd_kill "$nd_rob_pid" "$nd_matt_pid"

# --- 3. an attempt that cannot succeed ends at its deadline ---------------------
# The wan router drops UDP between the two sites from the start (the relay
# and STUN still work): the attempt 5 s after the HELLO finds nothing, the
# easy side stops at its 6 s and the hard side at its 10 s deadline, and
# all 256 sockets close.
rob="$nd_tmp/rob3"
matt="$nd_tmp/matt3"
nd_block_direct pr1 sy2
nd_pair_up pr1 "$rob" sy2 "$matt" 21021 21022 || exit 1
nd_wait 30 "both connected (blocked pair)" nd_both_connected pr1 "$rob" sy2 "$matt" || exit 1
base=$(udps sy2 "$nd_matt_pid")
if nd_wait 30 "the blocked attempt ends" grep -q "hard-NAT probing found no path" "$matt.out"; then
	grep -q "hard-NAT probing: 256 sockets open" "$matt.out" || bad "the blocked attempt opened no sockets"
	echo "blocked: hard side $(grep -h "hard-NAT probing found no path" "$matt.out" | sed 's/^.*probing //');" \
		"easy side $(grep -h "hard-NAT probing found no path" "$rob.log" | sed 's/^.*probing //')"
	nd_wait 3 "its sockets close" udps_at_most sy2 "$nd_matt_pid" "$base" ||
		bad "matt's node holds $(udps sy2 "$nd_matt_pid") UDP sockets after a failed attempt, $base before it"
else
	bad "no attempt ended while the pair was blocked"
fi
nd_unblock_direct
nd_kill "$nd_rob_pid" "$nd_matt_pid"

# --- 4. symmetric <-> symmetric: no attempt ------------------------------------
rob="$nd_tmp/rob2"
matt="$nd_tmp/matt2"
nd_pair_up sy3 "$rob" sy4 "$matt" 21011 21012 || exit 1
nd_wait 30 "both connected (symmetric pair)" nd_both_connected sy3 "$rob" sy4 "$matt" || exit 1
# Past the time an attempt would start (5 s after HELLO) and its answer time.
t1=$(($(nd_ms) + 10000))
nd_wait 12 "10 s" sh -c "[ \$(date +%s%3N) -ge $t1 ]"
if grep -Eq "asking for hard-NAT|hard-NAT probing( opened|:)" "$rob.log" "$matt.out"; then
	bad "an attempt between two hard NATs: $(grep -Eh "hard-NAT probing( opened|:)|asking" "$rob.log" "$matt.out" | head -n 3)"
fi
grep -q "NAT mapping is hard" "$rob.log" || bad "the symmetric node did not see its NAT as hard"
[ "$(nd_peer sy3 "$rob" matt)" = "true relay" ] || bad "symmetric pair: $(nd_peer sy3 "$rob" matt), want relay"
nd_kill "$nd_rob_pid" "$nd_matt_pid"

# --- 5. --hard-nat off: no probing ---------------------------------------------
rob="$nd_tmp/rob5"
matt="$nd_tmp/matt5"
ND_JOIN_ARGS="--hard-nat off" nd_pair_up pr1 "$rob" sy2 "$matt" 21031 21032 || exit 1
nd_wait 30 "both connected (--hard-nat off)" nd_both_connected pr1 "$rob" sy2 "$matt" || exit 1
base=$(udps sy2 "$nd_matt_pid")
most=$base
# Past the time an attempt would start (5 s after HELLO), its answer time and
# the opening of its sockets; sampling the hard side's sockets meanwhile.
t1=$(($(nd_ms) + 10000))
while [ "$(nd_ms)" -lt "$t1" ]; do
	u=$(udps sy2 "$nd_matt_pid")
	[ "$u" -le "$most" ] || most=$u
	sleep 0.2
done
[ "$most" -le "$base" ] || bad "--hard-nat off: matt's UDP sockets went from $base to $most"
if grep -Eq "asking for hard-NAT|hard-NAT probing( opened|:)" "$rob.log" "$matt.out"; then
	bad "--hard-nat off: an attempt: $(grep -Eh "hard-NAT probing( opened|:)|asking" "$rob.log" "$matt.out" | head -n 3)"
fi
grep -q "hard-NAT probing is off" "$matt.out" || bad "--hard-nat off: the hard side did not say probing is off"
[ "$(nd_peer pr1 "$rob" matt)" = "true relay" ] || bad "--hard-nat off: rob's path $(nd_peer pr1 "$rob" matt), want relay"
hn=$(nd_run sy2 "$matt" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
d = json.load(sys.stdin)
p = [p for p in d["peers"] if p.get("name") == "rob"][0]["hard_nat"]
s = d["self"]["hard_nat"]
print(s["mode"], s["nat"], s["sockets"], s["max_probes"], p["role"], p["state"], p["attempts"], p["peer_nat"])
' 2>&1)
[ "$hn" = "off hard 0 0 none idle 0 easy" ] || bad "--hard-nat off: matt's peers --json hard_nat: '$hn'"
hn=$(nd_run pr1 "$rob" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
d = json.load(sys.stdin)
p = [p for p in d["peers"] if p.get("name") == "matt"][0]["hard_nat"]
print(p["mode"], p["nat"], p["sockets"], p["max_probes"], p["probes_per_s"], p["window_ms"], p["role"], p["attempts"])
' 2>&1)
[ "$hn" = "on easy 256 2048 400 10000 easy 0" ] || bad "--hard-nat off: rob's peers --json hard_nat: '$hn'"
echo "--hard-nat off: relay, hard side UDP sockets $base..$most, rob sees: $hn"
nd_kill "$nd_rob_pid" "$nd_matt_pid"

# --- 6. --hard-nat aggressive: the larger budget ------------------------------
rob="$nd_tmp/rob6"
matt="$nd_tmp/matt6"
ND_SERVE_ARGS="--hard-nat aggressive" ND_JOIN_ARGS="--hard-nat aggressive" \
	nd_pair_up pr1 "$rob" sy2 "$matt" 21041 21042 || exit 1
nd_wait 30 "both connected (aggressive)" nd_both_connected pr1 "$rob" sy2 "$matt" || exit 1
if nd_wait 25 "direct path on both sides (aggressive)" both_direct; then
	echo "aggressive: direct after $(($(nd_ms) - nd_join_ms)) ms from 'join CODE';" \
		"$(grep -h "hard-NAT probing opened a direct path after" "$rob.log" | tail -n 1 | sed 's/^.*probing //')"
else
	bad "aggressive: no direct path: rob $(nd_peer pr1 "$rob" matt), matt $(nd_peer sy2 "$matt" rob)"
fi
grep -q "hard-NAT probing: 512 sockets open .*mode aggressive, listening 16000 ms" "$matt.out" ||
	bad "aggressive: the hard side did not open 512 sockets: $(grep -h "sockets open" "$matt.out")"
grep -q "hard-NAT probing (aggressive): up to 4096 probes" "$rob.log" ||
	bad "aggressive: the easy side's budget: $(grep -h "hard-NAT probing (aggressive): up to" "$rob.log")"
nd_kill "$nd_rob_pid" "$nd_matt_pid"

if [ "$fail" -ne 0 ]; then
	for f in "$nd_tmp"/rob.log "$nd_tmp"/matt.out; do
		echo "== $f"
		tail -n 30 "$f"
	done
	echo "hard_nat: FAILED"
	exit 1
fi
echo "hard_nat: passed"
exit 0
