# tests/lib/listen.sh: start a server on an ephemeral port and learn the
# port from the line it prints, for the shell tests (POSIX sh; source it).
#
#   tl_wait_port FILE PID SED-EXPR
#       Prints the port that `sed -n SED-EXPR FILE` extracts, once there is
#       one. Returns 1, printing nothing, when PID exits first or 10 s pass.
#       Call it as port=$(tl_wait_port ...).
#
#   tl_start_relay BIN PREFIX [ARGS...]
#       Starts `BIN relay --host 127.0.0.1 --port 0 --threads 1 --quiet ARGS`
#       in the background, stdout to PREFIX.out and stderr to PREFIX.err,
#       and waits for its "relay listening on" line. Sets tl_pid (always,
#       so the caller's cleanup can stop it) and tl_port. Returns 1 when
#       the relay does not start; the reason is in PREFIX.err.
#       Later options win: pass --threads 2 to override the default.

tl_wait_port() {
	_tl_p=
	for _tl_i in $(seq 1 100); do
		_tl_p=$(sed -n "$3" "$1" 2>/dev/null | head -n 1)
		[ -n "$_tl_p" ] && {
			echo "$_tl_p"
			return 0
		}
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

tl_start_relay() {
	_tl_bin=$1
	_tl_prefix=$2
	shift 2
	tl_port=
	"$_tl_bin" relay --host 127.0.0.1 --port 0 --threads 1 --quiet "$@" >"$_tl_prefix.out" 2>"$_tl_prefix.err" &
	tl_pid=$!
	tl_port=$(tl_wait_port "$_tl_prefix.out" "$tl_pid" 's/^relay listening on .*:\([0-9][0-9]*\)$/\1/p')
}
