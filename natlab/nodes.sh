# natlab/nodes.sh: drives real nodes in the NAT lab (sourced by the node's
# integration tests in tests/node/ and by bench/punch.sh).
#
# A node is named by where it runs and its state directory: HOST is a lab
# host of natlab/lab.sh, or "-" for the machine itself (loopback
# tests), and HOME is its $ATMOSPHERE_HOME. Every wait polls a condition
# against a deadline; nothing sleeps to synchronise.
#
#   nd_begin BINARY [lab]    a test's start: nd_setup, the NAT lab, traps, fail=0
#   bad MESSAGE              reports a failed check (sets fail=1)
#   nd_flows RH ROB MH MATT TAG SECONDS  messages both ways until each arrives
#   nd_setup BINARY          checks the binary, makes $nd_tmp (removed at exit)
#   nd_run HOST HOME ARGS..  runs `atmosphere ARGS` as that node
#   nd_start HOST HOME LOG ARGS..   the same in the background; pid in $nd_pid
#   nd_spawn HOST LOG CMD..  any command in the background; pid in $nd_pid
#   nd_wait SECONDS WHAT CMD..      polls CMD until it succeeds; 1 on timeout
#   nd_peer HOST HOME PEER   prints "<connected> <path>" of PEER in `peers --json`
#                            ("absent absent" when it is not listed)
#   nd_connected HOST HOME PEER     succeeds when PEER is listed as connected
#   nd_path_is HOST HOME PEER PATH  ... and on PATH
#   nd_recv_until HOST HOME FILE TEXT SECONDS: collects `recv` output into FILE
#                            until a line ends in TEXT
#   nd_kill PID..            TERM, then KILL after 3 s; waits for them
#   nd_ms                    milliseconds since the epoch
#   nd_lan_host SITE NAME    a second host NAME on SITE's LAN (a bridge in the
#                            site router), address 10.i.0.3
#   nd_lab_ipv6 SITE..       IPv6 on pub and the sites, home-router IPv6
#                            firewalls, an IPv6 STUN server ($nd_stun6_arg)
#   nd_dump_all LINES        the last LINES of every $nd_tmp/*.log and *.out
#                            (without "DEBUG e2e packet" lines), for a failure
#   nd_secret HOME           "<epoch> <secret>" of HOME's mesh secret
#   nd_env_per_home NAME:VAR=VALUE..  the nodes whose home is $nd_tmp/NAME run
#                            with VAR=VALUE (nd_bin becomes a wrapper)
#   nd_blob_server HOST ADDR NAME   2 MB of random bytes at http://ADDR:8000/blob
#                            from HOST ($nd_tmp/www-NAME/blob); 1 if not up in 10 s
#   nd_blob_intact HOST URL NAME    HOST fetches URL with curl; succeeds when it
#                            is NAME's blob byte for byte (curl's errors: $nd_tmp/curl.err)

nd_py=/usr/bin/python3
nd_pids=""

# nd_flows RHOST ROB MHOST MATT TAG SECONDS: Rob (node name rob) and Matt
# (matt) send TAG-n to each other every 0.5 s until each has received one,
# within SECONDS; prints the ms it took. Sends may fail while there is no
# path. Collects what each received in ROB.recv and MATT.recv.
nd_flows() {
	_t0=$(nd_ms)
	_end=$((_t0 + $6 * 1000))
	_n=0
	while :; do
		_n=$((_n + 1))
		nd_run "$1" "$2" send matt "$5-rob-$_n" >/dev/null 2>&1
		nd_run "$3" "$4" send rob "$5-matt-$_n" >/dev/null 2>&1
		nd_run "$3" "$4" recv >>"$4.recv" 2>/dev/null
		nd_run "$1" "$2" recv >>"$2.recv" 2>/dev/null
		if grep -q "^rob: $5-rob-" "$4.recv" && grep -q "^matt: $5-matt-" "$2.recv"; then
			echo $(($(nd_ms) - _t0))
			return 0
		fi
		[ "$(nd_ms)" -lt "$_end" ] || return 1
		sleep 0.5
	done
}

# nd_begin BINARY [lab]: the common start of a node test. Checks the binary
# and makes $nd_tmp; with "lab" it first skips (exit 77) unless the NAT lab
# can run (root, ip, nft: natlab_require) and then builds it. Everything is
# removed at exit; INT and TERM exit 1. Sets fail=0 for bad().
nd_begin() {
	if [ "${2:-}" = lab ]; then
		natlab_require || exit 77
	fi
	nd_setup "$1"
	if [ "${2:-}" = lab ]; then
		natlab_init
		trap 'natlab_cleanup; nd_cleanup' EXIT
	else
		trap nd_cleanup EXIT
	fi
	trap 'exit 1' INT TERM
	fail=0
}

# nd_env_per_home NAME:VAR=VALUE..: from now on the node whose home is
# $nd_tmp/NAME runs with VAR=VALUE in its environment (several pairs may
# name one home): nd_bin becomes a wrapper that sets them by
# $ATMOSPHERE_HOME and execs the binary (the pid stays the node's).
nd_env_per_home() {
	{
		echo '#!/bin/sh'
		for _p in "$@"; do
			echo "[ \"\$ATMOSPHERE_HOME\" = \"$nd_tmp/${_p%%:*}\" ] && export ${_p#*:}"
		done
		echo "exec \"$nd_bin\" \"\$@\""
	} >"$nd_tmp/atmos-env"
	chmod +x "$nd_tmp/atmos-env"
	nd_bin=$nd_tmp/atmos-env
}

# nd_blob_server HOST ADDR NAME: an HTTP server (Python's http.server) on
# HOST bound to ADDR, port 8000, serving $nd_tmp/www-NAME/blob, 2 MB of
# random bytes made here; returns once it serves (1 after 10 s).
nd_blob_server() {
	mkdir -p "$nd_tmp/www-$3"
	head -c 2000000 /dev/urandom >"$nd_tmp/www-$3/blob"
	nd_spawn "$1" "$nd_tmp/http-$3.out" "$nd_py" -u -m http.server --bind "$2" --directory "$nd_tmp/www-$3" 8000
	nd_wait 10 "$3's http server up" grep -q Serving "$nd_tmp/http-$3.out"
}

# nd_blob_intact HOST URL NAME: HOST fetches URL (curl, 20 s at most);
# succeeds when what came is NAME's blob (nd_blob_server) byte for byte.
nd_blob_intact() {
	_got=$(natlab_exec "$1" curl -sS -g --max-time 20 -o - "$2" 2>"$nd_tmp/curl.err" | sha256sum | cut -d' ' -f1)
	[ "$_got" = "$(sha256sum <"$nd_tmp/www-$3/blob" | cut -d' ' -f1)" ]
}

# nd_dump_all LINES: for a failed test's output, the last LINES lines of
# every log (*.log) and output file (*.out) in $nd_tmp, each under a
# "== NAME" line; the per-packet debug lines ("DEBUG e2e packet") are left
# out so that the lines shown say something.
nd_dump_all() {
	for _f in "$nd_tmp"/*.log "$nd_tmp"/*.out; do
		[ -f "$_f" ] || continue
		echo "== ${_f##*/}"
		grep -v "DEBUG e2e packet" "$_f" | tail -n "$1"
	done
}

# bad MESSAGE: reports a failed check and marks the test failed ($fail).
bad() {
	echo "FAIL: $*"
	fail=1
}

nd_setup() {
	nd_bin=$1
	[ -x "$nd_bin" ] || { echo "FAIL: $nd_bin is not executable"; exit 1; }
	nd_tmp=$(mktemp -d /tmp/nodetest.XXXXXX)
	chmod 700 "$nd_tmp"
}

# The cleanup of tests that do not use the NAT lab (which has its own).
nd_cleanup() {
	for _p in $nd_pids; do
		kill -TERM "$_p" 2>/dev/null
	done
	for _p in $nd_pids; do
		_i=0
		while kill -0 "$_p" 2>/dev/null && [ $_i -lt 30 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		kill -KILL "$_p" 2>/dev/null
	done
	[ -n "${nd_tmp:-}" ] && [ -z "${ND_KEEP:-}" ] && rm -rf "$nd_tmp"
	[ -n "${ND_KEEP:-}" ] && echo "kept $nd_tmp"
}

nd_ms() {
	date +%s%3N
}

nd_run() {
	_h=$1
	_home=$2
	shift 2
	if [ "$_h" = - ]; then
		ATMOSPHERE_HOME=$_home "$nd_bin" "$@"
	else
		natlab_exec "$_h" env ATMOSPHERE_HOME="$_home" "$nd_bin" "$@"
	fi
}

nd_start() {
	_h=$1
	_home=$2
	_log=$3
	shift 3
	nd_spawn "$_h" "$_log" env ATMOSPHERE_HOME="$_home" "$nd_bin" "$@"
}

# nd_spawn HOST LOG CMD...: CMD in the background on HOST; pid in $nd_pid.
# exec all the way down (subshell, ip netns exec, env): $! is the process
# itself, so killing it by pid ends it.
nd_spawn() {
	_h=$1
	_log=$2
	shift 2
	if [ "$_h" = - ]; then
		(exec "$@" >"$_log" 2>&1) &
	else
		_ns=$(natlab_ns "$_h")
		(exec ip netns exec "$_ns" "$@" >"$_log" 2>&1) &
	fi
	nd_pid=$!
	nd_pids="$nd_pids $nd_pid"
}

nd_kill() {
	for _p in "$@"; do
		[ -n "$_p" ] || continue
		kill -TERM "$_p" 2>/dev/null
	done
	for _p in "$@"; do
		[ -n "$_p" ] || continue
		_i=0
		while kill -0 "$_p" 2>/dev/null && [ $_i -lt 30 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
		kill -KILL "$_p" 2>/dev/null
		wait "$_p" 2>/dev/null
	done
}

nd_wait() {
	_secs=$1
	_what=$2
	shift 2
	_end=$(($(nd_ms) + _secs * 1000))
	until "$@"; do
		if [ "$(nd_ms)" -ge "$_end" ]; then
			echo "timeout (${_secs}s): $_what"
			return 1
		fi
		sleep 0.1
	done
	return 0
}

nd_peer() {
	nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
want = sys.argv[1]
try:
    peers = json.load(sys.stdin)["peers"]
except Exception:
    print("absent absent"); sys.exit(0)
for p in peers:
    if want in (p.get("name"), p.get("node_id")):
        print("%s %s" % ("true" if p.get("connected") else "false", p.get("path")))
        break
else:
    print("absent absent")
' "$3"
}

# nd_state_get FILE KEY / nd_state_set FILE KEY VALUE: a top-level string
# of a node's state file (tests that grind node ids write them there
# before the node first serves).
nd_state_get() { "$nd_py" -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
# nd_secret HOME: "<epoch> <secret>" of the mesh secret in HOME's state.json.
nd_secret() { "$nd_py" -c 'import json,sys; s=json.load(open(sys.argv[1]+"/state.json")); print(s.get("secret_epoch", 0), s["secret"])' "$1"; }
nd_state_set() {
	"$nd_py" -c '
import json, sys
d = json.load(open(sys.argv[1]))
d[sys.argv[2]] = sys.argv[3]
open(sys.argv[1], "w").write(json.dumps(d, indent=2) + "\n")' "$1" "$2" "$3"
}

# nd_field HOST HOME PEER KEY: a field of a peer in `peers --json` (PEER by
# name; "self" for this node's own object; KEY may be dotted, e.g.
# overlay.gro.writes), empty when absent or null.
nd_field() {
	nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
try:
    d = json.load(sys.stdin)
except Exception:
    sys.exit(0)
if sys.argv[1] == "self":
    v = d.get("self", {})
else:
    v = next((p for p in d.get("peers", []) if p.get("name") == sys.argv[1]), None)
for k in sys.argv[2].split("."):
    v = v.get(k) if isinstance(v, dict) else None
print("" if v is None else v)' "$3" "$4"
}

# nd_code HOST HOME: a fresh full join code from the node of HOME.
nd_code() {
	nd_run "$1" "$2" join >"$2.code.$$" 2>&1 && sed -n 's/^Full code: //p' "$2.code.$$"
}

nd_connected() {
	[ "$(nd_peer "$1" "$2" "$3" | cut -d' ' -f1)" = true ]
}

nd_path_is() {
	[ "$(nd_peer "$1" "$2" "$3")" = "true $4" ]
}

# The daemon answers on its control socket (after STUN discovery).
nd_up() {
	nd_run "$1" "$2" peers --json >/dev/null 2>&1
}

nd_has_line() {
	grep -q -- "$2\$" "$1" 2>/dev/null
}

nd_recv_once() {
	nd_run "$1" "$2" recv >>"$3" 2>/dev/null
	nd_has_line "$3" "$4"
}

nd_recv_until() {
	nd_wait "$5" "'$4' received by $2" nd_recv_once "$1" "$2" "$3" "$4"
}

# nd_lan_host SITE NAME: a second host on SITE's LAN. The router's LAN veth
# goes into a bridge that takes its address; NAME hangs off the bridge too.
nd_lan_host() {
	_site=$1
	_name=$2
	_r=$(natlab_ns "$_site-r")
	_gw_cidr=$(ip -n "$_r" -o -4 addr show dev lan | awk '{print $4}')
	_gw=${_gw_cidr%/*}
	ip -n "$_r" link add br0 type bridge || natlab_die "bridge in $_r"
	ip -n "$_r" addr del "$_gw_cidr" dev lan
	ip -n "$_r" link set lan master br0
	ip -n "$_r" addr add "$_gw_cidr" dev br0
	ip -n "$_r" link set br0 up
	natlab_addns "$_name"
	natlab_link "$_site-r" lan2 "$_name" lan
	ip -n "$_r" link set lan2 master br0
	_ip="${_gw%.1}.3"
	ip -n "$(natlab_ns "$_name")" addr add "$_ip/24" dev lan
	ip -n "$(natlab_ns "$_name")" route add default via "$_gw"
	eval "NL_HOST_IP_$_name=$_ip"
	eval "NL_ROUTER_IP_$_name=\$NL_ROUTER_IP_$_site"
}

# nd_lab_public [--no-relay]: the public host "pub" (203.0.113.10 and .11)
# running our STUN server (RFC 5780 mode, 3478/3479 on both addresses) and,
# unless --no-relay, our relay on 203.0.113.10:8080. Sets nd_relay_url (the
# relay's URL either way), nd_stun_args, nd_relay_pid.
nd_lab_public() {
	natlab_public pub 203.0.113.10 203.0.113.11
	nd_start pub "$nd_tmp/pub" "$nd_tmp/stun.out" stun-server --host 203.0.113.10 --port 3478 \
		--alt-host 203.0.113.11 --alt-port 3479 --threads 1 --rate 0
	nd_stun_pid=$nd_pid
	[ "${1:-}" = --no-relay ] || nd_relay_start
	nd_wait 10 "stun-server listening" grep -qs "listening on udp" "$nd_tmp/stun.out" || {
		cat "$nd_tmp/stun.out"
		exit 1
	}
	nd_stun_args="--stun 203.0.113.10:3478 --stun 203.0.113.11:3479"
	nd_relay_url=ws://203.0.113.10:8080
}

# nd_lab_ipv6 NAME...: IPv6 beside IPv4 (natlab_ipv6) on the public host
# "pub" and the named sites, each site router with the stateful IPv6
# firewall of a home router (natlab_ipv6_firewall), and our STUN server on
# pub's IPv6 address (2001:db8:113::10, port 3478) for the nodes' IPv6
# server-reflexive endpoint. After nd_lab_public and natlab_site. Sets
# nd_stun6_arg (an init option naming that server).
nd_lab_ipv6() {
	natlab_ipv6 pub "$@"
	for _s in "$@"; do
		natlab_ipv6_firewall "$_s"
	done
	nd_start pub "$nd_tmp/pub" "$nd_tmp/stun6.out" stun-server --host 2001:db8:113::10 --port 3478 \
		--threads 1 --rate 0
	nd_wait 10 "IPv6 stun-server listening" grep -qs "listening on udp" "$nd_tmp/stun6.out" || {
		cat "$nd_tmp/stun6.out"
		exit 1
	}
	nd_stun6_arg="--stun [2001:db8:113::10]:3478"
}

# nd_relay_start: (re)starts the lab's relay; its log is $nd_relay_log
# (relay.out, then relay2.out, ... on restarts).
nd_relay_runs=0
nd_relay_start() {
	nd_relay_runs=$((nd_relay_runs + 1))
	nd_relay_log=$nd_tmp/relay.out
	[ "$nd_relay_runs" -eq 1 ] || nd_relay_log=$nd_tmp/relay$nd_relay_runs.out
	nd_start pub "$nd_tmp/pub" "$nd_relay_log" relay --host 203.0.113.10 --port 8080 --threads 1
	nd_relay_pid=$nd_pid
	nd_wait 10 "relay listening" grep -qs "^relay listening on 203.0.113.10:8080" "$nd_relay_log" || {
		cat "$nd_relay_log"
		exit 1
	}
}

# nd_block_direct SITE_A SITE_B: the wan router drops UDP between the two
# sites' public addresses (STUN and the relay stay reachable).
nd_block_direct() {
	_a=$(natlab_router_ip "$1")
	_b=$(natlab_router_ip "$2")
	natlab_exec wan nft -f - <<-EOF
	table ip nodetest_block {
		chain forward_drop { type filter hook forward priority 0; policy accept;
			ip saddr $_a ip daddr $_b meta l4proto udp drop
			ip saddr $_b ip daddr $_a meta l4proto udp drop
		}
	}
	EOF
}

nd_unblock_direct() {
	natlab_exec wan nft delete table ip nodetest_block
}

# nd_pair_up ROBHOST ROBHOME MATTHOST MATTHOME ROBPORT MATTPORT: init and
# serve Rob, take a code, start Matt's `join CODE`. Logs in ROBHOME.log,
# MATTHOME.out; pids in nd_rob_pid, nd_matt_pid; the ms Matt started in
# nd_join_ms. Extra init options in $ND_INIT_ARGS, serve options (Rob) in
# $ND_SERVE_ARGS, join options (Matt) in $ND_JOIN_ARGS. $ND_READY, when
# set, names a command polled as `$ND_READY ROBHOST ROBHOME` for up to 10 s
# before the code is taken (something Rob should know first, e.g. his port
# mapping); when it does not come, the pair goes on without it (a line
# says so).
nd_pair_up() {
	nd_run "$1" "$2" init lab --relay "$nd_relay_url" $nd_stun_args ${ND_INIT_ARGS:-} --port "$5" \
		--name rob >"$2.init" 2>&1 || { echo "FAIL: init: $(cat "$2.init")"; return 1; }
	nd_start "$1" "$2" "$2.log" serve ${ND_SERVE_ARGS:-}
	nd_rob_pid=$nd_pid
	nd_wait 15 "rob's node answers" nd_up "$1" "$2" || { cat "$2.log"; return 1; }
	if [ -n "${ND_READY:-}" ]; then
		nd_wait 10 "rob: $ND_READY" "$ND_READY" "$1" "$2" || echo "going on without it"
	fi
	nd_run "$1" "$2" join >"$2.code" 2>&1
	nd_code_str=$(sed -n 's/^Full code: //p' "$2.code")
	[ -n "$nd_code_str" ] || { echo "FAIL: no join code: $(cat "$2.code")"; return 1; }
	nd_join_ms=$(nd_ms)
	nd_start "$3" "$4" "$4.out" join "$nd_code_str" --port "$6" --name matt ${ND_JOIN_ARGS:-}
	nd_matt_pid=$nd_pid
}

# nd_relay2_start: a second relay of ours on 127.0.0.1 (beside
# nd_loopback_servers' one; port picked by the kernel, log relay2.out).
# Sets nd_relay2_url, nd_relay2_port, nd_relay2_pid. Exits 1 if it does
# not start.
nd_relay2_start() {
	nd_start - "$nd_tmp/pub2" "$nd_tmp/relay2.out" relay --host 127.0.0.1 --port 0 --threads 1
	nd_relay2_pid=$nd_pid
	nd_wait 10 "relay 2 listening" grep -qs "^relay listening on 127.0.0.1:" "$nd_tmp/relay2.out" ||
		{ cat "$nd_tmp/relay2.out"; exit 1; }
	nd_relay2_port=$(sed -n 's/^relay listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$nd_tmp/relay2.out")
	nd_relay2_url=ws://127.0.0.1:$nd_relay2_port
}

# nd_pair_relay_only URL1 URL2: on loopback, Rob (init with both relays,
# serve --relay-only: the relays are the only path) and Matt (`join CODE
# --relay-only`), each on a free UDP port. Sets rob and matt (their homes;
# logs in $rob.log, $matt.out). Exits 1 if Rob's node does not start.
nd_pair_relay_only() {
	rob=$nd_tmp/rob
	matt=$nd_tmp/matt
	_rport=$(nd_free_udp)
	_mport=$(nd_free_udp)
	[ "$_rport" != "$_mport" ] || _mport=$(nd_free_udp)
	nd_run - "$rob" init lab --relay "$1" --relay "$2" $nd_stun_args --port "$_rport" --name rob >"$rob.init" 2>&1 ||
		{ cat "$rob.init"; exit 1; }
	nd_start - "$rob" "$rob.log" serve --relay-only
	nd_wait 10 "rob's node answers" nd_up - "$rob" || { cat "$rob.log"; exit 1; }
	nd_run - "$rob" join >"$rob.code" 2>&1
	_code=$(sed -n 's/^Full code: //p' "$rob.code")
	nd_start - "$matt" "$matt.out" join "$_code" --port "$_mport" --name matt --relay-only
}

nd_both_connected() {
	nd_connected "$1" "$2" matt && nd_connected "$3" "$4" rob
}

# nd_free_udp: a UDP port free on 127.0.0.1 right now (the node cannot bind
# port 0 and report it, so tests pick one this way).
# The port comes from below the kernel's ephemeral range: a node restarted on
# its saved port must not find it taken by some other process's ephemeral
# socket (another test's client, a DNS lookup) meanwhile.
nd_free_udp() {
	"$nd_py" - <<'PY'
import random, socket
lo = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
top = max(lo - 1, 10001)
for _ in range(1000):
    port = random.randint(10000, top)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.bind(("127.0.0.1", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("no free UDP port below the ephemeral range")
PY
}

# nd_loopback_servers: our relay and STUN server on 127.0.0.1 (ports picked
# by the kernel, read back). Sets nd_relay_url, nd_relay_port, nd_stun_args,
# nd_relay_pid. No namespaces: for tests that run without root.
nd_loopback_servers() {
	nd_start - "$nd_tmp/pub" "$nd_tmp/stun.out" stun-server --host 127.0.0.1 --port 0 --threads 1 --rate 0
	nd_stun_pid=$nd_pid
	nd_start - "$nd_tmp/pub" "$nd_tmp/relay.out" relay --host 127.0.0.1 --port 0 --threads 1
	nd_relay_pid=$nd_pid
	nd_wait 10 "stun-server listening" grep -qs "listening on udp" "$nd_tmp/stun.out" || {
		cat "$nd_tmp/stun.out"
		exit 1
	}
	nd_wait 10 "relay listening" grep -qs "^relay listening on 127.0.0.1:" "$nd_tmp/relay.out" || {
		cat "$nd_tmp/relay.out"
		exit 1
	}
	nd_relay_port=$(sed -n 's/^relay listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$nd_tmp/relay.out")
	nd_relay_url=ws://127.0.0.1:$nd_relay_port
	nd_stun_args="--stun $(sed -n 's/^stun-server listening on udp \(127.0.0.1:[0-9]*\) .*/\1/p' "$nd_tmp/stun.out" | head -n 1)"
}
