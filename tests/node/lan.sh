#!/bin/sh
# tests/node/lan.sh BINARY: two nodes on one LAN use the `lan` path.
#
# One site behind a port-restricted NAT (stock masquerade, no hairpinning)
# with two hosts on a bridge: Rob on 10.1.0.2, Matt on 10.1.0.3, plus the
# public host with our relay and STUN server. Both must list the other as
# connected on the `lan` path with a 10.1.0.x remote, and messages must go
# both ways. Needs root; exits 77 otherwise. About 5 s.
set -u
bin=${1:?usage: lan.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
nd_begin "$bin" lab

nd_lab_public
natlab_site home port_restricted
nd_lan_host home home2
rob=$nd_tmp/rob
matt=$nd_tmp/matt
nd_pair_up home "$rob" home2 "$matt" 7777 7777 || exit 1
nd_wait 20 "both connected" nd_both_connected home "$rob" home2 "$matt" ||
	bad "not connected: rob sees '$(nd_peer home "$rob" matt)', matt sees '$(nd_peer home2 "$matt" rob)'"
lan_both() {
	nd_path_is home "$rob" matt lan && nd_path_is home2 "$matt" rob lan
}
nd_wait 15 "the lan path on both sides" lan_both ||
	bad "path: rob sees matt '$(nd_peer home "$rob" matt)', matt sees rob '$(nd_peer home2 "$matt" rob)', want lan"
echo "lan path after $(($(nd_ms) - nd_join_ms)) ms from the join"
remotes=$(nd_run home "$rob" peers --json; nd_run home2 "$matt" peers --json)
echo "$remotes"
case $remotes in
*'"remote":"10.1.0.3:7777"'*'"remote":"10.1.0.2:7777"'*) ;;
*) bad "remotes are not the LAN addresses 10.1.0.3:7777 / 10.1.0.2:7777" ;;
esac
nd_run home "$rob" send matt "over the lan" >/dev/null || bad "rob's send failed"
nd_run home2 "$matt" send rob "back over the lan" >/dev/null || bad "matt's send failed"
nd_recv_until home2 "$matt" "$matt.recv" "rob: over the lan" 10 || bad "matt did not receive"
nd_recv_until home "$rob" "$rob.recv" "matt: back over the lan" 10 || bad "rob did not receive"
out=$(nd_run home "$rob" ping matt 2>&1) || bad "ping: $out"
case $out in *"via lan path"*) ;; *) bad "ping does not say 'via lan path': $out" ;; esac

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out"; do
		echo "== ${f##*/}"
		tail -n 20 "$f"
	done
	echo "lan: FAILED"
	exit 1
fi
echo "lan: the lan path is used"
exit 0
