#!/bin/sh
# tests/node/idle_memory.sh BINARY: an idle node's own pages stay small.
# Our relay and STUN server on 127.0.0.1; Rob serves, Matt joins; once both
# are connected and some ticks have passed (every tick scans the peer and
# link tables), each node's RssAnon (/proc/PID/status: heap, stacks, rings,
# not the shared libraries' pages) must be under 3 MiB.
#
# The peer and link tables are sized for 1,024 members (5.3 MB, inside
# struct node) and only the slots in use may be touched: a scan of every
# slot made them all resident, 6 MB idle with no peer (docs/PERFORMANCE.md,
# "Node memory"). Where the kernel maps reads of untouched pages to its
# shared zero page, scans alone would not show here; this machine's kernel
# faults them in, as writes. Skipped (77) under the sanitizers (ASan's
# shadow memory is RssAnon too). About 10 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: idle_memory.sh BINARY}
if [ -n "${ATMOS_SANITIZED:-}" ]; then
	echo "idle_memory: skipped under the sanitizers (their shadow memory is RssAnon)"
	exit 77
fi
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/nodes.sh"
nd_begin "$bin"
limit_kib=3072

nd_loopback_servers
rob=$nd_tmp/rob
matt=$nd_tmp/matt
rport=$(nd_free_udp)
mport=$(nd_free_udp)
[ "$rport" != "$mport" ] || mport=$(nd_free_udp)

nd_run - "$rob" init lab --relay "$nd_relay_url" $nd_stun_args --public-ip 127.0.0.1 \
	--port "$rport" --name rob >"$rob.init" 2>&1 || { cat "$rob.init"; exit 1; }
nd_start - "$rob" "$rob.log" serve
rob_pid=$nd_pid
nd_wait 10 "rob's node answers" nd_up - "$rob" || { tail -n 20 "$rob.log"; exit 1; }

# anon_kib PID: RssAnon in KiB.
anon_kib() {
	sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status"
}

# check WHO PID: WHO's RssAnon under the limit.
check() {
	_kib=$(anon_kib "$2")
	[ -n "$_kib" ] || { bad "$1: no RssAnon (the node is gone?)"; return; }
	echo "$1: RssAnon $_kib KiB"
	[ "$_kib" -lt "$limit_kib" ] ||
		bad "$1: RssAnon $_kib KiB, want under $limit_kib: the node's own pages grew (smaps: $(awk '/^[0-9a-f]+-/{m=$1} /^Anonymous:/{if ($2 > 1024) printf "%s %s kB; ", m, $2}' "/proc/$2/smaps"))"
}

# Alone: five ticks.
sleep 1
check "rob, no peer" "$rob_pid"

code=$(nd_run - "$rob" join 2>&1 | sed -n 's/^Full code: //p')
[ -n "$code" ] || { echo "FAIL: no join code"; exit 1; }
nd_start - "$matt" "$matt.out" join "$code" --port "$mport" --name matt
matt_pid=$nd_pid
nd_wait 20 "both connected" nd_both_connected - "$rob" - "$matt" || {
	bad "not connected: rob sees '$(nd_peer - "$rob" matt)', matt sees '$(nd_peer - "$matt" rob)'"
	tail -n 20 "$rob.log" "$matt.out"
	exit 1
}
# Connected: ten ticks, and a message each way.
nd_run - "$rob" send matt "hello" >/dev/null 2>&1 || bad "rob's send failed"
nd_run - "$matt" send rob "hello" >/dev/null 2>&1 || bad "matt's send failed"
sleep 2
check "rob, one peer" "$rob_pid"
check "matt, one peer" "$matt_pid"

if [ "$fail" -ne 0 ]; then
	echo "idle_memory: FAILED"
	exit 1
fi
echo "idle_memory: the idle nodes' own pages are under $limit_kib KiB"
exit 0
