#!/bin/sh
# tests/node/ipv6_direct.sh BINARY: the IPv6 underlay (issue 12) in the NAT lab.
#
# Four sites, all symmetric on IPv4 (a pair the IPv4 NATs keep on the relay),
# each with global IPv6 behind its router's stateful IPv6 firewall (drops
# unsolicited inbound, RFC 6092: natlab_ipv6_firewall).
# 1. s1 <-> s2: ends on a direct IPv6 path on both sides ("direct", family
#    "ipv6" in `peers --json`) within 15 s of `join CODE`, the join code
#    carries Rob's IPv6 endpoint (ipv6_endpoints), and `send` works on it.
#    Both learn their IPv6 server-reflexive endpoint from an IPv6 STUN
#    server (Rob's configured, Matt's from the code).
# 2. s3 <-> s4 with IPv6 dropped both ways by the wan router: the pair
#    connects over the relay (IPv4) as fast as it would without IPv6: both
#    sides connected within 5 s of `join CODE` (a stall waiting for IPv6
#    would show here), IPv6 candidates tried and none answered.
# 3. e5 (port_restricted) <-> e6 (full_cone): IPv4 punching works too, and
#    the pair still ends on IPv6 (the preference), IPv4 candidates answered.
# 4. Then the wan router drops IPv6 between them: the pair is back on direct
#    IPv4 within 20 s (the dead path's 6.5 s, then a repunch).
# Prints the times. ND_KEEP=1 keeps the logs; NL_TAG names the namespaces
# (natlab/lab.sh). About 40 s. Needs root; exits 77 otherwise.
set -u
bin=${1:?usage: ipv6_direct.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
nd_begin "$bin" lab

nd_lab_public
for s in s1 s2 s3 s4; do
	natlab_site "$s" symmetric
done
natlab_site e5 port_restricted
natlab_site e6 full_cone
# Every site's router with the IPv6 firewall, and a STUN server on the
# public host's IPv6 address, for the nodes' IPv6 server-reflexive endpoint
# (no NAT66: it is the host's own address).
nd_lab_ipv6 s1 s2 s3 s4 e5 e6

# v6_state HOST HOME PEER: "<path> <family> <v6 tried> <v6 answered>" of PEER.
v6_state() {
	nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
try:
    peers = json.load(sys.stdin)["peers"]
except Exception:
    print("absent none 0 0"); sys.exit(0)
for p in peers:
    if sys.argv[1] in (p.get("name"), p.get("node_id")):
        c6 = [c for c in p.get("candidates", []) if c.get("family") == "ipv6"]
        print("%s %s %d %d" % (p.get("path") if p.get("connected") else "none", p.get("family") or "none",
                               sum(1 for c in c6 if c.get("tried")), sum(1 for c in c6 if c.get("answered"))))
        break
else:
    print("absent none 0 0")
' "$3"
}
direct_v6() { # direct_v6 HOST HOME PEER
	case $(v6_state "$1" "$2" "$3") in "direct ipv6 "*) return 0 ;; esac
	return 1
}
both_direct_v6() {
	direct_v6 s1 "$rob" matt && direct_v6 s2 "$matt" rob
}

# --- 1. symmetric <-> symmetric, direct over IPv6 -------------------------------
rob="$nd_tmp/rob"
matt="$nd_tmp/matt"
ND_INIT_ARGS=$nd_stun6_arg
nd_pair_up s1 "$rob" s2 "$matt" 22001 22002 || exit 1
ND_INIT_ARGS=""
self_v6_is() { # self_v6_is HOST HOME WANT: self.public_endpoint_ipv6 in `peers --json` is WANT
	[ "$(nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
print(json.load(sys.stdin)["self"].get("public_endpoint_ipv6"))')" = "$3" ]
}
nd_wait 10 "rob's IPv6 server-reflexive endpoint" self_v6_is s1 "$rob" "[2001:db8:1::2]:22001" ||
	bad "rob's public_endpoint_ipv6 is not [2001:db8:1::2]:22001: $(nd_run s1 "$rob" peers --json | head -c 600)"
nd_wait 10 "matt's IPv6 server-reflexive endpoint (STUN from the code)" self_v6_is s2 "$matt" "[2001:db8:2::2]:22002" ||
	bad "matt's public_endpoint_ipv6 is not [2001:db8:2::2]:22002"
code_json=$(printf '%s' "$nd_code_str" | base64 -d 2>/dev/null)
case $code_json in
*'"ipv6_endpoints":["[2001:db8:1::2]:22001"]'*) ;;
*) bad "the join code carries no IPv6 endpoint of rob: $code_json" ;;
esac
if nd_wait 15 "direct IPv6 path on both sides" both_direct_v6; then
	echo "symmetric <-> symmetric: direct over IPv6 after $(($(nd_ms) - nd_join_ms)) ms from 'join CODE'"
else
	bad "no direct IPv6 path: rob sees '$(v6_state s1 "$rob" matt)', matt sees '$(v6_state s2 "$matt" rob)'"
	tail -n 20 "$rob.log" "$matt.out"
fi
nd_run s1 "$rob" send matt "over ipv6" >/dev/null 2>&1 || bad "rob's send failed"
nd_recv_until s2 "$matt" "$matt.recv" "rob: over ipv6" 10 || bad "matt did not receive"
nd_run s1 "$rob" peers --json | grep -q '"remote":"\[2001:db8:2::2\]:22002"' ||
	bad "rob's remote is not matt's IPv6 endpoint: $(nd_run s1 "$rob" peers --json)"
nd_kill "$nd_rob_pid" "$nd_matt_pid"

# --- 2. IPv6 dropped both ways: IPv4 (relay) without a stall --------------------
natlab_exec wan nft -f - <<-'EOF' || bad "cannot block IPv6 between s3 and s4"
table ip6 v6block {
	chain forward_drop { type filter hook forward priority -10; policy accept;
		ip6 saddr 2001:db8:3::/64 ip6 daddr 2001:db8:4::/64 drop
		ip6 saddr 2001:db8:4::/64 ip6 daddr 2001:db8:3::/64 drop
	}
}
EOF
rob="$nd_tmp/rob2"
matt="$nd_tmp/matt2"
nd_pair_up s3 "$rob" s4 "$matt" 22011 22012 || exit 1
if nd_wait 5 "both connected with IPv6 blocked" nd_both_connected s3 "$rob" s4 "$matt"; then
	echo "IPv6 blocked: connected over the relay after $(($(nd_ms) - nd_join_ms)) ms from 'join CODE'"
else
	bad "with IPv6 blocked the pair did not connect within 5 s: rob '$(v6_state s3 "$rob" matt)', matt '$(v6_state s4 "$matt" rob)'"
	tail -n 20 "$rob.log" "$matt.out"
fi
# The IPv6 candidates were tried (punched) and never answered.
tried_none_answered() {
	case $(v6_state s3 "$rob" matt) in "relay none "[1-9]*" 0") return 0 ;; esac
	return 1
}
nd_wait 5 "rob tried matt's IPv6 candidate, no answer" tried_none_answered ||
	bad "rob's view with IPv6 blocked: '$(v6_state s3 "$rob" matt)' (want relay, no family, IPv6 tried, none answered)"
nd_run s3 "$rob" send matt "over the relay" >/dev/null 2>&1 || bad "rob's send failed (IPv6 blocked)"
nd_recv_until s4 "$matt" "$matt.recv" "rob: over the relay" 10 || bad "matt did not receive (IPv6 blocked)"
nd_kill "$nd_rob_pid" "$nd_matt_pid"
natlab_exec wan nft delete table ip6 v6block

# --- 3. both families work: IPv6 preferred --------------------------------------
v4_answered() { # v4_answered HOST HOME PEER: some IPv4 candidate of PEER answered
	nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
for p in json.load(sys.stdin)["peers"]:
    if p.get("name") == sys.argv[1]:
        sys.exit(0 if any(c["family"] == "ipv4" and c["answered"] for c in p["candidates"]) else 1)
sys.exit(1)
' "$3"
}
rob="$nd_tmp/rob3"
matt="$nd_tmp/matt3"
nd_pair_up e5 "$rob" e6 "$matt" 22021 22022 || exit 1
both_direct_v6_e() {
	direct_v6 e5 "$rob" matt && direct_v6 e6 "$matt" rob
}
if nd_wait 15 "direct IPv6 path on both sides (both families open)" both_direct_v6_e; then
	echo "port_restricted <-> full_cone: direct over IPv6 after $(($(nd_ms) - nd_join_ms)) ms from 'join CODE'"
else
	bad "IPv6 not preferred: rob sees '$(v6_state e5 "$rob" matt)', matt sees '$(v6_state e6 "$matt" rob)'"
fi
nd_wait 10 "an IPv4 candidate answered too" v4_answered e6 "$matt" rob ||
	bad "no IPv4 candidate answered on the port_restricted <-> full_cone pair: $(nd_run e6 "$matt" peers --json)"

# --- 4. IPv6 dies under the pair: back to direct IPv4 ---------------------------
# The wan router starts dropping IPv6 between e5 and e6: the IPv6 path goes
# silent (6.5 s without keepalives), the pair repunches at once and IPv4,
# which works, carries it again within 20 s.
direct_v4() { # direct_v4 HOST HOME PEER
	case $(v6_state "$1" "$2" "$3") in "direct ipv4 "*) return 0 ;; esac
	return 1
}
both_direct_v4_e() {
	direct_v4 e5 "$rob" matt && direct_v4 e6 "$matt" rob
}
natlab_exec wan nft -f - <<-'EOF' || bad "cannot block IPv6 between e5 and e6"
table ip6 v6block {
	chain forward_drop { type filter hook forward priority -10; policy accept;
		ip6 saddr 2001:db8:5::/64 ip6 daddr 2001:db8:6::/64 drop
		ip6 saddr 2001:db8:6::/64 ip6 daddr 2001:db8:5::/64 drop
	}
}
EOF
t_block=$(nd_ms)
if nd_wait 20 "both back on direct IPv4" both_direct_v4_e; then
	echo "IPv6 blocked under the pair: direct over IPv4 again after $(($(nd_ms) - t_block)) ms"
else
	bad "no IPv4 fallback: rob sees '$(v6_state e5 "$rob" matt)', matt sees '$(v6_state e6 "$matt" rob)'"
fi
nd_run e5 "$rob" send matt "after ipv6 died" >/dev/null 2>&1 || bad "rob's send failed (after IPv6 died)"
nd_recv_until e6 "$matt" "$matt.recv" "rob: after ipv6 died" 10 || bad "matt did not receive (after IPv6 died)"
nd_kill "$nd_rob_pid" "$nd_matt_pid"
exit $fail
