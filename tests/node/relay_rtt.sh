#!/bin/sh
# tests/node/relay_rtt.sh BINARY: relays are ranked by measured RTT with
# hysteresis (issue 11): the node leaves a relay that became slow for a
# clearly faster one, once, and does not flap. Loopback, no root.
#
# Two relays, each behind a delay proxy (tests/node/delay_proxy.py, no delay
# at first); Rob and Matt run --relay-only, so a relay is their only path.
# Once both are on a relay, the proxy of the one Rob uses starts holding
# every chunk 30 ms (+-20 % jitter) each way: the relayed RTT through it
# goes from ~1 ms to ~120 ms, the relay still forwards (no silence), while
# Rob sends a text a second. Checked:
#  - both nodes end on the other relay within 30 s, and each log says it
#    moved because the other is faster, at most once;
#  - for 10 s after, with the jitter going on, neither moves again;
#  - peers --json's relay_rtts has both relays, the slow one > 50 ms and
#    the fast one < 20 ms;
#  - messages still flow both ways.
# About 25 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: relay_rtt.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/nodes.sh"
nd_begin "$bin"
nd_loopback_servers
nd_relay2_start
r2port=$nd_relay2_port

# proxy N PORT: delay proxy N in front of relay port PORT; its URL in $url.
proxy() {
	: >"$nd_tmp/delay$1"
	nd_spawn - "$nd_tmp/proxy$1.out" "$nd_py" "$here/delay_proxy.py" 127.0.0.1 "$2" "$nd_tmp/delay$1" 90
	nd_wait 10 "proxy $1 listening" grep -qs "^listening on " "$nd_tmp/proxy$1.out" || { cat "$nd_tmp/proxy$1.out"; exit 1; }
	url=ws://127.0.0.1:$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$nd_tmp/proxy$1.out")
}
proxy 1 "$nd_relay_port"
p1=$url
proxy 2 "$r2port"
p2=$url

nd_pair_relay_only "$p1" "$p2"

# field HOME PEER EXPR: EXPR of PEER's entry in peers --json (p).
field() {
	nd_run - "$1" peers --json | "$nd_py" -c '
import json, sys
p = next((p for p in json.load(sys.stdin)["peers"] if p["name"] == sys.argv[1]), {})
print(eval(sys.argv[2]))' "$2" "$3"
}
relay_of() { field "$1" "$2" 'p.get("relay") or ""'; }
both_on_relay() { [ -n "$(relay_of "$rob" matt)" ] && [ -n "$(relay_of "$matt" rob)" ]; }
on() { [ "$(relay_of "$rob" matt)" = "$1" ] && [ "$(relay_of "$matt" rob)" = "$1" ]; }
moves() { grep -c "relay path moved from .* faster" "$1"; }

nd_wait 20 "both on a relay" both_on_relay || bad "not on a relay: rob '$(relay_of "$rob" matt)', matt '$(relay_of "$matt" rob)'"
# Both measured before the slowdown (probes every 2 s on the relay path).
measured() { [ "$(field "$rob" matt 'sum(v is not None for v in p.get("relay_rtts", {}).values())')" = 2 ]; }
nd_wait 15 "rob measured both relays" measured || bad "rob's relay_rtts: $(field "$rob" matt 'p.get("relay_rtts")')"
[ "$(moves "$rob.log")" = 0 ] || bad "rob moved between two equal relays: $(grep 'relay path moved' "$rob.log")"
used=$(relay_of "$rob" matt)
if [ "$used" = "$p1" ]; then n=1 other=$p2; else n=2 other=$p1; fi
echo "rob uses $used, matt $(relay_of "$matt" rob); slowing $used down by 30 ms each way"
# Traffic while the relay slows down, as a user would see it: a text a
# second from Rob, at most 60.
( i=0; while [ $i -lt 60 ]; do nd_run - "$rob" send matt "tick $i" >/dev/null 2>&1; i=$((i + 1)); sleep 1; done ) &
ticker=$!
echo 30 >"$nd_tmp/delay$n"
t0=$(nd_ms)
nd_wait 30 "both moved to the faster relay" on "$other" ||
	bad "not moved to $other: rob uses '$(relay_of "$rob" matt)', matt '$(relay_of "$matt" rob)'"
echo "moved to $other $(($(nd_ms) - t0)) ms after $used slowed down"
# No flapping: 10 s more on the faster one, the slow one still jittering.
end=$(($(nd_ms) + 10000))
while [ "$(nd_ms)" -lt "$end" ]; do
	on "$other" || { bad "flapped: rob on '$(relay_of "$rob" matt)', matt on '$(relay_of "$matt" rob)'"; break; }
	sleep 1
done
kill "$ticker" 2>/dev/null
wait "$ticker" 2>/dev/null
rm=$(moves "$rob.log")
mm=$(moves "$matt.out")
[ "$rm" = 1 ] || bad "rob moved $rm times (want 1): $(grep 'relay path moved' "$rob.log")"
[ "$mm" -le 1 ] || bad "matt moved $mm times (want at most 1): $(grep 'relay path moved' "$matt.out")"
slow=$(field "$rob" matt "p['relay_rtts']['$used']")
fast=$(field "$rob" matt "p['relay_rtts']['$other']")
echo "rob's relay_rtts: slow $slow ms, fast $fast ms"
"$nd_py" -c 'import sys; sys.exit(not (float(sys.argv[1]) > 50 and float(sys.argv[2]) < 20))' "$slow" "$fast" ||
	bad "relay_rtts do not show the slowdown: $used $slow ms, $other $fast ms"
nd_run - "$rob" send matt "after" >/dev/null || bad "send after the move failed"
nd_recv_until - "$matt" "$matt.recv" "rob: after" 10 || bad "matt did not receive 'after'"
nd_run - "$matt" send rob "and back" >/dev/null || bad "matt's send failed"
nd_recv_until - "$rob" "$rob.recv" "matt: and back" 10 || bad "rob did not receive 'and back'"

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out"; do
		echo "== ${f##*/}"
		tail -n 20 "$f"
	done
	echo "relay_rtt: FAILED"
	exit 1
fi
echo "relay_rtt: left the slowed relay for the faster one once, no flapping"
exit 0
