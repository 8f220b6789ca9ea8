#!/bin/bash
# deploy/fleet.sh: a local fleet of N Atmosphere relays behind HAProxy, on
# loopback, for trials (docs/SCALING.md). HAProxy runs deploy/haproxy/haproxy.cfg
# itself, with its bind and server lines replaced and the "prod-only" lines
# dropped, so a trial exercises the configuration that ships.
#
#   fleet.sh start [-n N] [-d DIR] [-b BINARY] [-H ADDR] [-p PORT] [-- RELAY_OPTION...]
#       N relays (default 3) on free ports of 127.0.0.1, each trusting
#       127.0.0.1 (HAProxy) with --trusted-proxy, and HAProxy on ADDR:PORT
#       (default 127.0.0.1 and a free port). Prints the fleet's URL. State, logs and the generated
#       haproxy.cfg go to DIR (default /tmp/atmosphere-fleet).
#   fleet.sh stop [-d DIR]       stops HAProxy and every relay (SIGTERM, then
#                                SIGKILL after 10 s), however many are left
#   fleet.sh status [-d DIR]     each relay's /health, and HAProxy's
#   fleet.sh kill K [-d DIR]     SIGKILL relay K (1..N): a crash, for trials
#   fleet.sh restart K [-d DIR]  starts relay K again on its port
#
# Needs haproxy (Debian: apt install haproxy), curl and /usr/bin/python3. Exit 0 on success,
# 1 on failure (with the reason on stderr), 2 on a usage error.
set -u

here=$(cd "$(dirname "$0")" && pwd)
template=$here/haproxy/haproxy.cfg
dir=/tmp/atmosphere-fleet
num=3
port=
host=127.0.0.1
binary=
relay_args=()

die() { echo "fleet.sh: $*" >&2; exit 1; }
usage() { sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

# A free TCP port of 127.0.0.1 (bound then released: the kernel does not
# hand it out again at once).
free_port() {
	/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to $2 tenths of a second for command $1 to succeed.
wait_for() {
	local i=0
	while [ "$i" -lt "$2" ]; do
		eval "$1" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# Starts relay $1 on port $2 (0: a free one) and records its pid and port.
start_relay() {
	local k=$1 want=$2
	local args
	read -r -a args < "$dir/relay.args" || args=()
	rm -f "$dir/relay$k.out" "$dir/relay$k.port"
	"$(cat "$dir/binary")" relay --host 127.0.0.1 --port "$want" --trusted-proxy 127.0.0.1/32 "${args[@]}" \
		> "$dir/relay$k.out" 2> "$dir/relay$k.log" < /dev/null &
	echo $! > "$dir/relay$k.pid"
	wait_for "grep -q '^relay listening on' '$dir/relay$k.out'" 100 ||
		die "relay $k did not start: $(tail -3 "$dir/relay$k.log")"
	sed -n 's/^relay listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$dir/relay$k.out" > "$dir/relay$k.port"
}

cmd_start() {
	[ -e "$dir/haproxy.pid" ] && die "a fleet already runs from $dir (fleet.sh stop -d $dir)"
	command -v haproxy >/dev/null || die "haproxy not found (apt install haproxy)"
	if [ -z "$binary" ]; then
		binary=$(command -v atmosphere || true)
		[ -x "$here/../build/bin/atmosphere" ] && binary=$here/../build/bin/atmosphere
	fi
	[ -x "$binary" ] || die "no atmosphere binary: give one with -b"
	mkdir -p "$dir" || die "cannot create $dir"
	# Whatever started is stopped again if the rest fails.
	trap 'cmd_stop > /dev/null' EXIT
	(cd "$(dirname "$binary")" && echo "$PWD/$(basename "$binary")") > "$dir/binary"
	echo "${relay_args[*]:-}" > "$dir/relay.args"
	echo "$num" > "$dir/num"
	for k in $(seq 1 "$num"); do
		start_relay "$k" 0
	done
	[ -n "$port" ] || port=$(free_port)
	echo "$port" > "$dir/haproxy.port"
	# The shipped configuration with loopback addresses: no chroot, user or
	# syslog (the prod-only lines), logs to stderr, this fleet's servers,
	# and maxconn within this shell's descriptor limit (HAProxy needs two
	# descriptors per connection and refuses to start otherwise).
	local fds maxconn
	fds=$(ulimit -Hn)
	[ "$fds" = unlimited ] && fds=1048576
	maxconn=$(((fds - 200) / 2))
	[ "$maxconn" -gt 200000 ] && maxconn=200000
	{
		sed -e '/# prod-only$/d' -e "s/^\([[:space:]]*\)maxconn [0-9]*\$/\1maxconn $maxconn/" -e '/^[[:space:]]*server /d' -e '/^[[:space:]]*#bind /d' \
			-e "s/^\([[:space:]]*\)bind :80\$/\1bind $host:$port/" \
			-e 's/^global$/global\n\tlog stderr format raw local0 info/' "$template"
		for k in $(seq 1 "$num"); do
			printf '\tserver relay%s 127.0.0.1:%s\n' "$k" "$(cat "$dir/relay$k.port")"
		done
	} > "$dir/haproxy.cfg"
	haproxy -c -q -f "$dir/haproxy.cfg" || die "haproxy rejects $dir/haproxy.cfg"
	haproxy -db -f "$dir/haproxy.cfg" > "$dir/haproxy.log" 2>&1 < /dev/null &
	echo $! > "$dir/haproxy.pid"
	wait_for "curl -fsS -m 1 http://$host:$port/health" 100 ||
		die "HAProxy on port $port does not answer /health: $(tail -3 "$dir/haproxy.log")"
	trap - EXIT
	echo "$host" > "$dir/haproxy.host"
	echo "fleet up: ws://$host:$port/relay/SESSION_ID ($num relays: $(cat "$dir"/relay*.port | tr '\n' ' '); state in $dir)"
}

# Ends process $1 (pid file): SIGTERM, then SIGKILL after 10 s.
stop_pid() {
	local f=$1 pid
	[ -e "$f" ] || return 0
	pid=$(cat "$f")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		wait_for "! kill -0 $pid" 100 || kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$f"
}

cmd_stop() {
	[ -d "$dir" ] || return 0
	stop_pid "$dir/haproxy.pid"
	for f in "$dir"/relay*.pid; do
		[ -e "$f" ] && stop_pid "$f"
	done
	echo "fleet in $dir stopped"
}

cmd_status() {
	[ -e "$dir/num" ] || die "no fleet in $dir"
	for k in $(seq 1 "$(cat "$dir/num")"); do
		printf 'relay%s 127.0.0.1:%s: ' "$k" "$(cat "$dir/relay$k.port")"
		# The relays trust this address and require its PROXY header.
		curl -sS -m 2 --haproxy-protocol "http://127.0.0.1:$(cat "$dir/relay$k.port")/health" 2>&1 || true
		echo
	done
	printf 'haproxy %s:%s: ' "$(cat "$dir/haproxy.host")" "$(cat "$dir/haproxy.port")"
	curl -sS -m 2 "http://$(cat "$dir/haproxy.host"):$(cat "$dir/haproxy.port")/health" 2>&1 || true
	echo
}

cmd_kill() {
	local k=$1
	[ -e "$dir/relay$k.pid" ] || die "no relay $k in $dir"
	kill -KILL "$(cat "$dir/relay$k.pid")" 2>/dev/null || die "relay $k is not running"
	rm -f "$dir/relay$k.pid"
}

cmd_restart() {
	local k=$1
	[ -e "$dir/relay$k.port" ] || die "no relay $k in $dir"
	[ -e "$dir/relay$k.pid" ] && die "relay $k still runs"
	start_relay "$k" "$(cat "$dir/relay$k.port")"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
target=
case $cmd in
kill | restart)
	[ $# -ge 1 ] || usage
	target=$1
	shift
	;;
esac
while [ $# -gt 0 ]; do
	case $1 in
	-n) num=$2; shift 2 ;;
	-d) dir=$2; shift 2 ;;
	-b) binary=$2; shift 2 ;;
	-p) port=$2; shift 2 ;;
	-H) host=$2; shift 2 ;;
	--) shift; relay_args=("$@"); break ;;
	*) usage ;;
	esac
done
case $cmd in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
kill) cmd_kill "$target" ;;
restart) cmd_restart "$target" ;;
*) usage ;;
esac
