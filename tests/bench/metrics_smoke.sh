#!/bin/sh
# `atmosphere-bench relay --metrics` (issue 15) end to end on loopback:
# - against our relay (default URL, derived from --url): the relay's own
#   deltas are read and equal what the client did: sessions paired, data
#   messages, payload bytes between the client's payload and that plus 14
#   bytes of frame header a message, no drops; --direction both counts B's
#   messages too; the table prints the comparison;
# - --metrics off: no scrape (null in the JSON); a bad --metrics URL is a
#   usage error;
# - against the seed's aiohttp relay (tests/node/min_relay.py, no
#   /metrics): the run succeeds and says "not exposed" (HTTP 404); skipped
#   without python3-aiohttp.
# Exit 77 (skipped) without jq.
# Usage: metrics_smoke.sh ATMOSPHERE ATMOSPHERE-BENCH
set -u
relay_bin=$1
. "$(dirname "$0")/../lib/listen.sh"
bench=$2
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: jq not installed"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-metrics.$$.XXXXXX")
relay_pid=
py_pid=
cleanup() {
	[ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null
	[ -n "$py_pid" ] && kill "$py_pid" 2>/dev/null && wait "$py_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# run NAME WANT-EXIT ARGS...: stdout to NAME.out, stderr to NAME.err.
run() {
	name=$1 want=$2
	shift 2
	echo "== $name: atmosphere-bench relay $*"
	timeout 60 "$bench" relay "$@" >"$dir/$name.out" 2>"$dir/$name.err"
	got=$?
	cat "$dir/$name.out" "$dir/$name.err"
	[ "$got" -eq "$want" ] || fail "$name exited $got, want $want"
}

# check NAME JQ...: every expression is true of NAME.out.
check() {
	name=$1
	shift
	for e in "$@"; do
		jq -e "$e" "$dir/$name.out" >/dev/null || fail "$name: '$e' is not true"
	done
}

tl_start_relay "$relay_bin" "$dir/relay"
relay_pid=$tl_pid
port=$tl_port
[ -n "$port" ] || fail "relay did not start: $(cat "$dir/relay.err")"

common="--mode latency --sessions 4 --rate 50 --duration 1 --warmup 200ms --interval 0 --threads 1"
# shellcheck disable=SC2086
run ours 0 $common --size 1400 --url "ws://127.0.0.1:$port" --json
m=.relay_metrics
check ours "$m.url == \"http://127.0.0.1:$port/metrics\"" "$m.exposed == true" "$m.reason == null" \
	"$m.sessions.relay == 4" "$m.sessions.client == 4" \
	".latency.sent > 0" "$m.messages.relay == .latency.sent" "$m.messages.client == .latency.sent" \
	"$m.bytes.client == .latency.sent * 1400" \
	"$m.bytes.relay >= $m.bytes.client" "$m.bytes.relay <= $m.bytes.client + 14 * $m.messages.client" \
	"$m.drops.relay == 0" "$m.drops.client_errors == 0"
echo "ours: ok"

# Both directions: B's messages and bytes are the client's too.
# shellcheck disable=SC2086
run both 0 $common --size 64-1400 --direction both --url "ws://127.0.0.1:$port" --json
check both "$m.exposed == true" "$m.messages.relay == .latency.sent" "$m.messages.client == .latency.sent" \
	"$m.bytes.relay >= $m.bytes.client" "$m.bytes.relay <= $m.bytes.client + 14 * $m.messages.client" \
	"$m.bytes.client > .latency.sent * 64"
echo "both: ok"

# The table: the comparison after the summary.
# shellcheck disable=SC2086
run table 0 $common --url "ws://127.0.0.1:$port"
grep -q "^relay's own figures (http://127.0.0.1:$port/metrics, deltas over the run) beside the client's" \
	"$dir/table.out" || fail "table: no comparison"
grep -q "^sessions paired  *4  *4$" "$dir/table.out" || fail "table: no sessions row of 4 / 4"
echo "table: ok"

# shellcheck disable=SC2086
run off 0 $common --url "ws://127.0.0.1:$port" --json --metrics off
check off ".relay_metrics == null"
run badurl 2 --url "ws://127.0.0.1:$port" --metrics "https://127.0.0.1:$port/metrics"
grep -q "^atmosphere-bench relay: --metrics 'https://127.0.0.1:$port/metrics': https is not scraped" \
	"$dir/badurl.err" || fail "badurl: no reason"
echo "off, bad URL: ok"

py=/usr/bin/python3
if ! "$py" -c 'import aiohttp' 2>/dev/null; then
	echo "SKIP (aiohttp part): $py lacks aiohttp (python3-aiohttp)"
	exit 0
fi
# min_relay.py's handler on a port the kernel picks, read back.
"$py" -c '
import asyncio, sys
sys.path.insert(0, sys.argv[1])
from aiohttp import web
import min_relay
async def main():
    app = web.Application()
    app.router.add_get("/relay/{session_id}", min_relay.relay)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    print(f"min relay listening on 127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()
asyncio.run(main())
' "$here/../node" >"$dir/py.out" 2>"$dir/py.err" &
py_pid=$!
pport=$(tl_wait_port "$dir/py.out" "$py_pid" 's/^min relay listening on .*:\([0-9][0-9]*\)$/\1/p') ||
	fail "min_relay.py did not start: $(cat "$dir/py.err")"
# shellcheck disable=SC2086
run aiohttp 0 $common --url "ws://127.0.0.1:$pport" --json
check aiohttp ".latency.received > 0" "$m.exposed == false" "$m.reason == \"HTTP 404\"" "$m.bytes.relay == null" \
	"$m.bytes.client > 0"
# shellcheck disable=SC2086
run aiohttp-table 0 $common --url "ws://127.0.0.1:$pport"
grep -q "^relay's own figures: http://127.0.0.1:$pport/metrics not exposed (HTTP 404)$" "$dir/aiohttp-table.out" ||
	fail "aiohttp: the table does not say 'not exposed'"
echo "aiohttp: ok"
echo "ok metrics smoke"
