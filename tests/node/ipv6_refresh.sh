#!/bin/sh
# tests/node/ipv6_refresh.sh BINARY: the node refreshes its IPv6 endpoints
# as it does its IPv4 one (issue 12; node/udp6.c node_udp6_refresh).
#
# s1 (Rob) <-> s2 (Matt), symmetric IPv4 NATs, global IPv6 behind each
# router's stateful IPv6 firewall, an IPv6 STUN server on the public host.
# Once they are direct over IPv6, Rob's host gets a new address
# (2001:db8:1::3) and loses the old one (2001:db8:1::2), as when a
# router hands out a new prefix. Then, each within 40 s:
#  - Rob's `peers --json` self.public_endpoint_ipv6 is [2001:db8:1::3]:22001
#    (the IPv6 STUN refresh through the node's own IPv6 socket) and its log
#    says its IPv6 candidates changed (the re-announcement);
#  - Matt lists the new endpoint among Rob's candidates (it came in Rob's
#    new HELLO), and is back on a direct IPv6 path to it; `send` works.
# ND_KEEP=1 keeps the logs; NL_TAG names the namespaces. About 20-40 s.
# Needs root; exits 77 otherwise.
set -u
bin=${1:?usage: ipv6_refresh.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
nd_begin "$bin" lab

nd_lab_public
natlab_site s1 symmetric
natlab_site s2 symmetric
nd_lab_ipv6 s1 s2
rob="$nd_tmp/rob"
matt="$nd_tmp/matt"
dump() {
	tail -n 30 "$rob.log" "$matt.out"
}

# v6 HOST HOME PEER: "<path> <family> <remote> <ipv6 candidates, comma-separated>" of PEER.
v6() {
	nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
try:
    peers = json.load(sys.stdin)["peers"]
except Exception:
    print("absent none none -"); sys.exit(0)
for p in peers:
    if p.get("name") == sys.argv[1]:
        c6 = [c["address"] for c in p.get("candidates", []) if c.get("family") == "ipv6"]
        print("%s %s %s %s" % (p.get("path") if p.get("connected") else "none", p.get("family") or "none",
                               p.get("remote"), ",".join(c6) or "-"))
        break
else:
    print("absent none none -")
' "$3"
}
self_v6() {
	nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
print(json.load(sys.stdin)["self"].get("public_endpoint_ipv6"))'
}
old="[2001:db8:1::2]:22001"
new="[2001:db8:1::3]:22001"
direct_v6_to() { # direct_v6_to HOST HOME PEER REMOTE
	case $(v6 "$1" "$2" "$3") in "direct ipv6 $4 "*) return 0 ;; esac
	return 1
}

ND_INIT_ARGS=$nd_stun6_arg
nd_pair_up s1 "$rob" s2 "$matt" 22001 22002 || exit 1
ND_INIT_ARGS=""
nd_wait 20 "matt direct over IPv6 to rob's first address" direct_v6_to s2 "$matt" rob "$old" || {
	bad "not direct over IPv6 before the change: matt sees '$(v6 s2 "$matt" rob)'"
	dump
	exit 1
}
[ "$(self_v6 s1 "$rob")" = "$old" ] || bad "rob's public_endpoint_ipv6 before the change is '$(self_v6 s1 "$rob")', want $old"

# --- Rob's host renumbers -------------------------------------------------------------
natlab_v6addr s1 lan 2001:db8:1::3/64
ip -n "$(natlab_ns s1)" -6 addr del 2001:db8:1::2/64 dev lan || bad "cannot remove rob's old address"
t0=$(nd_ms)
self_new() { [ "$(self_v6 s1 "$rob")" = "$new" ]; }
if nd_wait 40 "rob learns its new IPv6 endpoint" self_new; then
	echo "rob's public IPv6 endpoint $old -> $new after $(($(nd_ms) - t0)) ms"
else
	bad "rob's public_endpoint_ipv6 is '$(self_v6 s1 "$rob")' 40 s after renumbering, want $new"
fi
grep -qF "public IPv6 endpoint changed from $old to $new" "$rob.log" || bad "rob's log does not say its IPv6 endpoint changed"
grep -q "IPv6 candidates changed" "$rob.log" || bad "rob's log does not say it re-announced its IPv6 candidates"
matt_has_new() {
	case ",$(v6 s2 "$matt" rob | cut -d' ' -f4)," in *",$new,"*) return 0 ;; esac
	return 1
}
nd_wait 40 "matt learns rob's new IPv6 candidate" matt_has_new ||
	bad "matt's IPv6 candidates of rob lack $new: '$(v6 s2 "$matt" rob)'"
if nd_wait 40 "matt direct over IPv6 to rob's new address" direct_v6_to s2 "$matt" rob "$new"; then
	echo "matt direct over IPv6 to $new after $(($(nd_ms) - t0)) ms"
else
	bad "matt is not direct to $new: '$(v6 s2 "$matt" rob)'"
fi
nd_run s1 "$rob" send matt "after renumbering" >/dev/null 2>&1 || bad "rob's send failed"
nd_recv_until s2 "$matt" "$matt.recv" "rob: after renumbering" 10 || bad "matt did not receive"
[ "$fail" = 0 ] || dump
nd_kill "$nd_rob_pid" "$nd_matt_pid"
exit $fail
