#!/bin/sh
# End-to-end smoke run of `atmosphere-bench relay` against our relay: each
# mode for about a second, and the plain TCP A -> B baseline. Figures are
# printed, not asserted; the run must work: exit 0, every session up,
# every latency message delivered, every connection alive, no error counted,
# valid JSON and histogram files.
# Usage: relay_smoke.sh ATMOSPHERE ATMOSPHERE-BENCH
set -u
relay_bin=$1
bench=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-smoke.$$.XXXXXX")
relay_pid=
cleanup() {
	[ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

"$relay_bin" relay --host 127.0.0.1 --port 0 --threads 1 --quiet --max-conns-per-ip 10000 \
	>"$dir/relay.out" 2>"$dir/relay.err" &
relay_pid=$!
port=
for _ in $(seq 1 100); do # up to 10 s for the "relay listening" line
	port=$(sed -n 's/^relay listening on .*:\([0-9][0-9]*\)$/\1/p' "$dir/relay.out")
	[ -n "$port" ] && break
	kill -0 "$relay_pid" 2>/dev/null || fail "relay exited: $(cat "$dir/relay.err")"
	sleep 0.1
done
[ -n "$port" ] || fail "relay did not say where it listens"
url=ws://127.0.0.1:$port

# check NAME FILE JQ-EXPRESSION...: every expression must be true in FILE.
check() {
	cname=$1 file=$2
	shift 2
	for e in "$@"; do
		v=$(jq -e "$e" "$file" 2>&1) || fail "$cname: '$e' is not true ($v); see $(cat "$file")"
	done
}

run() {
	name=$1
	shift
	echo "== $name: atmosphere-bench relay $*"
	timeout 60 "$bench" relay "$@" --json-out "$dir/$name.json" || fail "$name exited $?"
}

run throughput --url "$url" --sessions 4 --size 16K --duration 1 --warmup 200ms --relay-pid "$relay_pid"
check throughput "$dir/throughput.json" '.setup.sessions_up == 4' '.throughput.mb_per_s > 0' \
	'.errors.total == 0' '.wire.relay_to_b.overhead_pct < 1'

run latency --url "$url" --mode latency --sessions 20 --rate 50 --size 1400 --duration 1 --warmup 200ms \
	--hist-out "$dir/hist.csv"
check latency "$dir/latency.json" '.latency.lost == 0' '.latency.samples > 0' '.latency.p50_us > 0' \
	'.errors.total == 0'
head -n 1 "$dir/hist.csv" | grep -q '^latency_us,count,fraction_at_or_below$' || fail "histogram CSV header"
[ "$(tail -n 1 "$dir/hist.csv" | cut -d, -f3)" = "1.000000000" ] || fail "histogram does not reach 1"

run connections --url "$url" --mode connections --sessions 200 --duration 500ms --relay-pid "$relay_pid"
check connections "$dir/connections.json" '.connections.alive == 200' '.connections.relay_rss_bytes_per_conn != null' \
	'.setup.sessions_per_s > 0' '.errors.total == 0'

run direct --sink 127.0.0.1:0 --mode latency --sessions 10 --rate 50 --duration 1 --warmup 200ms
check direct "$dir/direct.json" '.latency.lost == 0' '.errors.total == 0'

echo "== csv"
timeout 60 "$bench" relay --url "$url" --sessions 2 --duration 200ms --warmup 0 --csv >"$dir/out.csv" || fail "csv run"
[ "$(wc -l <"$dir/out.csv")" -eq 2 ] || fail "csv: want a header and one row: $(cat "$dir/out.csv")"
cat "$dir/out.csv"

kill -0 "$relay_pid" 2>/dev/null || fail "the relay died during the run: $(cat "$dir/relay.err")"
echo "ok relay smoke"
