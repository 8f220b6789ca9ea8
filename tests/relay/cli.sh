#!/bin/sh
# `atmosphere relay` argument handling: --help exits 0 and lists every option;
# malformed values and unknown options exit 2 with a message quoting them.
# Usage: cli.sh BINARY.
set -u
bin=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/relay-cli.$$.XXXXXX")
trap 'rm -rf "$dir"' EXIT INT TERM

"$bin" relay --help >"$dir/out" 2>"$dir/err"
rc=$?
[ $rc -eq 0 ] || fail "--help exited $rc"
for o in --host --port --threads --max-message --hold --max-sessions --max-conns-per-ip \
	--handshake-timeout --ping-interval --idle-timeout --write-timeout --help; do
	grep -q -- "$o" "$dir/out" || fail "--help does not list $o"
done
"$bin" relay -h >/dev/null 2>&1 || fail "-h exited $?"

# value, option, text the message must quote
for args in "--port abc" "--port 65536" "--port -1" "--threads 0" "--max-message x" \
	"--handshake-timeout 5q" "--ping-interval 0" "--bogus" "stray"; do
	# shellcheck disable=SC2086
	timeout 10 "$bin" relay $args >"$dir/out" 2>"$dir/err" </dev/null
	rc=$?
	[ $rc -eq 2 ] || fail "'relay $args' exited $rc, want 2"
	[ -s "$dir/err" ] || fail "'relay $args': no message on stderr"
	last=${args##* }
	grep -q -- "$last" "$dir/err" || fail "'relay $args': message does not quote '$last': $(cat "$dir/err")"
done
timeout 10 "$bin" relay --port abc 2>"$dir/err"
grep -q "port" "$dir/err" || fail "--port abc: message does not name the option: $(cat "$dir/err")"
echo "ok cli"
