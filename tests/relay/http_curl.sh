#!/bin/sh
# The relay's HTTP endpoints through curl, against the real binary on port 0:
# /health in the seed's exact form, /stats keys, /metrics in Prometheus text,
# 404 for an unknown path, 405 (with Allow: GET) for POST and PUT.
# Usage: http_curl.sh BINARY. Exit 77 when curl is missing.
set -eu
bin=$1
command -v curl >/dev/null 2>&1 || { echo "skip: curl not installed"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/relay-curl.$$.XXXXXX")
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM
fail() { echo "FAIL: $*" >&2; exit 1; }

mkfifo "$dir/out"
"$bin" relay --port 0 --host 127.0.0.1 --quiet >"$dir/out" 2>"$dir/err" &
pid=$!
# The first stdout line names the port (ctest's TIMEOUT bounds the wait).
exec 3<"$dir/out"
IFS= read -r line <&3 || fail "relay exited without a port: $(cat "$dir/err")"
port=${line##*127.0.0.1:}
case "$line" in "relay listening on 127.0.0.1:"*) ;; *) fail "first line '$line'" ;; esac
case "$port" in ''|*[!0-9]*|0) fail "port '$port'" ;; esac
url=http://127.0.0.1:$port
c() { curl --silent --show-error --max-time 10 "$@"; }

# /health: exactly {"status": "ok", "sessions": 0, "timestamp": T}, T near now.
body=$(c -D "$dir/h" "$url/health")
echo "$body" | grep -Eqx '\{"status": "ok", "sessions": 0, "timestamp": [0-9]+\}' || fail "/health body '$body'"
ts=$(echo "$body" | sed 's/.*"timestamp": \([0-9]*\)}/\1/')
now=$(date +%s)
[ $((ts - now)) -le 5 ] && [ $((now - ts)) -le 5 ] || fail "/health timestamp $ts, now $now"
grep -qi '^content-type: application/json' "$dir/h" || fail "/health content type: $(cat "$dir/h")"
head -1 "$dir/h" | grep -q '^HTTP/1.1 200' || fail "/health status: $(head -1 "$dir/h")"

# /stats: JSON with the issue's keys, all zero but uptime on a fresh relay.
body=$(c "$url/stats")
for k in total_sessions active_sessions waiting_sessions connections total_bytes_relayed uptime_s; do
	echo "$body" | grep -Eq "\"$k\": *[0-9]+" || fail "/stats lacks $k: $body"
done
for k in total_sessions active_sessions waiting_sessions total_bytes_relayed; do
	echo "$body" | grep -Eq "\"$k\": *0[,}]" || fail "/stats $k not 0 on a fresh relay: $body"
done
if command -v /usr/bin/python3 >/dev/null 2>&1; then
	echo "$body" | /usr/bin/python3 -c 'import json,sys; json.load(sys.stdin)' || fail "/stats is not JSON: $body"
fi

# /metrics: text/plain, # TYPE lines, every sample's family typed.
c -D "$dir/m" -o "$dir/metrics" "$url/metrics"
grep -qi '^content-type: text/plain' "$dir/m" || fail "/metrics content type: $(cat "$dir/m")"
grep -Eq '^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$' "$dir/metrics" ||
	fail "/metrics has no # TYPE line"
grep -v '^#' "$dir/metrics" | grep -v '^$' | while IFS= read -r l; do
	name=$(echo "$l" | sed 's/[{ ].*//')
	echo "$l" | grep -Eq '^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+0-9.eEInfa]+( [0-9]+)?$' || fail "bad sample '$l'"
	base=$(echo "$name" | sed -E 's/_(total|count|sum|bucket)$//')
	grep -Eq "^# TYPE ($name|$base) " "$dir/metrics" || fail "sample $name has no # TYPE"
done
grep -q session "$dir/metrics" || fail "/metrics has no session metric"

# Errors.
code() { c -o /dev/null -w '%{http_code}' "$@"; }
[ "$(code "$url/nope")" = 404 ] || fail "GET /nope: $(code "$url/nope")"
[ "$(code "$url/relay/abc/def")" = 400 ] || fail "GET /relay/abc/def"
[ "$(code -X POST "$url/relay/abc")" = 405 ] || fail "POST /relay/abc"
[ "$(code -X PUT --data x "$url/health")" = 405 ] || fail "PUT /health"
[ "$(code -X POST --data x "$url/stats")" = 405 ] || fail "POST /stats"
c -o /dev/null -D "$dir/405" -X POST "$url/metrics"
grep -Eqi '^allow: *GET' "$dir/405" || fail "405 without Allow: GET: $(cat "$dir/405")"

# Still alive, and stops cleanly.
[ "$(code "$url/health")" = 200 ] || fail "relay died"
kill -TERM "$pid"
wait "$pid" || fail "exit status $? after SIGTERM"
pid=
echo "ok http_curl"
