#!/bin/sh
# tests/node/path_mtu.sh BINARY: a direct path's overlay MTU is measured,
# not assumed (issue 11, "MTU"; node/pmtu.h).
#
# Rob behind a full-cone NAT, Matt behind a port-restricted one (a pair that
# goes direct), both with --tun. Matt's router's link to the internet has
# an MTU of 1400 (both ends), so the largest overlay packet the direct path
# carries is 1400 - 20 (IPv4) - 8 (UDP) - 33 (our framing) = 1339 bytes,
# and the largest probe size that fits is 1320. Checked:
#  - both nodes report mtu 1320 and direct_mtu 1320 for the other in
#    `peers --json`, and log the figure;
#  - a ping over the overlay with DF set and a 1320-byte packet answers;
#  - one byte more gets "fragmentation needed" with MTU 1320 from the
#    overlay (ping says so), not a silent loss;
#  - a 2 MB HTTP fetch over the overlay arrives intact (TCP's path MTU
#    discovery follows the overlay's figure).
# The full 1,500-byte path (1420) and the relay path (1280) are checked in
# tests/node/overlay.sh. Needs root; exits 77 otherwise. About 25 s.
set -u
bin=${1:?usage: path_mtu.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
command -v ping >/dev/null || { echo "SKIP: ping is not installed (apt-get install iputils-ping)"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl is not installed"; exit 77; }
nd_begin "$bin" lab

nd_lab_public
natlab_site a full_cone
natlab_site b port_restricted
# The narrow link: b's router's wan and its other end in the "internet".
peer_if=$(ip -n "$(natlab_ns b-r)" -o link show wan | sed -n 's/^[0-9]*: wan@if\([0-9]*\):.*/\1/p')
wan_if=$(ip -n "$(natlab_ns wan)" -o link | sed -n "s/^$peer_if: \([^@:]*\).*/\1/p")
[ -n "$wan_if" ] || { echo "FAIL: cannot find the other end of b-r's wan link"; exit 1; }
ip -n "$(natlab_ns b-r)" link set wan mtu 1400 && ip -n "$(natlab_ns wan)" link set "$wan_if" mtu 1400 ||
	{ echo "FAIL: cannot set the link MTU"; exit 1; }

rob=$nd_tmp/rob
matt=$nd_tmp/matt
ND_SERVE_ARGS=--tun ND_JOIN_ARGS=--tun nd_pair_up a "$rob" b "$matt" 7777 7777 || exit 1
nd_wait 25 "both connected" nd_both_connected a "$rob" b "$matt" ||
	bad "not connected: rob sees '$(nd_peer a "$rob" matt)', matt sees '$(nd_peer b "$matt" rob)'"

measured() { [ "$(nd_field a "$rob" matt direct_mtu)" = 1320 ] && [ "$(nd_field b "$matt" rob direct_mtu)" = 1320 ]; }
nd_wait 15 "both measured 1320" measured ||
	bad "direct_mtu: rob sees '$(nd_field a "$rob" matt direct_mtu)', matt sees '$(nd_field b "$matt" rob direct_mtu)', want 1320 (path '$(nd_peer a "$rob" matt)')"
[ "$(nd_field a "$rob" matt mtu)" = 1320 ] || bad "rob's mtu for matt is '$(nd_field a "$rob" matt mtu)', want 1320"
grep -q "carries overlay packets of 1320 bytes" "$rob.log" || bad "rob did not log the figure"
grep -q "carries overlay packets of 1320 bytes" "$matt.out" || bad "matt did not log the figure"
m4=$(nd_field a "$rob" matt overlay_ipv4)
[ -n "$m4" ] || bad "no overlay address for matt"
nd_wait 10 "matt's atmosphere0 has $m4" sh -c "ip netns exec '$(natlab_ns b)' ip -4 addr show atmosphere0 | grep -q '$m4/'" ||
	bad "matt's atmosphere0 lacks $m4"

# 1292 bytes of ICMP payload + 8 + 20 = a 1320-byte packet: it fits.
natlab_exec a ping -M do -s 1292 -c 3 -i 0.2 -W 2 "$m4" >"$nd_tmp/ping-fit.out" 2>&1 ||
	bad "a 1320-byte ping with DF did not answer: $(cat "$nd_tmp/ping-fit.out")"
# One byte more: the overlay answers "fragmentation needed, MTU 1320".
natlab_exec a ping -M do -s 1293 -c 2 -i 0.3 -W 2 "$m4" >"$nd_tmp/ping-big.out" 2>&1 &&
	bad "a 1321-byte ping with DF answered: the figure is wrong"
grep -Eq "mtu ?= ?1320" "$nd_tmp/ping-big.out" ||
	bad "no 'fragmentation needed' with MTU 1320 for a 1321-byte packet: $(cat "$nd_tmp/ping-big.out")"
echo "ping beyond the path: $(grep -Em1 'mtu' "$nd_tmp/ping-big.out")"

# TCP: a 2 MB fetch from Matt (its segments follow the overlay's figure).
mkdir -p "$nd_tmp/www"
head -c 2000000 /dev/urandom >"$nd_tmp/www/blob"
want=$(sha256sum <"$nd_tmp/www/blob" | cut -d' ' -f1)
nd_spawn b "$nd_tmp/http.out" "$nd_py" -u -m http.server --bind 0.0.0.0 --directory "$nd_tmp/www" 8000
nd_wait 10 "http server up" sh -c "grep -q Serving '$nd_tmp/http.out'" || bad "http.server did not start"
got=$(natlab_exec a curl -sS --max-time 20 -o - "http://$m4:8000/blob" 2>"$nd_tmp/curl.err" | sha256sum | cut -d' ' -f1)
[ "$got" = "$want" ] || bad "HTTP over the narrow direct path: $(cat "$nd_tmp/curl.err")"
[ "$(nd_peer a "$rob" matt)" != "" ] && echo "path: $(nd_peer a "$rob" matt)"

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out"; do
		echo "== ${f##*/}"
		tail -n 30 "$f"
	done
	echo "path_mtu: FAILED"
	exit 1
fi
echo "path_mtu: the narrow direct path measured 1320, DF pings fit it, one byte more is 'fragmentation needed', TCP follows"
exit 0
