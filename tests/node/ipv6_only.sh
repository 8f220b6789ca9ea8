#!/bin/sh
# tests/node/ipv6_only.sh BINARY: an IPv6-only host and an IPv4-only host
# meet through one relay listening on both families (issue 12).
#
# The relay runs on the lab's public host with `--host ::` (one dual-stack
# listener). The mesh lists it twice: ws://[2001:db8:113::10]:8080 and
# ws://203.0.113.10:8080. Rob's host has IPv6 only (no IPv4 address at all,
# hanging off the wan router); Matt's host is behind a port_restricted NAT
# with IPv4 only. Each reaches the relay by the URL of its family: both end
# connected on the relay path, each naming the URL it can use, and messages
# go both ways. ND_KEEP=1 keeps the logs; NL_TAG names the namespaces.
# About 10 s. Needs root; exits 77 otherwise.
set -u
bin=${1:?usage: ipv6_only.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
nd_begin "$bin" lab

natlab_public pub 203.0.113.10
natlab_site a port_restricted
natlab_ipv6 pub
# The IPv6-only host: 2001:db8:114::10/64 on the wan router, no IPv4.
natlab_addns v6o
natlab_link wan p-v6o v6o wan
natlab_v6addr wan p-v6o 2001:db8:114::1/64
natlab_v6addr v6o wan 2001:db8:114::10/64
ip -n "$(natlab_ns v6o)" -6 route add default via 2001:db8:114::1
natlab_v6_settle "$(natlab_ns wan)"
natlab_v6_settle "$(natlab_ns v6o)"
[ -z "$(ip -n "$(natlab_ns v6o)" -4 -o addr show scope global)" ] || bad "the IPv6-only host has an IPv4 address"

nd_start pub "$nd_tmp/pub" "$nd_tmp/relay.out" relay --host :: --port 8080 --threads 1
nd_wait 10 "relay listening on [::]:8080" grep -qs "^relay listening on \[::\]:8080" "$nd_tmp/relay.out" || {
	cat "$nd_tmp/relay.out"
	exit 1
}
url6="ws://[2001:db8:113::10]:8080"
url4="ws://203.0.113.10:8080"

# peer_field HOST HOME PEER FIELD: a field of PEER in `peers --json`.
peer_field() {
	nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
try:
    peers = json.load(sys.stdin)["peers"]
except Exception:
    peers = []
for p in peers:
    if sys.argv[1] in (p.get("name"), p.get("node_id")):
        print(p.get(sys.argv[2])); break
else:
    print("absent")
' "$3" "$4"
}
each_on_its_family() {
	nd_path_is v6o "$rob" matt relay && nd_path_is a "$matt" rob relay &&
		[ "$(peer_field v6o "$rob" matt relay)" = "$url6" ] && [ "$(peer_field a "$matt" rob relay)" = "$url4" ]
}

rob="$nd_tmp/rob"
matt="$nd_tmp/matt"
nd_relay_url=$url6
nd_stun_args=""
ND_INIT_ARGS="--relay $url4"
nd_pair_up v6o "$rob" a "$matt" 23001 23002 || exit 1
if nd_wait 30 "both connected" nd_both_connected v6o "$rob" a "$matt"; then
	echo "IPv6-only <-> IPv4-only: connected after $(($(nd_ms) - nd_join_ms)) ms from 'join CODE'"
else
	bad "not connected: rob sees '$(nd_peer v6o "$rob" matt)', matt sees '$(nd_peer a "$matt" rob)'"
	tail -n 30 "$rob.log" "$matt.out" "$nd_tmp/relay.out"
fi
nd_wait 15 "each on the relay URL of its family" each_on_its_family ||
	bad "relays in use: rob '$(peer_field v6o "$rob" matt relay)' (want $url6), matt '$(peer_field a "$matt" rob relay)' (want $url4)"
nd_run v6o "$rob" send matt "from the ipv6-only host" >/dev/null 2>&1 || bad "rob's send failed"
nd_run a "$matt" send rob "from the ipv4-only host" >/dev/null 2>&1 || bad "matt's send failed"
nd_recv_until a "$matt" "$matt.recv" "rob: from the ipv6-only host" 10 || bad "matt did not receive"
nd_recv_until v6o "$rob" "$rob.recv" "matt: from the ipv4-only host" 10 || bad "rob did not receive"
nd_kill "$nd_rob_pid" "$nd_matt_pid"
exit $fail
