#!/bin/sh
# Live results, thresholds and histogram files of `atmosphere-bench relay`
# (issue 15) end to end, against our relay on loopback, each run about a
# second with a few sessions: the --json-interval lines parse (jq) and
# carry every documented field; a threshold that must fail ('p99<1ns')
# gives exit 3 and says FAILED, loose ones give 0 and say ok, a bad one is
# a usage error (2); two --hist-out files merged by `atmosphere-bench merge`
# count the sum of their samples; a malformed file is refused, and so is
# every bad-* seed of the fuzz corpus while every ok-* one is accepted.
# Usage: live_smoke.sh ATMOSPHERE ATMOSPHERE-BENCH
set -u
relay_bin=$1
. "$(dirname "$0")/../lib/listen.sh"
bench=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: jq not installed"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-live.$$.XXXXXX")
relay_pid=
cleanup() {
	[ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

tl_start_relay "$relay_bin" "$dir/relay" --max-conns-per-ip 10000
relay_pid=$tl_pid
port=$tl_port
[ -n "$port" ] || fail "relay did not start: $(cat "$dir/relay.err")"
url=ws://127.0.0.1:$port
lat="--url $url --mode latency --sessions 4 --rate 50 --duration 1 --warmup 250ms --threads 2"

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

# A threshold no run can meet: exit 3, after the whole summary.
# shellcheck disable=SC2086
run strict 3 $lat --interval 250ms --json-interval "$dir/strict.jsonl" --hist-out "$dir/a.hist" \
	--threshold 'p99<1ns' --threshold 'errors<=0'
grep -q '^threshold p99<1ns: FAILED (measured [0-9.]*ns)$' "$dir/strict.out" || fail "no FAILED line for p99<1ns"
grep -q '^threshold errors<=0: ok (measured 0)$' "$dir/strict.out" || fail "no ok line for errors<=0"
grep -q '^one-way latency us' "$dir/strict.out" || fail "the summary is missing"

# Interval lines: JSON, one per interval, every field; warm-up then run;
# not a terminal, so plain lines on stderr too.
n=$(wc -l <"$dir/strict.jsonl")
[ "$n" -ge 4 ] || fail "want >= 4 interval lines (250 ms over 1.25 s), got $n: $(cat "$dir/strict.jsonl")"
jq -e -s '
	length >= 4 and
	.[0].phase == "warmup" and .[-1].phase == "run" and
	([.[].interval] == [range(0; length)]) and
	all(.[]; (.t_end_s > .t_start_s) and .workers == 2 and .sessions_up == 4 and .sessions == 4 and
		(.msgs | type) == "number" and (.msgs_per_s | type) == "number" and (.bytes | type) == "number" and
		(.mb_per_s | type) == "number" and (.latency.samples | type) == "number" and
		(.latency | has("p50_us") and has("p90_us") and has("p99_us") and has("p999_us") and has("max_us")) and
		.errors.total == 0 and (.errors | has("refused") and has("closed") and has("http_503"))) and
	([.[] | select(.phase == "run") | .latency.samples] | add) > 0
' "$dir/strict.jsonl" >/dev/null || fail "interval JSON lines: $(cat "$dir/strict.jsonl")"
grep -q '^atmosphere-bench relay: run .* msgs/s, .* MB/s, p50 .*us p99 .*us, errors 0$' "$dir/strict.err" ||
	fail "no plain interval line on stderr"

# Loose thresholds: exit 0, each ok.
# shellcheck disable=SC2086
run loose 0 $lat --interval 0 --hist-out "$dir/b.hist" --threshold 'p99<60s' --threshold 'errors<0.1%' \
	--threshold 'delivered>=99.9%' --threshold 'msgs/s>1' --threshold 'MB/s>0'
[ "$(grep -c '^threshold .*: ok (measured' "$dir/loose.out")" -eq 5 ] || fail "want 5 ok lines"
grep -q 'atmosphere-bench relay: run' "$dir/loose.err" && fail "--interval 0 still printed interval lines"

# With --json the threshold lines go to stderr, stdout stays one JSON object.
# shellcheck disable=SC2086
run json 3 $lat --interval 0 --json --threshold 'max<1ns'
jq -e '.latency.samples > 0' "$dir/json.out" >/dev/null || fail "stdout is not the JSON report"
grep -q '^threshold max<1ns: FAILED' "$dir/json.err" || fail "threshold line not on stderr with --json"

# Throughput rows carry no latency.
run tput 0 --url "$url" --sessions 2 --size 4K --duration 500ms --warmup 0 --interval 250ms \
	--json-interval "$dir/tput.jsonl"
jq -e -s 'length >= 2 and all(.[]; .latency == null and .phase == "run") and ([.[].msgs] | add) > 0' \
	"$dir/tput.jsonl" >/dev/null || fail "throughput interval lines: $(cat "$dir/tput.jsonl")"

# Usage errors: exit 2 with the reason.
run badthr 2 --url "$url" --mode latency --threshold 'p99=5ms'
grep -q "operator" "$dir/badthr.err" || fail "bad threshold: no reason"
run latthr 2 --url "$url" --threshold 'p99<5ms'
grep -q "latency is measured by --mode latency only" "$dir/latthr.err" || fail "p99 in throughput mode: no reason"

# merge: the count of two files is the sum; percentiles printed.
echo "== merge"
ca=$(jq .count "$dir/a.hist") cb=$(jq .count "$dir/b.hist")
[ "$ca" -gt 0 ] && [ "$cb" -gt 0 ] || fail "empty histograms: $ca, $cb"
timeout 30 "$bench" merge --json --out "$dir/m.hist" "$dir/a.hist" "$dir/b.hist" >"$dir/merge.json" ||
	fail "merge exited $?"
cat "$dir/merge.json"
jq -e --argjson n $((ca + cb)) '.samples == $n and .files == 2 and .p99_us >= .p50_us and .max_us >= .p99_us' \
	"$dir/merge.json" >/dev/null || fail "merged count is not $ca + $cb"
jq -e --argjson n $((ca + cb)) '.count == $n and .atmos_hist == 1' "$dir/m.hist" >/dev/null ||
	fail "--out: $(head -c 200 "$dir/m.hist")"
timeout 30 "$bench" merge "$dir/m.hist" | grep -q "^samples  *$((ca + cb))$" || fail "merge table"
echo '{"atmos_hist":1,"unit":"ns","sig_digits":3,"highest":1000,"count":1,"min":5,"max":5,"sum":5,"buckets":[]}' \
	>"$dir/bad.hist"
if timeout 30 "$bench" merge "$dir/a.hist" "$dir/bad.hist" >"$dir/bad.out" 2>"$dir/bad.err"; then
	fail "a malformed file was merged"
fi
grep -q "bad.hist': byte [0-9]*: totals disagree with the buckets: count 1, but the buckets hold 0" "$dir/bad.err" ||
	fail "malformed file: $(cat "$dir/bad.err")"

# The fuzz seeds (tests/fuzz/corpus/hist): ok-* are accepted, bad-* refused.
corpus=$(cd "$(dirname "$0")/../fuzz/corpus/hist" && pwd)
for f in "$corpus"/ok-* "$corpus"/bad-*; do
	if timeout 30 "$bench" merge "$f" >/dev/null 2>"$dir/seed.err"; then
		case $(basename "$f") in bad-*) fail "seed $(basename "$f") was accepted" ;; esac
	else
		case $(basename "$f") in ok-*) fail "seed $(basename "$f") was refused: $(cat "$dir/seed.err")" ;; esac
	fi
done

kill -0 "$relay_pid" 2>/dev/null || fail "the relay died during the run: $(cat "$dir/relay.err")"
echo "ok live smoke"
