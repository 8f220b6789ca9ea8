#!/bin/sh
# bench/plot --intervals (issue 15): a short staged run against our relay
# writes its interval lines (--json-interval), and bench/plot turns them
# into a PNG: the file starts with the PNG signature, its IHDR says 1000 x
# 900, and it is not a blank chart (over 10 KB); a file that is not
# interval lines is refused (exit 1) with no PNG. Exit 77 (skipped) without
# gnuplot or jq (.ci/deps installs gnuplot-nox and jq).
# Usage: plot_smoke.sh ATMOSPHERE ATMOSPHERE-BENCH PLOT
set -u
relay_bin=$1
. "$(dirname "$0")/../lib/listen.sh"
bench=$2
plot=$3
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: jq not installed"; exit 77; }
command -v gnuplot >/dev/null 2>&1 || { echo "SKIP: gnuplot not installed"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-plot.$$.XXXXXX")
relay_pid=
cleanup() {
	[ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

tl_start_relay "$relay_bin" "$dir/relay"
relay_pid=$tl_pid
port=$tl_port
[ -n "$port" ] || fail "relay did not start: $(cat "$dir/relay.err")"

# 1 s up to 4 sending sessions, 1 s back to 0, rows every 250 ms.
timeout 60 "$bench" relay --url "ws://127.0.0.1:$port" --mode latency --stage 1s:4,1s:0 --rate 40 --threads 1 \
	--interval 250ms --json-interval "$dir/run.jsonl" --metrics off >"$dir/run.out" 2>"$dir/run.err" ||
	fail "the staged run exited $?: $(cat "$dir/run.err")"
[ "$(wc -l <"$dir/run.jsonl")" -ge 6 ] || fail "fewer than 6 interval lines: $(cat "$dir/run.jsonl")"

"$plot" --intervals "$dir/run.jsonl" "$dir/run.png" || fail "bench/plot --intervals exited $?"
sig=$(od -An -tx1 -N8 "$dir/run.png" | tr -d ' \n')
[ "$sig" = "89504e470d0a1a0a" ] || fail "not a PNG: signature $sig"
# IHDR: the chunk type at byte 12, then width and height, big-endian.
ihdr=$(od -An -tx1 -j12 -N12 "$dir/run.png" | tr -d ' \n')
[ "$ihdr" = "49484452000003e800000384" ] || fail "IHDR is not 1000 x 900: $ihdr"
size=$(wc -c <"$dir/run.png")
[ "$size" -gt 10000 ] || fail "the PNG is only $size bytes"
echo "plot: $size bytes, 1000 x 900"

echo '{"atmos_hist":1}' >"$dir/bad.jsonl"
"$plot" --intervals "$dir/bad.jsonl" "$dir/bad.png" 2>"$dir/bad.err" && fail "a file without interval lines was plotted"
[ -e "$dir/bad.png" ] && fail "a refused file left a PNG"
grep -q "no interval line\|not interval lines" "$dir/bad.err" || fail "no reason for the refusal: $(cat "$dir/bad.err")"
echo "ok plot smoke"
