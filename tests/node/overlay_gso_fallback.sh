#!/bin/sh
# tests/node/overlay_gso_fallback.sh BINARY: UDP GSO (overlay/udpgso.h) on
# a device without checksum offload. Rob's host sends through one
# (ethtool -K lan tx off). Kernels before 6.11 refuse a UDP_SEGMENT send
# there with EIO (net/ipv4/udp.c, udp_send_skb); since 6.11 ("udp: Allow
# GSO transmit from devices with no checksum offload") they checksum the
# segments in software and send. Checked:
#  - a 2 MB HTTP transfer from Rob's overlay address to Matt, and one back,
#    arrive intact on the direct path;
#  - Rob's node either batched with no fallback (a kernel that checksums in
#    software), or counted exactly one fallback, turned UDP GSO off, says so
#    in its log and counted no batch (the refused batch was resent packet by
#    packet); no send lost either way. Which one happened is printed;
#  - Matt's node, whose device offloads checksums, batches.
# Needs root and ethtool (Debian package ethtool); exits 77 otherwise.
# About 20 s.
set -u
bin=${1:?usage: overlay_gso_fallback.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
command -v ethtool >/dev/null || { echo "SKIP: ethtool is not installed (apt-get install ethtool)"; exit 77; }
command -v curl >/dev/null || { echo "SKIP: curl is not installed (apt-get install curl)"; exit 77; }
nd_begin "$bin" lab

nd_lab_public
natlab_site a none
natlab_site b none
natlab_exec a ethtool -K lan tx off >/dev/null 2>&1 || bad "ethtool -K lan tx off on rob's host"
natlab_exec a ethtool -k lan | grep -q '^tx-checksumming: off' ||
	bad "rob's lan still offloads checksums: $(natlab_exec a ethtool -k lan | grep '^tx-checksumming')"
rob=$nd_tmp/rob
matt=$nd_tmp/matt
ND_SERVE_ARGS=--tun ND_JOIN_ARGS=--tun nd_pair_up a "$rob" b "$matt" 7777 7777 || exit 1
direct() { nd_path_is a "$rob" matt direct && nd_path_is b "$matt" rob direct; }
nd_wait 25 "both connected on the direct path" direct ||
	bad "not direct: rob sees '$(nd_peer a "$rob" matt)', matt sees '$(nd_peer b "$matt" rob)'"

m4=$(nd_field a "$rob" matt overlay_ipv4)
r4=$(nd_field b "$matt" rob overlay_ipv4)
[ -n "$m4" ] && [ -n "$r4" ] || bad "peers --json lacks overlay addresses"
[ "$(nd_field a "$rob" self overlay.udp_gso.enabled)" = True ] || bad "UDP GSO is off on rob's node before any send"
nd_wait 10 "rob's atmosphere0" natlab_exec a sh -c "ip -4 addr show atmosphere0 | grep -q '$r4'" || bad "rob's atmosphere0 lacks $r4"

# 2 MB each way: Rob's side falls back, Matt's batches.
{ nd_blob_server a "$r4" rob && nd_blob_server b "$m4" matt; } || bad "http.server did not start"
nd_blob_intact b "http://$r4:8000/blob" rob || bad "2 MB from rob (GSO refused): $(cat "$nd_tmp/curl.err")"
nd_blob_intact a "http://$m4:8000/blob" matt || bad "2 MB from matt: $(cat "$nd_tmp/curl.err")"
nd_path_is a "$rob" matt direct || bad "rob left the direct path: $(nd_peer a "$rob" matt)"

echo "rob's UDP GSO: $(nd_field a "$rob" self overlay.udp_gso), offload $(nd_field a "$rob" self overlay.offload)"
echo "matt's UDP GSO: $(nd_field b "$matt" self overlay.udp_gso)"
[ "$(nd_field a "$rob" self overlay.offload.tso_reads)" -ge 1 ] 2>/dev/null || bad "no TSO read on rob's side: nothing to batch"
[ "$(nd_field a "$rob" self overlay.udp_gso.send_errors)" = 0 ] || bad "rob's node lost sends"
case $(nd_field a "$rob" self overlay.udp_gso.fallbacks) in
0)
	echo "this kernel ($(uname -r)) sends UDP GSO through a device without checksum offload"
	[ "$(nd_field a "$rob" self overlay.udp_gso.enabled)" = True ] || bad "rob's node turned UDP GSO off without a fallback"
	[ "$(nd_field a "$rob" self overlay.udp_gso.batches)" -ge 1 ] 2>/dev/null || bad "rob's node neither batched nor fell back"
	;;
1)
	echo "this kernel ($(uname -r)) refused UDP GSO through a device without checksum offload: fell back"
	[ "$(nd_field a "$rob" self overlay.udp_gso.enabled)" = False ] || bad "rob's node kept UDP GSO on after the kernel refused it"
	[ "$(nd_field a "$rob" self overlay.udp_gso.batches)" = 0 ] || bad "rob's node counted batches the kernel refused"
	grep -q "refused a UDP GSO send" "$rob.log" || bad "rob's log does not say UDP GSO was refused"
	;;
*) bad "rob's node counted '$(nd_field a "$rob" self overlay.udp_gso.fallbacks)' fallbacks, want 0 or 1" ;;
esac
[ "$(nd_field b "$matt" self overlay.udp_gso.batches)" -ge 1 ] 2>/dev/null || bad "matt's node did not batch"

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out"; do
		echo "== ${f##*/}"
		tail -n 30 "$f"
	done
	echo "overlay_gso_fallback: FAILED"
	exit 1
fi
echo "overlay_gso_fallback: UDP GSO through a device without checksum offload: 2 MB each way intact"
exit 0
