#!/bin/sh
# `atmosphere relay --stun-port`: the relay also answers STUN (checked with
# coturn's turnutils_stunclient and our own client), and `--config FILE`
# gives the same options from a file. Usage: stun_port.sh BINARY.
set -u
bin=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
command -v turnutils_stunclient >/dev/null 2>&1 || { echo "SKIP: turnutils_stunclient (coturn) not installed"; exit 77; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/relay-stun.$$.XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM

# Options from a config file, the STUN port from the command line.
printf '# test relay\nhost = 127.0.0.1\nport = 0\nquiet\n' >"$dir/relay.conf"
"$bin" relay --config "$dir/relay.conf" --stun-port 0 >"$dir/out" 2>"$dir/err" &
pid=$!
i=0
while ! grep -q '^stun listening' "$dir/out" 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "relay did not start: $(cat "$dir/err")"
	sleep 0.05
done
port=$(sed -n 's/^stun listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$dir/out")
[ -n "$port" ] || fail "no STUN port in: $(cat "$dir/out")"
grep -q '^relay listening on 127.0.0.1:' "$dir/out" || fail "config file host not used: $(cat "$dir/out")"

timeout 10 turnutils_stunclient -p "$port" 127.0.0.1 >"$dir/coturn" 2>&1 || fail "turnutils_stunclient: $(cat "$dir/coturn")"
grep -q 'reflexive addr: 127.0.0.1:' "$dir/coturn" || fail "coturn's client got no mapped address: $(cat "$dir/coturn")"

rport=$(sed -n 's/^relay listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$dir/out")
ATMOSPHERE_HOME="$dir/home" timeout 10 "$bin" network --stun "127.0.0.1:$port" --relay "ws://127.0.0.1:$rport" \
	--relay "ws://127.0.0.1:1" --json >"$dir/net" 2>&1 || fail "network: $(cat "$dir/net")"
grep -q '"public_ip": *"127.0.0.1"' "$dir/net" || fail "network did not see 127.0.0.1: $(cat "$dir/net")"
# The live relay is reachable, the closed port is reported with its error.
tr -d ' \n' <"$dir/net" | grep -q "\"url\":\"ws://127.0.0.1:$rport\",\"ok\":true" ||
	fail "network did not report the relay reachable: $(cat "$dir/net")"
tr -d ' \n' <"$dir/net" | grep -q '"url":"ws://127.0.0.1:1","ok":false' ||
	fail "network did not report the dead relay: $(cat "$dir/net")"

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
[ $rc -eq 0 ] || fail "relay exited $rc on SIGTERM"
grep -q 'stun stopped: [1-9]' "$dir/err" || fail "no STUN answers counted: $(cat "$dir/err")"
echo "ok stun-port"
