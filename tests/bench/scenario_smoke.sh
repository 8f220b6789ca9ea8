#!/bin/sh
# Scenarios of `atmosphere-bench relay` (issue 15) end to end on loopback,
# each run a few seconds with a few sessions:
# - a staged run with churn (--scenario FILE: stages up to 4 sessions, held,
#   down to 0; a size distribution; idle sessions; 4 replaced a second)
#   against our relay, without errors or loss: its
#   --json-interval lines carry the stage fields, the active sessions rise
#   to the peak and fall back to 0 in stage order, "sessions_up" stays at
#   every session (none ended), and nothing is lost;
# - the staged scenario as a JSON file, --direction both and a list of
#   thresholds: each direction delivers everything, stages and churn done;
# - --direction both: each direction delivers (its own sent == received)
#   and has its own latency;
# - --think: 4 sessions at 100 msgs/s with 40 ms of think time send a
#   fifth of what they send without (gap 10 + 40 ms), and lose nothing;
# - --rate-stage from a scenario file (0 -> 200 msgs/s per session over
#   1 s, held 1 s, down to 0 over 1 s): the interval rows' rate level and
#   msgs rise then fall, and the total is the plan's area, none lost;
# - a malformed scenario file is a usage error naming the line;
# - the same scenario against the seed's aiohttp relay
#   (tests/node/min_relay.py under /usr/bin/python3) completes and
#   delivers; skipped (the rest still runs) without python3-aiohttp.
# Exit 77 (skipped) without jq.
# Usage: scenario_smoke.sh ATMOSPHERE ATMOSPHERE-BENCH
set -u
relay_bin=$1
. "$(dirname "$0")/../lib/listen.sh"
bench=$2
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: jq not installed"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-scen.$$.XXXXXX")
relay_pid=
py_pid=
cleanup() {
	[ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null
	[ -n "$py_pid" ] && kill "$py_pid" 2>/dev/null && wait "$py_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

tl_start_relay "$relay_bin" "$dir/relay" --max-conns-per-ip 10000
relay_pid=$tl_pid
port=$tl_port
[ -n "$port" ] || fail "relay did not start: $(cat "$dir/relay.err")"

# The scenario: 1 s up to 4 sessions, 1 s held, 1 s down to 0; 2 idle; 4
# sessions replaced a second (churn).
cat >"$dir/staged.conf" <<'CONF'
# issue 15: a staged latency run
mode = latency
stage = 1s:4,1s:4,1s:0
rate = 40
size = 64:50,1400:40,16K:10
seed = 7
idle-sessions = 2
churn = 4/s
threads = 2
CONF

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

run staged 0 --scenario "$dir/staged.conf" --url "ws://127.0.0.1:$port" --interval 250ms \
	--json-interval "$dir/staged.jsonl" --json --threshold 'delivered>=100%'
jq -e '.latency.sent > 0 and .latency.lost == 0 and .idle_sessions == 2 and .stages == 3
	and .setup.churned >= 8 and .errors.total == 0' "$dir/staged.out" \
	>/dev/null || fail "staged: nothing sent, lost messages, errors, or no churn"
jq -c '{t: .t_end_s, stage, stage_target, stage_level, active: .sessions_active, up: .sessions_up, msgs}' \
	"$dir/staged.jsonl"
n=$(wc -l <"$dir/staged.jsonl")
[ "$n" -ge 10 ] || fail "staged: want >= 10 interval lines (250 ms over 3 s), got $n"
# Every line has the stage fields; all 6 sessions stay up.
jq -e 'has("stage") and has("stage_target") and has("stage_level") and has("sessions_active")
	and .sessions_up == 6 and .sessions == 6' "$dir/staged.jsonl" | grep -qv true &&
	fail "staged: a line lacks a stage field or lost a session"
# Stages go 1, 2, 3 in order; active sessions rise to the peak then fall to 0.
jq -s -e '[.[].stage] as $s | $s == ($s | sort) and ($s | index(1)) != null and ($s | index(3)) != null' \
	"$dir/staged.jsonl" >/dev/null || fail "staged: stages not in order 1..3"
jq -s -e '[.[].sessions_active] as $a | ($a | max) == 4 and $a[-1] == 0
	and ($a | index(4)) as $p | ($a[:$p] | . == sort) and ($a[$p:] | . == (sort | reverse))' \
	"$dir/staged.jsonl" >/dev/null || fail "staged: active sessions did not rise to 4 and fall to 0"
echo "staged: ok"

# The same scenario as a JSON file, with both directions and a threshold
# list: every message of each direction delivered, the stages and churn
# done, both thresholds reported.
cat >"$dir/staged.json" <<'JSON'
{"mode": "latency", "stage": "1s:4,1s:4,1s:0", "rate": 40, "size": "64:50,1400:40,16K:10",
 "seed": 7, "idle-sessions": 2, "churn": "4/s", "threads": 2, "direction": "both", "json": true,
 "threshold": ["delivered>=100%", "errors<1"]}
JSON
run staged-json 0 --scenario "$dir/staged.json" --url "ws://127.0.0.1:$port" --interval 0
jq -e '.direction == "both" and .stages == 3 and .idle_sessions == 2 and .setup.churned >= 8
	and .latency.ab.sent > 0 and .latency.ab.received == .latency.ab.sent
	and .latency.ba.sent > 0 and .latency.ba.received == .latency.ba.sent and .errors.total == 0' \
	"$dir/staged-json.out" >/dev/null || fail "staged-json: the JSON scenario did not run as the file says"
[ "$(grep -c '^threshold .*: ok' "$dir/staged-json.err")" -eq 2 ] || fail "staged-json: want 2 threshold lines"
echo "staged-json: ok"

# Both directions deliver, each with its own latency.
run both 0 --url "ws://127.0.0.1:$port" --mode latency --direction both --sessions 3 --rate 50 \
	--duration 1 --warmup 250ms --threads 2 --interval 0 --json
jq -e '.direction == "both" and .latency.lost == 0 and .latency.ab.samples > 0 and .latency.ba.samples > 0
	and .latency.ab.samples + .latency.ba.samples == .latency.samples
	and .latency.ab.received == .latency.ab.sent and .latency.ba.received == .latency.ba.sent
	and .latency.ab.sent + .latency.ba.sent == .latency.sent' "$dir/both.out" >/dev/null ||
	fail "both: a direction did not deliver"
echo "both: ok"

# Think time: the same run with and without --think 40ms at 100 msgs/s
# per session; the gap becomes 50 ms, so a fifth of the messages.
lat="--url ws://127.0.0.1:$port --mode latency --sessions 4 --rate 100 --duration 2 --warmup 0 --threads 2 --interval 0 --json"
# shellcheck disable=SC2086
run nothink 0 $lat
# shellcheck disable=SC2086
run think 0 $lat --think 40ms
jq -e '.latency.lost == 0 and .errors.total == 0 and .think == null' "$dir/nothink.out" >/dev/null ||
	fail "nothink: lost messages or errors"
jq -e '.latency.lost == 0 and .errors.total == 0 and .think.mean_ms == 40' "$dir/think.out" >/dev/null ||
	fail "think: lost messages, errors or no think in the summary"
base=$(jq '.latency.sent' "$dir/nothink.out")
thought=$(jq '.latency.sent' "$dir/think.out")
echo "think: $base messages without, $thought with --think 40ms"
# 800 and 160 on a quiet machine; a loaded one may lose a few at the edges.
[ "$base" -ge 700 ] && [ "$thought" -gt 0 ] && [ $((thought * 45)) -le $((base * 10)) ] &&
	[ $((thought * 55)) -ge $((base * 10)) ] || fail "think: want about a fifth of $base messages, got $thought"
echo "think: ok"

# Rate stages from a file: 4 sessions ramp 0 -> 200 msgs/s, hold, ramp down.
cat >"$dir/rate.conf" <<'CONF'
mode = latency
sessions = 4
rate-stage = 1s:200,1s:200,1s:0
threads = 2
CONF
run rate 0 --scenario "$dir/rate.conf" --url "ws://127.0.0.1:$port" --interval 250ms \
	--json-interval "$dir/rate.jsonl" --json
jq -e '.rate == 200 and .rate_stages == 3 and .duration_s == 3 and .latency.lost == 0 and .errors.total == 0
	and .latency.sent >= 1500 and .latency.sent <= 1610' "$dir/rate.out" >/dev/null ||
	fail "rate: want rate 200 over 3 s, about 1600 messages (the plan's area), none lost"
jq -c '{t: .t_end_s, rate_stage, rate_target, rate_level, msgs}' "$dir/rate.jsonl"
n=$(wc -l <"$dir/rate.jsonl")
[ "$n" -ge 10 ] || fail "rate: want >= 10 interval lines (250 ms over 3 s), got $n"
# The level the plan asks for rises to 200 and falls to 0, in stage order.
jq -s -e '[.[].rate_level] as $l | ($l | max) == 200 and $l[-1] == 0
	and ($l | index(200)) as $p | ($l[:$p] | . == sort) and ($l[$p:] | . == (sort | reverse))
	and ([.[].rate_stage] | . == sort)' "$dir/rate.jsonl" >/dev/null ||
	fail "rate: rate_level did not rise to 200 and fall to 0"
# What arrived follows it: the first and last half second carry well under
# the middle's rate (~50 and ~200 msgs a row of 4 sessions, 250 ms).
jq -s -e '[.[].msgs] as $m | ($m | length) as $n | ($n / 2 | floor) as $h | ($m[$h - 1] + $m[$h]) as $mid
	| ($m[0] + $m[1]) * 2 < $mid and ($m[$n - 2] + $m[$n - 1]) * 2 < $mid' "$dir/rate.jsonl" >/dev/null ||
	fail "rate: interval msgs did not rise then fall"
echo "rate: ok"

# A malformed file: usage error with the line and the reason.
printf 'mode = latency\nsessions = 4\nstage = 1s:4,2x:0\n' >"$dir/bad.conf"
run bad 2 --scenario "$dir/bad.conf" --url "ws://127.0.0.1:$port"
grep -q "bad.conf: line 3: stage '1s:4,2x:0': stage 2: duration '2x'" "$dir/bad.err" || fail "bad: no line 3 reason"
echo "bad: ok"

# The same scenario against the seed's aiohttp relay.
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
run aiohttp 0 --scenario "$dir/staged.conf" --url "ws://127.0.0.1:$pport" --interval 0 --json
jq -e '.latency.sent > 0 and .latency.received > 0 and .setup.sessions_up == 6 and .setup.churned > 0' "$dir/aiohttp.out" >/dev/null ||
	fail "aiohttp: the scenario did not complete"
echo "aiohttp: ok"
