#!/bin/sh
# End-to-end smoke run of `atmosphere-bench stun`: against its own reflector
# and against `atmosphere stun-server`, capacity (max) and paced, about a
# second each; against our server also paced beside a garbage flood
# (--garbage-rate) and the client's cost (--client). Figures are printed,
# not asserted; the runs must work: exit 0, answers counted, nothing lost
# when paced well below capacity without a flood; the paced runs'
# --hist-out files merge (`atmosphere-bench merge`) into what the runs said. Under the flood only that
# both kinds of slot were measured and the garbage went out: how much is lost
# then depends on the machine.
# Usage: stun_smoke.sh ATMOSPHERE ATMOSPHERE-BENCH
set -u
atmos=$1
bench=$2
. "$(dirname "$0")/../lib/json_check.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/stun-smoke.$$.XXXXXX")
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# start NAME PATTERN CMD...: runs CMD, waits for PATTERN's port on its stdout.
start() {
	name=$1 pattern=$2
	shift 2
	"$@" >"$dir/$name.out" 2>"$dir/$name.err" &
	pids="$pids $!"
	for _ in $(seq 1 100); do
		port=$(sed -n "s/$pattern/\\1/p" "$dir/$name.out")
		[ -n "$port" ] && return 0
		sleep 0.1
	done
	fail "$name did not start: $(cat "$dir/$name.err")"
}

start reflector '^reflector listening on udp .*:\([0-9][0-9]*\)$' "$bench" stun --reflect 127.0.0.1:0
ref_port=$port
servers="reflector:$ref_port"
if "$atmos" stun-server --help >/dev/null 2>&1; then
	start ours '^stun-server listening on udp .*:\([0-9][0-9]*\) .*' "$atmos" stun-server --host 127.0.0.1 \
		--port 0 --threads 1 --rate 0
	servers="$servers ours:$port"
	ours_port=$port
fi

for s in $servers; do
	name=${s%%:*} p=${s#*:}
	echo "== $name: max"
	timeout 30 "$bench" stun --server "127.0.0.1:$p" --duration 1 --warmup 200ms --sockets 4 \
		--json-out "$dir/$name-max.json" || fail "$name max exited $?"
	check "$name max" "$dir/$name-max.json" '.answered > 0' '.answers_per_s > 0' '.latency.samples > 0'
	echo "== $name: paced"
	timeout 30 "$bench" stun --server "127.0.0.1:$p" --duration 1 --warmup 200ms --rate 2000 \
		--json-out "$dir/$name-paced.json" --hist-out "$dir/$name-paced.hist" || fail "$name paced exited $?"
	check "$name paced" "$dir/$name-paced.json" '.loss_pct == 0' '.answered == .sent' '.latency.p50_us > 0'
	# --hist-out is the histogram the summary read: merged alone it gives
	# the same samples and percentiles, to the printed digit.
	timeout 10 "$bench" merge --json "$dir/$name-paced.hist" >"$dir/$name-merge1.json" ||
		fail "$name: merge of its --hist-out exited $?"
	for f in samples p50_us p99_us max_us; do
		src=".latency.$f"
		a=$(jq "$src" "$dir/$name-paced.json") b=$(jq ".$f" "$dir/$name-merge1.json")
		[ "$a" = "$b" ] || fail "$name: --hist-out merged alone gives $f $b, the run said $a"
	done
	hists="${hists:-} $dir/$name-paced.hist"
	jsons="${jsons:-} $dir/$name-paced.json"
done
# STUN runs merge like relay runs: the merged count is the sum of the runs'.
# shellcheck disable=SC2086
timeout 10 "$bench" merge --json $hists >"$dir/merged.json" || fail "merge of the STUN runs exited $?"
# shellcheck disable=SC2086
want=$(jq -s 'map(.latency.samples) | add' $jsons)
check "merged" "$dir/merged.json" ".samples == $want" ".files == $(echo $hists | wc -w)" '.sig_digits == 3'
timeout 10 "$bench" stun --reflect 127.0.0.1:0 --hist-out "$dir/x.hist" >/dev/null 2>&1 &&
	fail "--reflect with --hist-out accepted"
if [ -n "${ours_port:-}" ]; then
	echo "== ours: paced with a garbage flood"
	timeout 30 "$bench" stun --server "127.0.0.1:$ours_port" --duration 1 --warmup 200ms --rate 2000 \
		--garbage-rate 20000 --json-out "$dir/ours-flood.json" || fail "flood exited $?"
	check "ours flood" "$dir/ours-flood.json" '.garbage.sent > 0' '.garbage.quiet.sent > 0' \
		'.garbage.flood.sent > 0' '.garbage.quiet.answered > 0' '.garbage.kinds.oversize > 0'
	echo "== ours: client cost"
	timeout 60 "$bench" stun --client --server "127.0.0.1:$ours_port" --rounds 3 --atmosphere "$atmos" \
		--json-out "$dir/client.json" || fail "--client exited $?"
	check "client" "$dir/client.json" '.discoveries == 3' '.all_answered == 3' '.bytes.per_discovery > 0' \
		'.memory.process_network_maxrss_kib > 0' '.memory.process_network_status == 0'
fi
timeout 10 "$bench" stun --server 127.0.0.1:0 >/dev/null 2>&1 && fail "--server with port 0 accepted"
timeout 10 "$bench" stun --reflect 127.0.0.1:0 --garbage-rate 10 >/dev/null 2>&1 && fail "--reflect with a flood accepted"
timeout 10 "$bench" stun --client >/dev/null 2>&1 && fail "--client without --server accepted"
echo "ok stun smoke"
