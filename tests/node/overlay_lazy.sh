#!/bin/sh
# tests/node/overlay_lazy.sh BINARY: overlay packets for a member the node
# cannot send to yet wait for its path instead of being dropped
# (overlay/stage.h, docs/OVERLAY.md "Packets wait for a path"), on a
# relayed pair whose relay links are lazy (issue 11).
#
# Rob and Matt behind symmetric NATs (the relay or nothing), both with
# --tun, links forced lazy (ATMOSPHERE_LAZY_LINKS_AT=0) with a 4 s idle
# time and no ring neighbours; they reach the relay through a delay proxy
# (tests/node/delay_proxy.py) on the public host. Checked:
#  1. Idle, neither keeps a pair link. One `ping -c 1` from Rob to Matt's
#     overlay address is answered: the echo request waited while Rob
#     called Matt (overlay.staged.sent > 0). Before, it was dropped (no
#     path) and a lone ping never came back.
#  2. The idle question's round trip: with the proxy holding every chunk
#     150 ms each way, as soon as one side's log says it asks the other
#     whether their idle links may close, it pings the other once. That
#     echo request, sent while the question travels, is answered: it waits
#     for the answer (and the call that follows). Before, it went out
#     behind the question, the other side closed its links on reading the
#     question, and the packet was lost.
# Needs root and ping; exits 77 otherwise. About 40 s.
set -u
bin=${1:?usage: overlay_lazy.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
command -v ping >/dev/null || { echo "SKIP: ping is not installed (apt-get install iputils-ping)"; exit 77; }
nd_begin "$bin" lab
export ATMOSPHERE_LOG=debug ATMOSPHERE_LAZY_LINKS_AT=0 ATMOSPHERE_LAZY_IDLE_MS=4000 ATMOSPHERE_LAZY_RING=0

nd_lab_public
natlab_site a symmetric
natlab_site b symmetric
delay=$nd_tmp/delay
: >"$delay"
nd_spawn pub "$nd_tmp/proxy.out" "$nd_py" "$here/delay_proxy.py" 203.0.113.10 8080 "$delay" 170 203.0.113.10
nd_wait 10 "delay proxy listening" grep -qs "^listening on " "$nd_tmp/proxy.out" || { cat "$nd_tmp/proxy.out"; exit 1; }
nd_relay_url=ws://203.0.113.10:$(sed -n 's/^listening on \([0-9]*\)$/\1/p' "$nd_tmp/proxy.out")
rob=$nd_tmp/rob
matt=$nd_tmp/matt
ND_SERVE_ARGS=--tun ND_JOIN_ARGS=--tun nd_pair_up a "$rob" b "$matt" 7777 7777 || exit 1
nd_wait 40 "rob and matt connected" nd_both_connected a "$rob" b "$matt" ||
	bad "not connected: rob sees '$(nd_peer a "$rob" matt)', matt sees '$(nd_peer b "$matt" rob)'"
m4=$(nd_field a "$rob" matt overlay_ipv4)
r4=$(nd_field b "$matt" rob overlay_ipv4)
echo "rob $r4, matt $m4"
[ -n "$m4" ] && [ -n "$r4" ] || bad "peers --json lacks overlay addresses"
nd_wait 10 "both interfaces addressed" sh -c "ip netns exec '$(natlab_ns b)' ip -4 addr show atmosphere0 | grep -q '$m4' &&
	ip netns exec '$(natlab_ns a)' ip -4 addr show atmosphere0 | grep -q '$r4'" || bad "atmosphere0 lacks its address"

pair_links() { nd_field "$1" "$2" self lazy_links.pair_links; }
idle_both() { [ "$(pair_links a "$rob")" = 0 ] && [ "$(pair_links b "$matt")" = 0 ]; }
staged() { nd_field "$1" "$2" self "overlay.staged.$3"; }

# 1. a lone ping to an idle member
nd_wait 30 "both sides' pair links closed (idle)" idle_both ||
	bad "pair links still open after the idle time: rob $(pair_links a "$rob"), matt $(pair_links b "$matt")"
sent0=$(staged a "$rob" sent)
if natlab_exec a ping -c 1 -W 8 "$m4" >"$nd_tmp/ping1.out" 2>&1; then
	echo "1. a lone ping to idle matt: $(grep -o 'time=[0-9.]* ms' "$nd_tmp/ping1.out")"
else
	bad "a lone ping from rob to idle matt ($m4) was not answered: $(tail -n 2 "$nd_tmp/ping1.out")"
fi
sent1=$(staged a "$rob" sent)
[ "${sent1:-0}" -gt "${sent0:-0}" ] 2>/dev/null ||
	bad "rob's overlay.staged.sent did not grow ($sent0 -> $sent1): the echo did not wait for the path"

# 2. a ping in the round trip of an idle question: the links are woken
#    (a few pings, whatever becomes of them), then left to go idle
natlab_exec a ping -c 4 -i 0.25 -W 2 "$m4" >/dev/null 2>&1
echo 150 >"$delay"
asks() { grep -c "idle: asking whether it still uses the pair links" "$1" 2>/dev/null; }
r0=$(asks "$rob.log")
m0=$(asks "$matt.out")
asker=
end=$(($(nd_ms) + 25000))
while [ "$(nd_ms)" -lt "$end" ]; do
	if [ "$(asks "$rob.log")" -gt "$r0" ]; then
		asker=rob
		break
	fi
	if [ "$(asks "$matt.out")" -gt "$m0" ]; then
		asker=matt
		break
	fi
	sleep 0.02
done
if [ "$asker" = rob ]; then
	host=a home=$rob dst=$m4 other=matt
else
	host=b home=$matt dst=$r4 other=rob
fi
if [ -z "$asker" ]; then
	bad "neither side asked whether its idle links may close within 25 s"
else
	st0=$(staged "$host" "$home" packets)
	if natlab_exec "$host" ping -c 1 -W 10 "$dst" >"$nd_tmp/ping2.out" 2>&1; then
		echo "2. $asker asked $other about idle links and pinged at once: $(grep -o 'time=[0-9.]* ms' "$nd_tmp/ping2.out")"
	else
		bad "$asker's ping to $other ($dst), sent while $asker asked about idle links, was not answered: $(tail -n 2 "$nd_tmp/ping2.out")"
	fi
	st1=$(staged "$host" "$home" packets)
	echo "   $asker staged $((${st1:-0} - ${st0:-0})) packet(s) meanwhile"
	# The echo request waited (it was sent in the question's round trip,
	# not after the answer), and the other side did agree to close: the
	# case where the packet used to be lost.
	[ "${st1:-0}" -gt "${st0:-0}" ] 2>/dev/null ||
		bad "$asker staged nothing while asking ($st0 -> $st1): the ping did not go out in the question's round trip"
	grep -q "relay links: $asker idle on both sides" "$nd_tmp/$other.log" "$nd_tmp/$other.out" 2>/dev/null ||
		bad "$other did not agree to close the idle links: $(grep -h "relay links" "$nd_tmp/$other.log" "$nd_tmp/$other.out" 2>/dev/null | tail -n 3)"
fi

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out" "$nd_tmp/proxy.out"; do
		echo "== ${f##*/}"
		grep -h "relay links\|overlay\|knock" "$f" | tail -n 25
	done
	echo "overlay_lazy: FAILED"
	exit 1
fi
echo "overlay_lazy: packets to an idle or closing member wait for its path"
exit 0
