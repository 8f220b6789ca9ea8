#!/bin/sh
# Scenarios through a sink (issue 15, "other relays: a plain TCP proxy
# sink"): the staged scenario of scenario_smoke.sh (stages up to 4 sending
# sessions, held, down to 0; a size distribution; 2 idle sessions; 4
# sessions replaced a second) run with --sink, B being the generator's own
# sink instead of a relay:
# - plain TCP, A dialing the sink directly (--sink 127.0.0.1:0);
# - through HAProxy (mode tcp) in front of the sink, as bench/run's
#   baseline row; skipped (the rest still runs) without haproxy.
# Each must exit 0 with everything sent delivered (lost 0, received ==
# sent), no error, the churn done (replacements counted), all 6 sessions
# up in every interval row, the stage fields in every row, the stages in
# order and the active sessions rising to 4 and falling to 0; and payload
# bytes of more than one size (the mean size of the received messages
# strictly between the smallest and the largest of the distribution).
# Then --direction ba and both through a sink, with 1 and 2 load threads
# (with 2 the kernel hands about half of the sink's ends to the thread that
# does not own their session, which must pass them on): each must exit 0
# with every message of each direction delivered, counted per direction
# (latency.ab/.ba sent == received, their sums the totals; for ba nothing
# A -> B), latency samples each way, and no error; and the staged scenario
# (stages, sizes, idle sessions, churn) with --direction both, plain TCP.
# Exit 77 (skipped) without jq.
# Usage: sink_scenario_smoke.sh ATMOSPHERE ATMOSPHERE-BENCH
set -u
bench=$2
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v jq >/dev/null 2>&1 || { echo "SKIP: jq not installed"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/bench-sinkscen.$$.XXXXXX")
hap_pid=
cleanup() {
	[ -n "$hap_pid" ] && kill "$hap_pid" 2>/dev/null && wait "$hap_pid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

cat >"$dir/staged.conf" <<'CONF'
# issue 15: the staged latency run of scenario_smoke.sh, through a sink
mode = latency
stage = 1s:4,1s:4,1s:0
rate = 40
size = 64:50,1400:40,16K:10
seed = 7
idle-sessions = 2
churn = 4/s
threads = 2
CONF

# staged NAME ARGS...: the scenario with ARGS (the target), and its checks.
staged() {
	name=$1
	shift
	echo "== $name: atmosphere-bench relay --scenario staged.conf $*"
	timeout 60 "$bench" relay --scenario "$dir/staged.conf" "$@" --interval 250ms \
		--json-interval "$dir/$name.jsonl" --json --threshold 'delivered>=100%' \
		>"$dir/$name.out" 2>"$dir/$name.err"
	got=$?
	cat "$dir/$name.out" "$dir/$name.err"
	[ "$got" -eq 0 ] || fail "$name exited $got, want 0"
	jq -e '.sink != null and .latency.sent > 0 and .latency.lost == 0 and .latency.received == .latency.sent
		and .idle_sessions == 2 and .stages == 3 and .setup.sessions_up == 6 and .setup.churned >= 8
		and .errors.total == 0' "$dir/$name.out" >/dev/null ||
		fail "$name: not a sink run, nothing sent, lost messages, a session down, errors, or no churn"
	# Sizes drawn from 64:50,1400:40,16K:10: the payload received is
	# neither all 64 B nor all 16 KiB messages.
	jq -s -e '(map(.bytes) | add) as $b | (map(.msgs) | add) as $m | $m > 0 and $b > 64 * $m and $b < 16384 * $m' \
		"$dir/$name.jsonl" >/dev/null || fail "$name: the received payload is not of mixed sizes"
	jq -c '{t: .t_end_s, stage, stage_target, stage_level, active: .sessions_active, up: .sessions_up, msgs, bytes}' \
		"$dir/$name.jsonl"
	n=$(wc -l <"$dir/$name.jsonl")
	[ "$n" -ge 10 ] || fail "$name: want >= 10 interval lines (250 ms over 3 s), got $n"
	jq -e 'has("stage") and has("stage_target") and has("stage_level") and has("sessions_active")
		and .sessions_up == 6 and .sessions == 6' "$dir/$name.jsonl" | grep -qv true &&
		fail "$name: a line lacks a stage field or lost a session"
	jq -s -e '[.[].stage] as $s | $s == ($s | sort) and ($s | index(1)) != null and ($s | index(3)) != null' \
		"$dir/$name.jsonl" >/dev/null || fail "$name: stages not in order 1..3"
	jq -s -e '[.[].sessions_active] as $a | ($a | max) == 4 and $a[-1] == 0
		and ($a | index(4)) as $p | ($a[:$p] | . == sort) and ($a[$p:] | . == (sort | reverse))' \
		"$dir/$name.jsonl" >/dev/null || fail "$name: active sessions did not rise to 4 and fall to 0"
	grep -q '^threshold delivered>=100%: ok' "$dir/$name.err" || fail "$name: no threshold line"
	echo "$name: ok"
}

staged direct --sink 127.0.0.1:0
staged both-direct --sink 127.0.0.1:0 --direction both
jq -e '.direction == "both" and .latency.ab.sent > 0 and .latency.ba.sent > 0
	and .latency.ab.received == .latency.ab.sent and .latency.ba.received == .latency.ba.sent
	and .latency.ab.sent + .latency.ba.sent == .latency.sent' "$dir/both-direct.out" >/dev/null ||
	fail "both-direct: a direction's counts do not match what it sent"

# pick_port: a free loopback port (as bench/run).
pick_port() {
	for _ in $(seq 1 100); do
		p=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 12000 + 20000 ))
		if [ -z "$(ss -Htan "( sport = :$p or dport = :$p )")" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

if command -v haproxy >/dev/null 2>&1 && command -v ss >/dev/null 2>&1; then
	sink_port=$(pick_port) || fail "no free port for the sink"
	hap_port=$(pick_port) || fail "no free port for haproxy"
	cat >"$dir/haproxy.cfg" <<-CFG
	global
	  nbthread 1
	  maxconn 1000
	defaults
	  mode tcp
	  timeout connect 5s
	  timeout client 60s
	  timeout server 60s
	frontend relay_hop
	  bind 127.0.0.1:$hap_port
	  default_backend sink
	backend sink
	  server b 127.0.0.1:$sink_port
	CFG
	haproxy -f "$dir/haproxy.cfg" -db >"$dir/haproxy.log" 2>&1 &
	hap_pid=$!
	up=
	for _ in $(seq 1 50); do # up to 5 s
		ss -Hltn "sport = :$hap_port" | grep -q LISTEN && { up=1; break; }
		kill -0 "$hap_pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$up" ] || fail "haproxy did not start: $(cat "$dir/haproxy.log")"
	staged haproxy --url "ws://127.0.0.1:$hap_port" --sink "127.0.0.1:$sink_port"
	kill -0 "$hap_pid" 2>/dev/null || fail "haproxy died during the run: $(cat "$dir/haproxy.log")"
else
	echo "== haproxy: skipped (haproxy or ss not installed; Debian: haproxy, iproute2)"
fi

# dir_run NAME DIRECTION THREADS ARGS...: a latency run through a sink in
# DIRECTION with THREADS load threads; every message of each direction
# must arrive.
dir_run() {
	name=$1 d=$2 t=$3
	shift 3
	echo "== $name: --direction $d --threads $t $*"
	timeout 60 "$bench" relay --mode latency --direction "$d" --threads "$t" --sessions 6 --rate 50 \
		--warmup 200ms --duration 1 --json "$@" >"$dir/$name.out" 2>"$dir/$name.err"
	got=$?
	cat "$dir/$name.out" "$dir/$name.err"
	[ "$got" -eq 0 ] || fail "$name exited $got, want 0"
	jq -e --arg d "$d" '.direction == $d and .sink != null and .setup.sessions_up == 6 and .errors.total == 0
		and .latency.sent > 0 and .latency.received == .latency.sent and .latency.lost == 0
		and .latency.samples > 0' "$dir/$name.out" >/dev/null ||
		fail "$name: not a $d sink run, a session down, errors, or messages lost"
	case $d in
	ba)
		# B sends, A only receives: no payload A -> B, B's frames crossed.
		jq -e '.wire.a_to_relay.payload_bytes == 0 and .wire.b_to_relay_bytes > 0' "$dir/$name.out" \
			>/dev/null || fail "$name: A sent payload, or B sent nothing"
		;;
	both)
		jq -e '.latency.ab.sent > 0 and .latency.ba.sent > 0
			and .latency.ab.received == .latency.ab.sent and .latency.ba.received == .latency.ba.sent
			and .latency.ab.sent + .latency.ba.sent == .latency.sent
			and .latency.ab.samples > 0 and .latency.ba.samples > 0' "$dir/$name.out" >/dev/null ||
			fail "$name: a direction's counts do not match what it sent"
		;;
	esac
	echo "$name: ok"
}

for t in 1 2; do
	dir_run "ba-t$t" ba "$t" --sink 127.0.0.1:0
	dir_run "both-t$t" both "$t" --sink 127.0.0.1:0
done
if [ -n "$hap_pid" ]; then
	dir_run ba-haproxy ba 2 --url "ws://127.0.0.1:$hap_port" --sink "127.0.0.1:$sink_port"
	dir_run both-haproxy both 2 --url "ws://127.0.0.1:$hap_port" --sink "127.0.0.1:$sink_port"
fi
echo "ok sink scenario smoke"
