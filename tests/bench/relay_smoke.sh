#!/bin/sh
# End-to-end smoke run of `atmosphere-bench relay` against our relay: each
# mode for about a second, and the plain TCP A -> B baseline; then each mode
# over wss:// against a second relay with a throw-away CA (skipped without
# openssl), and connections spread over loopback source addresses. Figures
# are printed, not asserted; the run must work: exit 0, every session up,
# every latency message delivered, every connection alive, no error counted,
# valid JSON and histogram files; a certificate from an unknown CA is refused.
# Usage: relay_smoke.sh ATMOSPHERE ATMOSPHERE-BENCH
set -u
relay_bin=$1
. "$(dirname "$0")/../lib/listen.sh"
. "$(dirname "$0")/../lib/json_check.sh"
bench=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-smoke.$$.XXXXXX")
relay_pid=
tls_pid=
cleanup() {
	[ -n "$relay_pid" ] && kill "$relay_pid" 2>/dev/null && wait "$relay_pid" 2>/dev/null
	[ -n "$tls_pid" ] && kill "$tls_pid" 2>/dev/null && wait "$tls_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

tl_start_relay "$relay_bin" "$dir/relay" --max-conns-per-ip 10000
relay_pid=$tl_pid
port=$tl_port
[ -n "$port" ] || fail "relay did not start: $(cat "$dir/relay.err")"
url=ws://127.0.0.1:$port

run() {
	name=$1
	shift
	echo "== $name: atmosphere-bench relay $*"
	timeout 60 "$bench" relay "$@" --json-out "$dir/$name.json" || fail "$name exited $?"
}

run throughput --url "$url" --sessions 4 --size 16K --duration 1 --warmup 200ms --relay-pid "$relay_pid"
check throughput "$dir/throughput.json" '.setup.sessions_up == 4' '.throughput.mb_per_s > 0' \
	'.errors.total == 0' '.wire.relay_to_b.overhead_pct < 1' \
	'.throughput.jain > 0 and .throughput.jain <= 1' \
	'.throughput.per_session_mb_per_s.p10 >= .throughput.per_session_mb_per_s.min' \
	'.tcp_mem.samples > 0 and .tcp_mem.peak_bytes >= .tcp_mem.before_bytes' \
	'.tcp_mem.relay_sockets >= 8 and .tcp_mem.relay_end_bytes != null'

run latency --url "$url" --mode latency --sessions 20 --rate 50 --size 1400 --duration 1 --warmup 200ms \
	--hist-csv "$dir/hist.csv"
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

# Source spreading: every connection from one of 64 loopback addresses.
run spread --url "$url" --mode connections --sessions 200 --duration 200ms --sources 64 --source-range 127.0.0.0/8
check spread "$dir/spread.json" '.connections.alive == 200' '.sources.addresses == 64' '.errors.total == 0'
echo "== spread: a source range that is not local is refused before any traffic"
if timeout 60 "$bench" relay --url "$url" --sessions 1 --duration 200ms --source-range 192.0.2.0/24 \
	>"$dir/nonlocal.out" 2>&1; then
	fail "a non-local --source-range ran: $(cat "$dir/nonlocal.out")"
fi
grep -q 'not a local address' "$dir/nonlocal.out" || fail "non-local range: $(cat "$dir/nonlocal.out")"

kill -0 "$relay_pid" 2>/dev/null || fail "the relay died during the run: $(cat "$dir/relay.err")"

# wss://: a throw-away CA and a certificate for 127.0.0.1 and localhost.
if ! command -v openssl >/dev/null 2>&1; then
	echo "== wss: skipped (openssl not installed)"
	echo "ok relay smoke"
	exit 0
fi
(
	cd "$dir" &&
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
			-days 2 -subj /CN=atmos-bench-test-ca &&
		printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout srv.key -out srv.csr \
			-subj /CN=localhost &&
		openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext
) >"$dir/openssl.log" 2>&1 || fail "cannot make a test certificate: $(cat "$dir/openssl.log")"
tl_start_relay "$relay_bin" "$dir/tls" --max-conns-per-ip 10000 --tls-cert "$dir/srv.pem" --tls-key "$dir/srv.key"
tls_pid=$tl_pid
tport=$tl_port
[ -n "$tport" ] || fail "TLS relay did not start: $(cat "$dir/tls.err")"
wss=wss://127.0.0.1:$tport

run wss-throughput --url "$wss" --ca "$dir/ca.pem" --sessions 4 --size 16K --duration 1 --warmup 200ms \
	--relay-pid "$tls_pid"
check wss-throughput "$dir/wss-throughput.json" '.setup.sessions_up == 4' '.throughput.mb_per_s > 0' \
	'.errors.total == 0' '.tls.version == "1.3"' '.wire.counts == "tls"' '.wire.tls_handshake_bytes > 0'
run wss-latency --url "$wss" --ca "$dir/ca.pem" --mode latency --sessions 20 --rate 50 --size 1400 --duration 1 \
	--warmup 200ms
check wss-latency "$dir/wss-latency.json" '.latency.lost == 0' '.latency.samples > 0' '.errors.total == 0'
run wss-connections --url "$wss" --ca "$dir/ca.pem" --mode connections --sessions 50 --duration 200ms \
	--relay-pid "$tls_pid" --sources 16
check wss-connections "$dir/wss-connections.json" '.connections.alive == 50' '.errors.total == 0'
run wss-tls12 --url "wss://localhost:$tport" --ca "$dir/ca.pem" --tls-version 1.2 --sessions 2 --duration 200ms \
	--warmup 0
check wss-tls12 "$dir/wss-tls12.json" '.setup.sessions_up == 2' '.tls.version == "1.2"' '.errors.total == 0'
run wss-insecure --url "$wss" --insecure --sessions 2 --duration 200ms --warmup 0
check wss-insecure "$dir/wss-insecure.json" '.setup.sessions_up == 2' '.tls.verify == false' '.errors.total == 0'
echo "== wss: a certificate from an unknown CA is refused (the leaf is no CA)"
if timeout 60 "$bench" relay --url "$wss" --ca "$dir/srv.pem" --sessions 1 --duration 200ms --json \
	>"$dir/untrusted.json" 2>"$dir/untrusted.err"; then
	fail "an untrusted certificate was accepted: $(cat "$dir/untrusted.json" "$dir/untrusted.err")"
fi
grep -q 'CERTIFICATE_VERIFY_FAILED' "$dir/untrusted.err" || fail "no reason given: $(cat "$dir/untrusted.err")"
# Both connections of the one session dial at once, and both refuse.
jq -e '.errors.tls == 2' "$dir/untrusted.json" >/dev/null || fail "TLS failures not counted: $(cat "$dir/untrusted.json")"

kill -0 "$tls_pid" 2>/dev/null || fail "the TLS relay died during the run: $(cat "$dir/tls.err")"
echo "ok relay smoke"
