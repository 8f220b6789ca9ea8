#!/bin/sh
# `atmosphere relay` argument handling: --help exits 0 and lists every option;
# malformed values and unknown options exit 2 with a message quoting them.
# Usage: cli.sh BINARY.
set -u
bin=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/relay-cli.$$.XXXXXX")
rpid="" cpid=""
# A failing check must not leave the relay or the client running.
trap 'kill $rpid $cpid 2>/dev/null; rm -rf "$dir"' EXIT INT TERM

"$bin" relay --help >"$dir/out" 2>"$dir/err"
rc=$?
[ $rc -eq 0 ] || fail "--help exited $rc"
for o in --host --port --threads --max-message --hold --hold-total --max-sessions --max-conns-per-ip \
	--max-handshakes --rcvbuf --sndbuf --handshake-timeout --ping-interval --idle-timeout --write-timeout \
	--hibernate-after --reads --help; do
	grep -q -- "$o" "$dir/out" || fail "--help does not list $o"
done
"$bin" relay -h >/dev/null 2>&1 || fail "-h exited $?"

# value, option, text the message must quote
for args in "--port abc" "--port 65536" "--port -1" "--threads 0" "--max-message x" \
	"--handshake-timeout 5q" "--ping-interval 0" "--rcvbuf 1x" "--rcvbuf 100" "--sndbuf 2q" "--hold 0" \
	"--hold-total 1T" "--max-handshakes 0" "--hibernate-after soon" "--reads nope" "--bogus" "stray"; do
	# shellcheck disable=SC2086
	timeout 10 "$bin" relay $args >"$dir/out" 2>"$dir/err" </dev/null
	rc=$?
	[ $rc -eq 2 ] || fail "'relay $args' exited $rc, want 2"
	[ -s "$dir/err" ] || fail "'relay $args': no message on stderr"
	last=${args##* }
	grep -q -- "$last" "$dir/err" || fail "'relay $args': message does not quote '$last': $(cat "$dir/err")"
done
timeout 10 "$bin" relay --port abc 2>"$dir/err"
grep -q "port" "$dir/err" || fail "--port abc: message does not name the option: $(cat "$dir/err")"

# --rcvbuf bounds the kernel's receive buffer of every client socket (the
# kernel doubles what it grants, up to rmem_max): 64K by default is 1M, and
# what a connected client's socket on the relay side shows.
if command -v ss >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then
	for case in "64K 65536" "default 1048576"; do
		set -- $case
		# The 64K relay also reads in batches (--reads batched): it starts
		# and serves as the default does.
		extra=""; [ "$1" = default ] || extra="--rcvbuf $1 --reads batched"
		# shellcheck disable=SC2086
		"$bin" relay --host 127.0.0.1 --port 0 --threads 1 $extra >"$dir/rout" 2>&1 &
		rpid=$!
		i=0
		# The whole line, port and end of line included: a loaded machine
		# can show a line half written.
		while ! grep -q '^relay listening on 127.0.0.1:[0-9][0-9]*$' "$dir/rout" 2>/dev/null; do
			i=$((i + 1)); [ $i -lt 100 ] || fail "relay did not start: $(cat "$dir/rout")"; sleep 0.05
		done
		port=$(sed -n 's/^relay listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$dir/rout" | head -1)
		python3 -c 'import socket,sys,time; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); time.sleep(10)' "$port" &
		cpid=$!
		rmax=$(cat /proc/sys/net/core/rmem_max)
		want=$2; [ "$want" -le "$rmax" ] || want=$rmax
		# Until the client is connected (a loaded machine starts python
		# slowly), at most 8 s.
		i=0; rb=""
		while [ -z "$rb" ] && [ $i -lt 80 ]; do
			rb=$(ss -tmnH state established "sport = :$port" | sed -n 's/.*rb\([0-9]*\).*/\1/p' | head -1)
			[ -n "$rb" ] || sleep 0.1
			i=$((i + 1))
		done
		[ -n "$rb" ] && [ "$rb" -eq $((2 * want)) ] || fail "--rcvbuf $1: relay-side socket rb '$rb', want $((2 * want))"
		# Nagle is off on the relay's side of the connection: its copy of
		# the socket (pidfd_getfd, as root) says TCP_NODELAY. The relay
		# sets it on the listener, and accepted sockets inherit it.
		nd=$(/usr/bin/python3 - "$rpid" "$port" <<-'PY'
		import ctypes, os, socket, sys
		pid, port = int(sys.argv[1]), int(sys.argv[2])
		libc = ctypes.CDLL(None, use_errno=True)
		pidfd = os.pidfd_open(pid)
		for name in os.listdir(f"/proc/{pid}/fd"):
		    fd = libc.syscall(438, pidfd, int(name), 0)  # pidfd_getfd
		    if fd < 0:
		        if ctypes.get_errno() == 1:  # EPERM: Yama's ptrace_scope forbids it
		            print("eperm")
		            break
		        continue
		    try:
		        s = socket.socket(fileno=fd)
		    except OSError:
		        os.close(fd)
		        continue
		    try:
		        if s.type == socket.SOCK_STREAM and s.getsockname()[1] == port and s.getpeername():
		            print(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
		            break
		    except OSError:
		        pass
		    finally:
		        s.detach()
		        os.close(fd)
		PY
		)
		if [ "$nd" = eperm ]; then
			echo "skip: TCP_NODELAY check (pidfd_getfd refused: kernel.yama.ptrace_scope)"
		else
			[ "$nd" = 1 ] || fail "--rcvbuf $1: relay-side socket TCP_NODELAY '$nd', want 1"
		fi
		kill "$cpid" 2>/dev/null; wait "$cpid" 2>/dev/null
		kill "$rpid"; wait "$rpid" 2>/dev/null
		rpid="" cpid=""
	done
fi
echo "ok cli"
