#!/bin/sh
# tests/stun/natlab_ports.sh BINARY: `atmosphere network` detects the NAT's
# port-allocation pattern (IPv4; issue 12), through real kernel NAT.
#
# Sites (natlab/lab.sh), each running `network --json` against one plain
# STUN server of the lab's public host:
#   port_restricted  stock masquerade keeps a free source port: "preserving"
#   symmetric        masquerade fully-random: "random"
#   seq              masquerade whose port is an nftables counter
#                    (natlab_sequential, natlab/lab.sh: `masquerade to
#                    :numgen inc mod 200 offset 0x2900`): each new flow
#                    gets the next port, 256 apart (41, 297, 553, ...): a
#                    sequential NAT of stride 256. The rule is
#                    loaded afresh, from another start, before each run (no
#                    wrap within a run, no port of an earlier run) and the
#                    runs go one at a time.
# Other strides are covered by the unit tests (tests/stun/test_nat.c,
# test_ports.c).
# Needs root; exits 77 (skip) otherwise. About 10 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: natlab_ports.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
natlab_require || exit 77
[ -x "$bin" ] || { echo "natlab_ports: $bin is not executable"; exit 1; }

tmp=$(mktemp -d /tmp/natlab_ports.XXXXXX)
natlab_init
trap 'natlab_cleanup; [ -n "${NP_KEEP:-}" ] || rm -rf "$tmp"' EXIT
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

natlab_public pub 203.0.113.10 203.0.113.11
natlab_site port_restricted port_restricted
natlab_site symmetric symmetric
natlab_site seq port_restricted
natlab_sequential seq 0x2800

natlab_exec pub "$bin" stun-server --host 203.0.113.10 --port 4478 --threads 1 --rate 0 >"$tmp/stun.out" 2>&1 &
deadline=$(($(date +%s) + 10))
until grep -q "listening on udp" "$tmp/stun.out" 2>/dev/null; do
	if [ "$(date +%s)" -ge "$deadline" ]; then
		echo "FAIL: stun-server did not start:"
		cat "$tmp/stun.out"
		exit 1
	fi
	sleep 0.05
done

pids=""
for s in port_restricted symmetric; do
	natlab_exec "$s" timeout 20 "$bin" network --stun 203.0.113.10:4478 --json --timeout 2s --no-port-mapping \
		>"$tmp/$s.json" 2>"$tmp/$s.err" &
	pids="$pids $!"
	natlab_exec "$s" timeout 20 "$bin" network --stun 203.0.113.10:4478 --timeout 2s --no-port-mapping \
		>"$tmp/$s.txt" 2>&1 &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p"
done
natlab_sequential seq 0x2900
natlab_exec seq timeout 20 "$bin" network --stun 203.0.113.10:4478 --json --timeout 2s --no-port-mapping \
	>"$tmp/seq.json" 2>"$tmp/seq.err"
# Other ports than the last run's (a counter from the same start would
# hand out ports whose mappings to the server still exist).
natlab_sequential seq 0x2a00
natlab_exec seq timeout 20 "$bin" network --stun 203.0.113.10:4478 --timeout 2s --no-port-mapping >"$tmp/seq.txt" 2>&1

# pattern FILE: "PATTERN STRIDE SAMPLES" from port_allocation.
pattern() {
	/usr/bin/python3 -c '
import json, sys
try:
    pa = json.load(open(sys.argv[1]))["port_allocation"]
    print(pa["pattern"], pa["stride"], len(pa["samples"]))
except Exception as e:
    print("error", type(e).__name__, e)
' "$1"
}

check() { # check SITE WANT
	got=$(pattern "$tmp/$1.json")
	echo "$1: port_allocation $got; text: $(grep "port allocation" "$tmp/$1.txt" | sed 's/^ *//')"
	[ "$got" = "$2" ] || {
		bad "$1: port_allocation is '$got', want '$2'"
		sed 's/^/    /' "$tmp/$1.json" "$tmp/$1.err" | head -n 60
	}
	grep -q "port allocation: ${2%% *}" "$tmp/$1.txt" || bad "$1: the text report says: $(grep "allocation" "$tmp/$1.txt")"
}
check port_restricted "preserving None 6"
check symmetric "random None 6"
check seq "sequential 256 6"

if [ "$fail" -ne 0 ]; then
	echo "natlab_ports: FAILED"
	exit 1
fi
echo "natlab_ports: passed"
exit 0
