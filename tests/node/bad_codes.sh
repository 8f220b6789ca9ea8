#!/bin/sh
# tests/node/bad_codes.sh BINARY: `atmosphere join CODE` refuses bad codes.
#
# On loopback (no root): our relay and STUN server on 127.0.0.1 and Rob's
# node, which issues a real code. From it codes.py makes bad ones: expired
# (edited dates with the old mac, and re-signed so only the date is wrong),
# not yet valid, a flipped character, an edited field, an unknown field,
# truncated, non-base64 garbage, valid base64 of garbage, empty, oversized
# (> 4 KiB). Each must exit non-zero at once with "invalid join code: REASON"
# on stderr, print no join progress and leave no node behind (no state.json,
# no control.sock, the UDP port free).
#
# Codes that decode but that no mesh issued (re-signed with a key of another
# secret, or with an invite id Rob never issued) can only be refused by the
# mesh: the joiner must give up with a non-zero exit (the node's bound is
# 60 s) and Rob must not list it. The same code in unpadded base64url joins.
# About 65 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: bad_codes.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/nodes.sh"
nd_begin "$bin"
codes="$nd_py $here/codes.py"

nd_loopback_servers
rob=$nd_tmp/rob
nd_run - "$rob" init lab --relay "$nd_relay_url" $nd_stun_args --public-ip 127.0.0.1 --port "$(nd_free_udp)" \
	--name rob >/dev/null || exit 1
nd_start - "$rob" "$rob.log" serve
nd_wait 10 "rob's node answers" nd_up - "$rob" || { cat "$rob.log"; exit 1; }
nd_run - "$rob" join >"$rob.code" 2>&1
code=$(sed -n 's/^Full code: //p' "$rob.code")
[ -n "$code" ] || { echo "FAIL: no code: $(cat "$rob.code")"; exit 1; }
# codes.py must reproduce the node's mac, or its re-signed codes prove nothing.
$codes check "$code" || { echo "FAIL: codes.py does not reproduce the mac of $code (docs/TOKENS.md changed?)"; exit 1; }

# --- refused before anything starts ---------------------------------------------
now=$(date +%s)
# reject NAME WANT CODE: join must fail at once, stderr matching WANT.
reject() {
	_name=$1
	_want=$2
	_code=$3
	_home=$nd_tmp/j-$_name
	_port=$(nd_free_udp)
	timeout 10 env ATMOSPHERE_HOME="$_home" "$nd_bin" join "$_code" --port "$_port" --name "$_name" \
		>"$_home.out" 2>"$_home.err"
	_rc=$?
	if [ "$_rc" -eq 0 ] || [ "$_rc" -eq 124 ]; then
		bad "$_name: exit $_rc, want a prompt non-zero exit"
	fi
	if ! grep -q "^atmosphere join: invalid join code: " "$_home.err"; then
		bad "$_name: stderr lacks 'atmosphere join: invalid join code: ...': $(head -c 300 "$_home.err")"
	elif ! grep -Eqi "$_want" "$_home.err"; then
		bad "$_name: reason '$(cat "$_home.err")' does not match /$_want/"
	fi
	if grep -q "Joining mesh\|Attempting direct" "$_home.out"; then
		bad "$_name: printed join progress: $(cat "$_home.out")"
	fi
	if [ -e "$_home/state.json" ] || [ -e "$_home/control.sock" ]; then
		bad "$_name: left a node's files in $_home: $(ls "$_home")"
	fi
	if ss -Hlun "sport = :$_port" 2>/dev/null | grep -q .; then
		bad "$_name: something still holds UDP port $_port"
	fi
	printf '  %-16s exit %s  %s\n' "$_name" "$_rc" "$(head -n 1 "$_home.err")"
}

len=${#code}
half=$((len / 2))
mid=$(printf '%s' "$code" | cut -c "$((half + 1))")
case $mid in A) flip=B ;; *) flip=A ;; esac
flipped="$(printf '%s' "$code" | cut -c "1-$half")$flip$(printf '%s' "$code" | cut -c "$((half + 2))-")"
oversized=$(printf 'QUFB%.0s' $(seq 1 1100))

echo "refused locally:"
reject expired_oldmac "expired|altered|damaged|mac" "$($codes set "$code" created_at=$((now - 7200)) expires_at=$((now - 3600)))"
reject expired "expired" "$($codes resign "$code" created_at=$((now - 7200)) expires_at=$((now - 3600)))"
reject not_yet_valid "future|not yet|valid" "$($codes resign "$code" created_at=$((now + 86400)) expires_at=$((now + 90000)))"
reject flipped "." "$flipped"
reject mesh_renamed "altered|damaged|mac" "$($codes set "$code" mesh_name='"evil"')"
reject relay_swapped "altered|damaged|mac" "$($codes set "$code" relay_urls='["ws://198.51.100.66:8080"]')"
reject extra_field "unknown|field" "$($codes set "$code" admin=true)"
reject truncated "." "$(printf '%s' "$code" | cut -c "1-$half")"
reject truncated_end "." "$(printf '%s' "$code" | cut -c "1-$((len - 6))")"
reject garbage "base64" "this is not a join code!"
reject json_garbage "json" "$(printf '[1,2,3] not a token' | base64 -w0)"
reject binary_garbage "json|base64" "$(head -c 300 /dev/urandom | base64 -w0)"
reject empty "." ""
reject oversized "long|4096|size" "$oversized"

# --- decodes, but no mesh issued it -------------------------------------------------
echo "refused by the mesh (the joiner gives up within the node's 60 s bound):"
forged=$($codes forge "$code")
rid=$("$nd_py" -c 'import base64, os; print(base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode())')
stranger=$($codes resign "$code" invite_id="\"$rid\"")
nd_start - "$nd_tmp/j-forged" "$nd_tmp/j-forged.out" join "$forged" --port "$(nd_free_udp)" --name forger
forged_pid=$nd_pid
nd_start - "$nd_tmp/j-stranger" "$nd_tmp/j-stranger.out" join "$stranger" --port "$(nd_free_udp)" --name stranger
stranger_pid=$nd_pid

# Meanwhile the genuine code, as unpadded base64url, joins.
nd_start - "$nd_tmp/matt" "$nd_tmp/matt.out" join "$($codes urlsafe "$code")" --port "$(nd_free_udp)" --name matt

if nd_wait 20 "matt joins with the base64url code" nd_both_connected - "$rob" - "$nd_tmp/matt"; then
	echo "  base64url code: joined"
else
	bad "the genuine code in unpadded base64url did not join: $(cat "$nd_tmp/matt.out")"
fi

# Bounded: the node gives up after 60 s; allow 80.
for who in forged stranger; do
	eval "pid=\$${who}_pid"
	end=$(($(nd_ms) + 80000))
	while kill -0 "$pid" 2>/dev/null && [ "$(nd_ms)" -lt "$end" ]; do
		sleep 0.2
	done
	if kill -0 "$pid" 2>/dev/null; then
		bad "$who: the joiner still runs after 80 s"
		nd_kill "$pid"
		continue
	fi
	wait "$pid"
	rc=$?
	[ "$rc" -ne 0 ] || bad "$who: exit 0"
	grep -q "did not accept this code" "$nd_tmp/j-$who.out" ||
		bad "$who: no clear reason: $(tail -n 5 "$nd_tmp/j-$who.out")"
	grep -q "✓ Joined mesh" "$nd_tmp/j-$who.out" && bad "$who: says it joined"
	echo "  $who: exit $rc: $(grep -m1 'Could not' "$nd_tmp/j-$who.out")"
done
for n in forger stranger; do
	[ "$(nd_peer - "$rob" "$n")" = "absent absent" ] || bad "rob lists $n: $(nd_peer - "$rob" "$n")"
done
grep -q "refused a join" "$rob.log" || bad "rob's log does not say it refused the stranger's join"
nd_run - "$rob" peers --json | grep -q '"name":"matt"' || bad "rob does not list matt"

if [ "$fail" -ne 0 ]; then
	echo "bad_codes: FAILED"
	exit 1
fi
echo "bad_codes: all bad codes refused"
exit 0
