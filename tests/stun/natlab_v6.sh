#!/bin/sh
# tests/stun/natlab_v6.sh BINARY: `atmosphere network` over IPv6 and IPv4 at
# once, through the NAT lab (natlab/lab.sh) with IPv6 added (natlab_ipv6).
#
# A public host runs one stun-server in RFC 5780 mode on both families
# (203.0.113.10/.11 and 2001:db8:113::10/::11). Two sites, each host with a
# global-like IPv6 address: "open" behind a port-restricted IPv4 NAT and a
# router that routes IPv6 unfiltered; "fw" behind the same IPv4 NAT and a
# router with the stateful IPv6 filter of RFC 6092. Both hosts run
# `network --json` with one server per family: IPv4 must say
# port_restricted on both; IPv6 must see the host's own address (no NAT)
# and say open, resp. firewalled, measured with RFC 5780.
#
# Needs root; exits 77 (skip) otherwise. Self-cleaning, PID-unique names,
# about 5 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: natlab_v6.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
natlab_require || exit 77
[ -x "$bin" ] || { echo "natlab_v6: $bin is not executable"; exit 1; }
py=/usr/bin/python3
[ -x "$py" ] || { echo "SKIP: $py not found"; exit 77; }

tmp=$(mktemp -d /tmp/natlab6.XXXXXX)
natlab_init
trap 'natlab_cleanup; rm -rf "$tmp"' EXIT
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

natlab_public pub 203.0.113.10 203.0.113.11
natlab_site open port_restricted
natlab_site fw port_restricted
natlab_ipv6 pub open fw
natlab_ipv6_firewall fw

natlab_exec pub "$bin" stun-server --host 203.0.113.10 --alt-host 203.0.113.11 \
	--host 2001:db8:113::10 --alt-host 2001:db8:113::11 --port 3478 --alt-port 3479 \
	--threads 1 --rate 0 >"$tmp/stun.out" 2>&1 &
deadline=$(($(date +%s) + 10))
until [ "$(grep -c "listening on udp" "$tmp/stun.out" 2>/dev/null)" = 8 ]; do
	if [ "$(date +%s)" -ge "$deadline" ]; then
		echo "FAIL: stun-server did not start:"
		cat "$tmp/stun.out"
		exit 1
	fi
	sleep 0.05
done

pids=""
for h in open fw; do
	natlab_exec "$h" timeout 20 "$bin" network --stun 203.0.113.10:3478 --stun '[2001:db8:113::10]:3478' \
		--json --timeout 2s --no-port-mapping >"$tmp/$h.json" 2>"$tmp/$h.err" &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p"
done

# check HOST WANT6: the host's report, IPv4 and IPv6 sections.
check() {
	out=$("$py" - "$tmp/$1.json" "$(natlab_host_ip6 "$1")" "$(natlab_router_ip "$1")" "$2" <<-'PY'
	import json, sys
	path, ip6, ip4, want6 = sys.argv[1:]
	try:
	    j = json.load(open(path))
	except ValueError:
	    print(f"no JSON in {path}")
	    sys.exit(1)
	six = j["ipv6"]
	problems = []
	if not (j["ok"] and j["public_ip"] == ip4 and j["nat_type"] == "port_restricted"):
	    problems.append(f"IPv4: public {j['public_ip']} (want {ip4}), type {j['nat_type']}")
	if not (six["ok"] and six["public_ip"] == ip6 and six["local_ip"] == ip6 and six["no_nat"]):
	    problems.append(f"IPv6: public {six['public_ip']} local {six['local_ip']} (want {ip6}), no_nat {six['no_nat']}")
	if not (six["rfc5780"] and six["nat_type"] == want6 and not six["nat_type_estimated"]):
	    problems.append(f"IPv6: type {six['nat_type']} (want {want6}), rfc5780 {six['rfc5780']}, "
	                    f"filtering {six['filtering']}, note {six.get('note')}")
	print("; ".join(problems))
	sys.exit(1 if problems else 0)
	PY
	) || {
		bad "$1: $out"
		sed 's/^/    /' "$tmp/$1.json" "$tmp/$1.err" | head -n 60
		return
	}
	echo "ok: $1: IPv4 port_restricted via $(natlab_router_ip "$1"), IPv6 $2 at $(natlab_host_ip6 "$1")"
}
check open open
check fw firewalled
exit $fail
