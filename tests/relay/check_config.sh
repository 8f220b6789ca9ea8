#!/bin/sh
# `atmosphere relay --check-config FILE` and `--config FILE`: every file of
# tests/relay/bad_config/ (its first line says "# expect: LINE: text") and of
# the parser's own corpus tests/net/malformed_config/ is refused with exit 1
# and "FILE:LINE: reason"; a file with several mistakes gets one line per
# mistake, in line order; a valid file passes with exit 0; the relay refuses
# to start on a bad file (exit 2, the same lines) and starts on a good one,
# the command line winning over the file. Usage: check_config.sh BINARY.
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/relay-check.$$.XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM

n=0
for f in "$here"/bad_config/*.conf; do
	want=$(sed -n '1s/^# expect: //p' "$f")
	[ -n "$want" ] || fail "$f: first line is not '# expect: LINE: text'"
	"$bin" relay --check-config "$f" >"$dir/out" 2>"$dir/err"
	rc=$?
	[ $rc -eq 1 ] || fail "$(basename "$f"): exit $rc, want 1: $(cat "$dir/err")"
	grep -qF -- "$f:$want" "$dir/err" || fail "$(basename "$f"): want '$f:$want' in: $(cat "$dir/err")"
	n=$((n + 1))
done
[ $n -ge 15 ] || fail "only $n files in bad_config/"
for f in "$here"/../net/malformed_config/*; do
	"$bin" relay --check-config "$f" >"$dir/out" 2>"$dir/err"
	rc=$?
	[ $rc -eq 1 ] || fail "$(basename "$f"): exit $rc, want 1"
	grep -q "^$f:1: " "$dir/err" || fail "$(basename "$f"): no '$f:1: reason' in: $(cat "$dir/err")"
done

# Several mistakes: all of them, in line order, and the count.
printf 'bogus = 1\nport = x\nPort = 2\nquiet = yes\nport = 3\nthreads = 2\n' >"$dir/many.conf"
"$bin" relay --check-config "$dir/many.conf" >/dev/null 2>"$dir/err"
[ $? -eq 1 ] || fail "many.conf accepted"
got=$(sed -n "s|^$dir/many.conf:\([0-9]*\): .*|\1|p" "$dir/err" | tr '\n' ' ')
[ "$got" = "1 2 3 4 5 " ] || fail "many.conf: error lines '$got', want '1 2 3 4 5 ': $(cat "$dir/err")"
grep -q "many.conf: 5 errors" "$dir/err" || fail "many.conf: no count: $(cat "$dir/err")"

# A missing file, and usage mistakes.
"$bin" relay --check-config "$dir/none.conf" >/dev/null 2>"$dir/err"
[ $? -eq 1 ] && grep -q "$dir/none.conf: cannot read it" "$dir/err" || fail "missing file: $(cat "$dir/err")"
"$bin" relay --check-config >/dev/null 2>&1
[ $? -eq 2 ] || fail "--check-config without a file: not a usage error"
"$bin" relay --check-config "$dir/many.conf" --port 1 >/dev/null 2>&1
[ $? -eq 2 ] || fail "--check-config with another option: not a usage error"

# A valid file: exit 0 and "FILE: ok".
printf '# a relay\nhost = 127.0.0.1\nport = 0 # any\nthreads = 1\nquiet\nidle-timeout = 5m\nrcvbuf = auto\n' >"$dir/good.conf"
"$bin" relay --check-config "$dir/good.conf" >"$dir/out" 2>"$dir/err" || fail "good.conf refused: $(cat "$dir/err")"
grep -qx "$dir/good.conf: ok" "$dir/out" || fail "good.conf: '$(cat "$dir/out")'"
# A dual-stack relay with its STUN port (IPv6 'host' and 'stun-port' go together).
printf 'host = ::\nstun-port = 3478\n' >"$dir/dual.conf"
"$bin" relay --check-config "$dir/dual.conf" >"$dir/out" 2>"$dir/err" || fail "dual.conf refused: $(cat "$dir/err")"

# Access control: repeated allow-net and relay-key-file lines add up (two
# key files: rotation); a key file that holds something else is refused
# with the option's line and the file's.
"$bin" relay --new-key >"$dir/a.key" && "$bin" relay --new-key >"$dir/b.key" || fail "--new-key"
printf 'access = allow-list\nallow-net = 10.0.0.0/8\nallow-net = ::1\nallow-net = 127.0.0.1/32\n' >"$dir/allow.conf"
"$bin" relay --check-config "$dir/allow.conf" >/dev/null 2>"$dir/err" || fail "allow.conf: $(cat "$dir/err")"
printf 'access = mesh-token\nrelay-key-file = %s\nrelay-key-file = %s\n' "$dir/a.key" "$dir/b.key" >"$dir/keys.conf"
"$bin" relay --check-config "$dir/keys.conf" >/dev/null 2>"$dir/err" || fail "keys.conf: $(cat "$dir/err")"
printf '# a key file\n\nnot-a-key\n' >"$dir/bad.key"
printf 'access = mesh-token\n\nrelay-key-file = %s\n' "$dir/bad.key" >"$dir/badkey.conf"
"$bin" relay --check-config "$dir/badkey.conf" >/dev/null 2>"$dir/err"
[ $? -eq 1 ] || fail "badkey.conf accepted"
grep -q "^$dir/badkey.conf:3: relay-key-file '$dir/bad.key' line 3: not a relay key" "$dir/err" ||
	fail "badkey.conf: $(cat "$dir/err")"
grep -q "not-a-key" "$dir/err" && fail "badkey.conf: the key file's line was quoted"
printf 'access = mesh-token\nrelay-key-file = %s\nnew-key\n' "$dir/a.key" >"$dir/newkey.conf"
"$bin" relay --check-config "$dir/newkey.conf" >/dev/null 2>"$dir/err"
grep -q "newkey.conf:3: 'new-key' cannot be set in a config file" "$dir/err" || fail "newkey.conf: $(cat "$dir/err")"

# The byte budget's state file, read as the relay would at start: a
# missing one is a new count and a good one passes; a damaged one is an
# error on the budget-state line, with the file's own line and reason.
printf 'budget = 1G/month\nbudget-start = 31\nbudget-state = %s\n' "$dir/budget" >"$dir/budget.conf"
"$bin" relay --check-config "$dir/budget.conf" >/dev/null 2>"$dir/err" || fail "budget.conf, no state file yet: $(cat "$dir/err")"
printf 'atmosphere-relay-budget 1\nperiod-start 1796083200\nperiod-end 1798761600\nused 5\nlimit 9\n' >"$dir/budget"
"$bin" relay --check-config "$dir/budget.conf" >/dev/null 2>"$dir/err" || fail "budget.conf, good state file: $(cat "$dir/err")"
printf 'atmosphere-relay-budget 1\nperiod-start 1796083200\nperiod-end 1798761600\nused 5\nlimit' >"$dir/budget"
"$bin" relay --check-config "$dir/budget.conf" >/dev/null 2>"$dir/err"
[ $? -eq 1 ] || fail "budget.conf with a cut state file accepted"
grep -q "^$dir/budget.conf:3: budget-state '$dir/budget': line 5: cut short" "$dir/err" ||
	fail "budget.conf, cut state file: $(cat "$dir/err")"

# --config refuses to start on a bad file, naming each line.
timeout 10 "$bin" relay --config "$dir/many.conf" >/dev/null 2>"$dir/err"
[ $? -eq 2 ] || fail "relay started on many.conf"
grep -q "^$dir/many.conf:2: port 'x'" "$dir/err" || fail "--config: no line in: $(cat "$dir/err")"

# ... and starts on a good one, the command line winning (port 1 would need
# root's privilege to bind as another user; --port 0 overrides it).
printf 'host = 127.0.0.1\nport = 1\nthreads = 1\nquiet\n' >"$dir/low.conf"
"$bin" relay --config "$dir/low.conf" --port 0 >"$dir/rout" 2>&1 &
pid=$!
i=0
while ! grep -q 'relay listening on 127.0.0.1:' "$dir/rout" 2>/dev/null; do
	kill -0 "$pid" 2>/dev/null || fail "relay exited: $(cat "$dir/rout")"
	i=$((i + 1)); [ $i -lt 200 ] || fail "relay did not start: $(cat "$dir/rout")"; sleep 0.05
done
port=$(sed -n 's/^relay listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$dir/rout" | head -1)
[ -n "$port" ] && [ "$port" != 1 ] || fail "--port 0 did not win over the file: port '$port'"
kill "$pid"; wait "$pid"; rc=$?; pid=""
[ $rc -eq 0 ] || fail "relay exited $rc after SIGTERM"
echo "ok check_config ($n bad files)"
