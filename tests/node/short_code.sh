#!/bin/sh
# tests/node/short_code.sh BINARY: joining with the short code alone
# (docs/TOKENS.md, "Short-code join"), on loopback, no root needed.
#
# Our relay and STUN server on 127.0.0.1 and Rob's node. Then:
#  1. Rob's `join` prints MESH-XXXX-XXXX-XXXX and the line to type; Matt's
#     `join MESH-... --relay URL` fetches the full code through the relay
#     (SPAKE2), joins, and the two are members: connected both ways, a
#     message each way, ping both ways. The same short code again is
#     refused (single use).
#  2. A wrong code (first group right, so it meets Rob's node; one symbol
#     of the password wrong) fails at once with "wrong code"; Rob's log says
#     2 tries are left; the right code afterwards joins (Eve), once. Another
#     code tried wrong 3 times is void: Rob's log says it was the last try,
#     and the right code is refused ("void"). So at most 3 online guesses
#     per code. A full-code join retires the short code of the same invite
#     (refused as used).
#  3. A code issued with --short-expires 2s: once Rob's node says it
#     expired, joining with it fails (nobody answers, --wait 3s). A short
#     code with a group missing, or without a relay, is refused at once;
#     `join --json` gives the short code's life and relay.
#  4. The relay saw nothing secret: its log never holds a short code, the
#     full code or the mesh secret; and, when run as root with tcpdump, a
#     capture of the relay's port on lo during the join holds neither the
#     short code's password part, nor any piece of the full code, nor the
#     mesh secret, though it does hold the relay upgrades (and, with
#     python3-aiohttp, a plaintext positive control sent through it).
# About 30 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: short_code.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/nodes.sh"
nd_begin "$bin"
dump() {
	for f in "$rob.log" "$nd_tmp"/*.out "$nd_tmp"/*.err; do
		[ -f "$f" ] || continue
		echo "== ${f##*/}"
		tail -n 15 "$f"
	done
}

nd_loopback_servers
rob=$nd_tmp/rob
matt=$nd_tmp/matt
rport=$(nd_free_udp)
mport=$(nd_free_udp)
[ "$rport" != "$mport" ] || mport=$(nd_free_udp)
nd_run - "$rob" init lab --relay "$nd_relay_url" $nd_stun_args --public-ip 127.0.0.1 --port "$rport" \
	--name rob >"$rob.init" 2>&1 || { cat "$rob.init"; exit 1; }
nd_start - "$rob" "$rob.log" serve
nd_wait 10 "rob's node answers" nd_up - "$rob" || { dump; exit 1; }

# The capture of everything the relay forwards, when we may.
cap=$nd_tmp/relay.pcap
capturing=0
if [ "$(id -u)" = 0 ] && command -v tcpdump >/dev/null 2>&1; then
	# A 32 MiB capture buffer: with the default one, a loaded machine (CI
	# runs two tests at once, each with its own capture of lo) made the
	# kernel drop packets, the positive control among them.
	nd_spawn - "$nd_tmp/tcpdump.txt" tcpdump -n -i lo -U --immediate-mode -B 32768 -s 0 -w "$cap" tcp port "$nd_relay_port"
	tcpdump_pid=$nd_pid
	if nd_wait 10 "tcpdump listening" grep -qs "listening on lo" "$nd_tmp/tcpdump.txt"; then
		capturing=1
	else
		bad "tcpdump did not start: $(cat "$nd_tmp/tcpdump.txt")"
	fi
else
	echo "note: not root or no tcpdump: the relay's traffic is not captured (its log still is checked)"
fi

# issue NAME [ARGS]: Rob's `join` ARGS; sets $short and $full, output in $rob.NAME.
issue() {
	_f=$rob.$1
	shift
	nd_run - "$rob" join "$@" >"$_f" 2>&1 || bad "rob's join $*: $(cat "$_f")"
	short=$(grep -E '^MESH-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$' "$_f")
	full=$(sed -n 's/^Full code: //p' "$_f")
	[ -n "$short" ] && [ -n "$full" ] || { echo "FAIL: no codes in: $(cat "$_f")"; dump; exit 1; }
}

# --- 1. the short code joins --------------------------------------------------
issue code1
grep -qF "atmosphere join $short --relay $nd_relay_url" "$rob.code1" ||
	bad "rob's join does not show the line to type: $(cat "$rob.code1")"
short1=$short
full1=$full
t0=$(nd_ms)
nd_start - "$matt" "$matt.out" join "$short1" --relay "$nd_relay_url" --port "$mport" --name matt
matt_pid=$nd_pid
if nd_wait 25 "matt joined with the short code" nd_both_connected - "$rob" - "$matt"; then
	echo "short code $short1: both connected after $(($(nd_ms) - t0)) ms"
else
	bad "not connected: rob sees '$(nd_peer - "$rob" matt)', matt sees '$(nd_peer - "$matt" rob)'"
	dump
	exit 1
fi
grep -q "Received the join code" "$matt.out" || bad "matt does not say it received the code: $(cat "$matt.out")"
grep -q "Join code $short1 for mesh 'lab'" "$matt.out" || bad "matt does not show the short code $short1"
nd_wait 10 "join finished" grep -q "✓ Joined mesh: lab" "$matt.out" || bad "no '✓ Joined mesh: lab'"
grep -q "short code ${short1%-*-*}-…: the full code went to the joiner" "$rob.log" ||
	bad "rob's log does not say the code went to the joiner"
nd_run - "$rob" send matt "hello from rob" >/dev/null 2>&1 || bad "rob's send failed"
nd_run - "$matt" send rob "hello from matt" >/dev/null 2>&1 || bad "matt's send failed"
nd_recv_until - "$matt" "$matt.recv" "rob: hello from rob" 10 || bad "matt did not receive rob's text"
nd_recv_until - "$rob" "$rob.recv" "matt: hello from matt" 10 || bad "rob did not receive matt's text"
out=$(nd_run - "$rob" ping matt 2>&1) || bad "rob's ping: $out"
echo "$out"
out=$(nd_run - "$matt" ping rob 2>&1) || bad "matt's ping: $out"
echo "$out"

# try NAME WANT CODE [ARGS]: a join with CODE by a fresh node must fail
# within its --wait with stderr matching WANT and leave no node behind.
try() {
	_name=$1
	_want=$2
	_code=$3
	shift 3
	_home=$nd_tmp/$_name
	_t0=$(nd_ms)
	timeout 20 env ATMOSPHERE_HOME="$_home" "$nd_bin" join "$_code" --relay "$nd_relay_url" \
		--port "$(nd_free_udp)" --name "$_name" "$@" >"$_home.out" 2>"$_home.err"
	_rc=$?
	_ms=$(($(nd_ms) - _t0))
	if [ "$_rc" -eq 0 ] || [ "$_rc" -eq 124 ]; then
		bad "$_name: exit $_rc, want a prompt non-zero exit"
	fi
	grep -Eq "$_want" "$_home.err" || bad "$_name: stderr '$(cat "$_home.err")' does not match /$_want/"
	[ -e "$_home/state.json" ] && bad "$_name: a node's state was left in $_home"
	printf '  %-12s exit %s after %5s ms: %s\n' "$_name" "$_rc" "$_ms" "$(head -n 1 "$_home.err")"
}

echo "refused:"
# Single use: the code Matt used is refused now.
try reused "refused the code: the code was already used" "$short1" --wait 10s

# --- 2. a wrong code, then the right one ---------------------------------------
# wrong_of CODE: CODE with the same first group (it meets Rob's node) and
# its last symbol changed.
wrong_of() {
	case $(printf '%s' "$1" | cut -c 19) in 0) _o=1 ;; *) _o=0 ;; esac
	printf '%s%s' "$(printf '%s' "$1" | cut -c 1-18)" "$_o"
}
issue code2
short2=$short
wrong=$(wrong_of "$short2")
try wrong "wrong code: .*check it and try again: a code allows 3 tries" "$wrong" --wait 10s
nd_wait 5 "rob counts the wrong try" grep -q "short code ${short2%-*-*}-…: a join attempt .* failed (.*); 2 tries left" "$rob.log" ||
	bad "rob's log does not count the wrong try: $(grep 'short code' "$rob.log" | tail -3)"
# A typo does not cost the code: the right one joins afterwards, once.
eve=$nd_tmp/eve
nd_start - "$eve" "$eve.out" join "$short2" --relay "$nd_relay_url" --port "$(nd_free_udp)" --name eve
eve_pid=$nd_pid
nd_wait 25 "eve joined with the right code after a wrong one" nd_both_connected - "$rob" - "$eve" ||
	bad "the right code after a wrong one did not join: $(tail -n 3 "$eve.out")"
nd_kill "$eve_pid"
try reused2 "refused the code: the code was already used" "$short2" --wait 10s

# Three wrong tries void a code: the right one is refused after them.
issue code5
short5=$short
wrong5=$(wrong_of "$short5")
for k in 1 2 3; do
	try "wrong5_$k" "wrong code" "$wrong5" --wait 10s
	nd_wait 5 "rob counts wrong try $k" grep -q "short code ${short5%-*-*}-…: a join attempt .* failed (.*); $((3 - k)) tr[a-z]* left\|short code ${short5%-*-*}-…: .*that was its last try, the code is void now" "$rob.log" ||
		bad "rob's log does not count wrong try $k: $(grep 'short code' "$rob.log" | tail -3)"
done
grep -q "short code ${short5%-*-*}-…: a join attempt .* failed (.*); that was its last try, the code is void now" "$rob.log" ||
	bad "rob's log does not say the third wrong try voided the code: $(grep 'short code' "$rob.log" | tail -3)"
try after_wrong "refused the code: the code is void: join attempts with a wrong code used up its tries" "$short5" --wait 10s

# A full-code join retires the short code of the same invite: once read
# aloud to compare, it opens nothing.
issue code4
short4=$short
ana=$nd_tmp/ana
nd_start - "$ana" "$ana.log" join "$full" --port "$(nd_free_udp)" --name ana
ana_pid=$nd_pid
nd_wait 20 "ana joined with the full code" nd_connected - "$rob" ana || bad "ana did not join with the full code"
nd_kill "$ana_pid"
try retired "refused the code: the code was already used" "$short4" --wait 10s

# --- 3. an expired code ----------------------------------------------------------
issue code3 --short-expires 2s
short3=$short
grep -q "once, within 2s" "$rob.code3" || bad "rob's join does not say the code lasts 2s: $(cat "$rob.code3")"
nd_wait 10 "rob's node says the code expired" grep -q "short code ${short3%-*-*}-… expired unused" "$rob.log" ||
	bad "rob's node did not expire the code"
try expired "no answer through" "$short3" --wait 3s

# A short code with a group missing: a usage error at once.
timeout 10 env ATMOSPHERE_HOME="$nd_tmp/nocode" "$nd_bin" join MESH-1234-5678 --relay "$nd_relay_url" \
	>/dev/null 2>"$nd_tmp/nocode.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q "not a short code" "$nd_tmp/nocode.err" ||
	bad "a malformed short code: exit $rc, $(cat "$nd_tmp/nocode.err")"
# Without a relay to meet on: said, at once.
timeout 10 env ATMOSPHERE_HOME="$nd_tmp/norelay" "$nd_bin" join "$short2" >/dev/null 2>"$nd_tmp/norelay.err"
rc=$?
[ "$rc" -eq 2 ] && grep -q -- "--relay" "$nd_tmp/norelay.err" ||
	bad "a short code without a relay: exit $rc, $(cat "$nd_tmp/norelay.err")"

# `join --json` says the same: how long the short code joins, and where.
nd_run - "$rob" join --json >"$rob.json" 2>&1 || bad "rob's join --json: $(cat "$rob.json")"
"$nd_py" -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["short_code"].startswith("MESH-") and j["code"], j
assert j["short_expires_in"] == 600 and j["expires_in"] == 86400, j
assert j["relay"] == sys.argv[2], j
' "$rob.json" "$nd_relay_url" || bad "join --json: $(cat "$rob.json")"

# --- 4. what the relay saw ---------------------------------------------------------
secret=$(sed -n 's/^ *"secret": *"\([^"]*\)".*/\1/p' "$rob/state.json")
[ -n "$secret" ] || bad "no secret in $rob/state.json"
# Pieces of the full code: any 24 characters of it would show a leak.
pieces() {
	_c=$1
	_n=${#_c}
	_i=1
	while [ "$_i" -lt "$((_n - 24))" ]; do
		printf '%s\n' "$(printf '%s' "$_c" | cut -c "$_i-$((_i + 23))")"
		_i=$((_i + 97))
	done
}
check_clean() { # FILE WHAT
	for s in "$short1" "$short2" "${short1#MESH-????-}" "${short2#MESH-????-}" "$secret"; do
		grep -aqF -- "$s" "$1" && bad "$2 holds '$s'"
	done
	for p in $(pieces "$full1"); do
		grep -aqF -- "$p" "$1" && { bad "$2 holds a piece of the full code: $p"; break; }
	done
}
check_clean "$nd_tmp/relay.out" "the relay's log"
if [ "$capturing" = 1 ]; then
	control="PLAINTEXT-CONTROL-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
	if "$nd_py" -c 'import aiohttp' 2>/dev/null; then
		"$nd_py" "$here/ws_pair.py" "$nd_relay_url" "control$$" "$control" || bad "the plaintext control failed"
		nd_wait 15 "the capture holds the control" grep -aqF "$control" "$cap" ||
			bad "the capture lacks the plaintext control: the check could not see a leak"
	fi
	nd_kill "$tcpdump_pid"
	grep -aq "GET /relay/" "$cap" || bad "the capture lacks the relay's upgrades: it does not hold the relay's traffic"
	echo "capture: $(wc -c <"$cap") bytes of the relay's traffic"
	check_clean "$cap" "the relay capture"
fi

if [ "$fail" -ne 0 ]; then
	dump
	echo "short_code: FAILED"
	exit 1
fi
echo "short_code: the short code joins through the relay, once, in time, and the relay learns nothing"
exit 0
