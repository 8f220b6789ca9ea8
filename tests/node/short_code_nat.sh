#!/bin/sh
# tests/node/short_code_nat.sh BINARY: joining with the short code alone
# between two nodes behind different NATs, through the lab's relay (issue
# 11, "Tests"; docs/TOKENS.md "Short-code join").
#
# Rob behind a full-cone NAT runs serve and `join` (prints MESH-XXXX-XXXX-
# XXXX); Matt behind a symmetric NAT types codes. Checked:
#  1. a wrong code (its first group changed: it meets no inviting node on
#     the relay) fails within its --wait with "no answer through", leaving no
#     node behind, and costs Rob's code nothing;
#  2. the right code afterwards joins: both list the other as connected and
#     a message goes each way;
#  3. the same code again is refused (single use).
# (A wrong *password* with the right first group costs one of the code's 3
# tries; tests/node/short_code.sh checks that on loopback.)
# Needs root; exits 77 otherwise. About 25 s.
set -u
bin=${1:?usage: short_code_nat.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
nd_begin "$bin" lab

nd_lab_public
natlab_site a full_cone
natlab_site b symmetric
rob=$nd_tmp/rob
matt=$nd_tmp/matt
nd_run a "$rob" init lab --relay "$nd_relay_url" $nd_stun_args --port 7777 --name rob >"$rob.init" 2>&1 ||
	{ cat "$rob.init"; exit 1; }
nd_start a "$rob" "$rob.log" serve
nd_wait 15 "rob's node answers" nd_up a "$rob" || { cat "$rob.log"; exit 1; }
nd_run a "$rob" join >"$rob.code" 2>&1 || bad "rob's join: $(cat "$rob.code")"
short=$(grep -E '^MESH-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$' "$rob.code")
[ -n "$short" ] || { echo "FAIL: no short code in: $(cat "$rob.code")"; exit 1; }
grep -qF "atmosphere join $short --relay $nd_relay_url" "$rob.code" ||
	bad "rob's join does not show the line to type: $(cat "$rob.code")"

# try NAME WANT CODE: a join with CODE by a fresh node on b must fail within
# its --wait with stderr matching WANT, and leave no node state behind.
try() {
	_home=$nd_tmp/$1
	_t0=$(nd_ms)
	natlab_exec b timeout 30 env ATMOSPHERE_HOME="$_home" "$nd_bin" join "$3" --relay "$nd_relay_url" \
		--port 7778 --name "$1" --wait 8s >"$_home.out" 2>"$_home.err"
	_rc=$?
	[ "$_rc" -ne 0 ] && [ "$_rc" -ne 124 ] || bad "$1: exit $_rc, want a prompt non-zero exit"
	grep -Eq "$2" "$_home.err" || bad "$1: stderr '$(cat "$_home.err")' does not match /$2/"
	[ -e "$_home/state.json" ] && bad "$1: a node's state was left in $_home"
	printf '  %-8s exit %s after %5s ms: %s\n' "$1" "$_rc" "$(($(nd_ms) - _t0))" "$(head -n 1 "$_home.err")"
}

# 1. A wrong code: the first group changed (one symbol), the rest right.
first=$(printf '%s' "$short" | cut -c 6)
case $first in 2) other=3 ;; *) other=2 ;; esac
wrong=MESH-$other$(printf '%s' "$short" | cut -c 7-)
echo "right $short, wrong $wrong"
try wrong "no answer through" "$wrong"

# 2. The right code afterwards.
t0=$(nd_ms)
nd_start b "$matt" "$matt.out" join "$short" --relay "$nd_relay_url" --port 7777 --name matt
if nd_wait 40 "matt joined with the short code" nd_both_connected a "$rob" b "$matt"; then
	echo "short code through the lab's relay: both connected after $(($(nd_ms) - t0)) ms ($(nd_peer a "$rob" matt))"
else
	bad "not connected: rob sees '$(nd_peer a "$rob" matt)', matt sees '$(nd_peer b "$matt" rob)'"
fi
grep -q "Received the join code" "$matt.out" || bad "matt does not say it received the code: $(head -5 "$matt.out")"
nd_flows a "$rob" b "$matt" sc 20 >/dev/null || bad "no message both ways after the short-code join"

# 3. Single use.
try reused "refused the code: the code was already used" "$short"

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out"; do
		echo "== ${f##*/}"
		tail -n 20 "$f"
	done
	echo "short_code_nat: FAILED"
	exit 1
fi
echo "short_code_nat: a wrong code fails, the right one joins across two NATs through the relay, once"
exit 0
