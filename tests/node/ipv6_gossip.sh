#!/bin/sh
# tests/node/ipv6_gossip.sh BINARY: members learnt through gossip are reached
# over IPv6 (issue 12; docs/NODE.md, "Membership" and "IPv6 underlay").
#
# Ana creates the mesh behind a full-cone NAT (IPv4 only). Bob and Cid each
# join with a code from Ana; both sit behind symmetric IPv4 NATs (a pair the
# IPv4 NATs never let go direct) with global IPv6 behind their routers'
# stateful IPv6 firewalls (drop unsolicited inbound, natlab_ipv6_firewall).
# The mesh's relay is down (nothing listens at its URL), so Bob and Cid
# cannot meet on a relay either, and neither ever holds a code or HELLO of
# the other: all each knows of the other is the membership entry Ana passes
# on. The only way they meet is the IPv6 endpoints in those entries:
#  1. Bob and Cid each learn of the other from Ana, with IPv6 candidates
#     (the "learned of" log line says how many);
#  2. within 20 s of that both list the other connected on a
#     direct IPv6 path (`peers --json`: path "direct", family "ipv6"), and
#     the address each uses is the other's global IPv6 address;
#  3. `send` works both ways.
#  4. Cid's host renumbers (2001:db8:3::2 -> ::3, as with a new prefix): Cid
#     re-signs its entry with the new IPv6 list (node_udp6_refresh), and
#     within 40 s the members.json of Ana (who has no IPv6 and learns it only
#     from Cid's re-announced entry) and of Bob hold Cid's entry with
#     [2001:db8:3::3]:7102 and no longer ::2; and Bob, whose path to Cid
#     died with the old address, is direct over IPv6 to the new one.
# A node whose entries carry IPv4 endpoints only (a build before format-2
# entries) fails 1 and 2: Bob and Cid never connect.
# Prints the time to the direct path. ND_KEEP=1 keeps the logs; NL_TAG
# names the namespaces (natlab/lab.sh). About 30-40 s. Needs root; exits 77
# otherwise.
set -u
bin=${1:?usage: ipv6_gossip.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
nd_begin "$bin" lab
dump() { nd_dump_all 25; }

nd_lab_public --no-relay
natlab_site a full_cone
natlab_site b symmetric
natlab_site c symmetric
# IPv6 and a home router's IPv6 firewall at b and c, and an IPv6 STUN
# server for the members' IPv6 server-reflexive endpoints.
nd_lab_ipv6 b c
export ATMOSPHERE_LOG=debug
ana=$nd_tmp/ana bob=$nd_tmp/bob cid=$nd_tmp/cid

# state HOST HOME PEER: "<path> <family> <remote>" of PEER in `peers --json`.
state() {
	nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
try:
    peers = json.load(sys.stdin)["peers"]
except Exception:
    print("absent none none"); sys.exit(0)
for p in peers:
    if sys.argv[1] in (p.get("name"), p.get("node_id")):
        print("%s %s %s" % (p.get("path") if p.get("connected") else "none", p.get("family") or "none",
                            p.get("remote") or "none"))
        break
else:
    print("absent none none")
' "$3"
}
both_direct_v6() {
	case $(state b "$bob" cid) in "direct ipv6 [2001:db8:3::2]:"*) ;; *) return 1 ;; esac
	case $(state c "$cid" bob) in "direct ipv6 [2001:db8:2::2]:"*) ;; *) return 1 ;; esac
}
joined() { # joined HOST HOME: connected to ana
	nd_connected "$1" "$2" ana
}

nd_run a "$ana" init lab --relay "$nd_relay_url" $nd_stun_args $nd_stun6_arg --port 7101 \
	--name ana >"$ana.init" 2>&1 || { cat "$ana.init"; exit 1; }
nd_start a "$ana" "$ana.log" serve
nd_wait 15 "ana's node answers" nd_up a "$ana" || { dump; exit 1; }
for n in bob cid; do
	nd_run a "$ana" join >"$ana.code.$n" 2>&1
	c=$(sed -n 's/^Full code: //p' "$ana.code.$n")
	[ -n "$c" ] || { echo "FAIL: no code: $(cat "$ana.code.$n")"; exit 1; }
	h=$(printf '%s' "$n" | cut -c1)
	[ "$n" = cid ] && t0=$(nd_ms)
	nd_start "$h" "$(eval echo "\$$n")" "$(eval echo "\$$n").out" join "$c" --port 7102 --name "$n"
	nd_wait 30 "$n joined ana directly" joined "$h" "$(eval echo "\$$n")" ||
		{ bad "$n did not join: $(state "$h" "$(eval echo "\$$n")" ana)"; dump; exit 1; }
done

# 1. Each learns of the other from ana, with IPv6 candidates.
learned_v6() { # learned_v6 LOG PEER
	grep -Eqs "membership: learned of $2 \(.*\) from ana \([0-9]+ candidates, [1-9][0-9]* IPv6\)" "$1"
}
nd_wait 15 "bob learned of cid with IPv6 candidates" learned_v6 "$bob.out" cid ||
	bad "bob did not learn cid's IPv6 candidates from ana: $(grep 'learned of' "$bob.out")"
nd_wait 15 "cid learned of bob with IPv6 candidates" learned_v6 "$cid.out" bob ||
	bad "cid did not learn bob's IPv6 candidates from ana: $(grep 'learned of' "$cid.out")"

# 2. Direct over IPv6, to each other's global address.
if nd_wait 20 "bob and cid direct over IPv6" both_direct_v6; then
	echo "bob <-> cid (gossip only, symmetric IPv4 NATs, no relay): direct over IPv6 $(($(nd_ms) - t0)) ms after cid's join"
else
	bad "bob and cid not direct over IPv6: bob sees '$(state b "$bob" cid)', cid sees '$(state c "$cid" bob)'"
	dump
fi

# 3. Messages both ways.
nd_run b "$bob" send cid "hello over gossip ipv6" >/dev/null 2>&1 || bad "bob's send to cid failed"
nd_recv_until c "$cid" "$cid.recv" "bob: hello over gossip ipv6" 10 || bad "cid did not receive"
nd_run c "$cid" send bob "and back" >/dev/null 2>&1 || bad "cid's send to bob failed"
nd_recv_until b "$bob" "$bob.recv" "cid: and back" 10 || bad "bob did not receive"

# 4. Cid renumbers: its re-signed entry reaches Ana and Bob.
# entry_has HOME: HOME/members.json holds cid's entry with the new IPv6
# endpoint and none with the old one.
entry_has() {
	"$nd_py" - "$1/members.json" <<-'PY'
	import base64, json, sys
	try:
	    ents = [base64.b64decode(e) for e in json.load(open(sys.argv[1]))["entries"]]
	except Exception:
	    sys.exit(1)
	cid = [e for e in ents if b"\x03cid" in e]
	new = any(b"[2001:db8:3::3]:7102" in e for e in cid)
	old = any(b"[2001:db8:3::2]:7102" in e for e in cid)
	sys.exit(0 if new and not old else 1)
	PY
}
natlab_v6addr c lan 2001:db8:3::3/64
ip -n "$(natlab_ns c)" -6 addr del 2001:db8:3::2/64 dev lan || bad "cannot remove cid's old address"
t1=$(nd_ms)
if nd_wait 40 "ana stores cid's re-announced entry" entry_has "$ana"; then
	echo "cid renumbered: ana holds its new IPv6 endpoint $(($(nd_ms) - t1)) ms later"
else
	bad "ana's members.json lacks cid's new IPv6 endpoint 40 s after renumbering"
	dump
fi
nd_wait 10 "bob stores cid's re-announced entry" entry_has "$bob" ||
	bad "bob's members.json lacks cid's new IPv6 endpoint"
# With the old path dead and no relay, Cid's new HELLO has no way to Bob,
# and Bob's IPv6 firewall drops Cid's packets from the new address until
# Bob sends there: the address reaches Bob only in the entry Ana passes
# on, and the pair's punching after the dead path takes it.
bob_to_new() {
	case $(state b "$bob" cid) in "direct ipv6 [2001:db8:3::3]:7102") return 0 ;; esac
	return 1
}
if nd_wait 40 "bob direct to cid's new address" bob_to_new; then
	echo "cid renumbered: bob direct over IPv6 to its new address $(($(nd_ms) - t1)) ms later"
else
	bad "bob not direct to cid's new address: '$(state b "$bob" cid)'"
fi
exit $fail
