#!/bin/sh
# tests/stun/natlab.sh BINARY: NAT type detection through real kernel NAT.
#
# Builds the lab of natlab/lab.sh: a public host with two addresses
# running `atmosphere stun-server` in RFC 5780 mode (and two plain servers,
# one per address, for the estimate without RFC 5780), and one host behind
# each NAT type. Every host runs `atmosphere network --json` at the same
# time; each must report its type, mapping and filtering. One case is
# cross-checked with coturn's turnutils_natdiscovery against our server.
#
# Needs root; exits 77 (skip) otherwise. Self-cleaning, PID-unique names,
# about 15 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: natlab.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
natlab_require || exit 77
[ -x "$bin" ] || { echo "natlab: $bin is not executable"; exit 1; }

tmp=$(mktemp -d /tmp/natlab.XXXXXX)
natlab_init
trap 'natlab_cleanup; rm -rf "$tmp"' EXIT
fail=0
bad() {
	echo "FAIL: $*"
	fail=1
}

# --- the lab ------------------------------------------------------------------
natlab_public pub 203.0.113.10 203.0.113.11
types="none full_cone restricted_cone port_restricted symmetric"
for t in $types; do
	natlab_site "$t" "$t"
done

# RFC 5780 server on 3478/3479, plain ones on 4478 (one per address).
natlab_exec pub "$bin" stun-server --host 203.0.113.10 --port 3478 --alt-host 203.0.113.11 --alt-port 3479 \
	--threads 1 --rate 0 >"$tmp/rfc5780.out" 2>&1 &
natlab_exec pub "$bin" stun-server --host 203.0.113.10 --port 4478 --threads 1 --rate 0 >"$tmp/plain1.out" 2>&1 &
natlab_exec pub "$bin" stun-server --host 203.0.113.11 --port 4478 --threads 1 --rate 0 >"$tmp/plain2.out" 2>&1 &

# Wait (bounded) until each has printed its sockets.
deadline=$(($(date +%s) + 10))
for f in rfc5780 plain1 plain2; do
	until grep -q "listening on udp" "$tmp/$f.out" 2>/dev/null; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "FAIL: stun-server ($f) did not start:"
			cat "$tmp/$f.out"
			exit 1
		fi
		sleep 0.05
	done
done

# --- every host at once ------------------------------------------------------------
# Each run is bounded by `timeout`, so waiting for them is bounded too.
pids=""
for t in $types; do
	natlab_exec "$t" timeout 20 "$bin" network --stun 203.0.113.10:3478 --json --timeout 2s \
		>"$tmp/$t.json" 2>"$tmp/$t.err" &
	pids="$pids $!"
	natlab_exec "$t" timeout 20 "$bin" network --stun 203.0.113.10:4478 --stun 203.0.113.11:4478 --json \
		--timeout 1s >"$tmp/$t.plain.json" 2>"$tmp/$t.plain.err" &
	pids="$pids $!"
done
for p in $pids; do
	wait "$p"
done

# field FILE KEY: a top-level field of our --json output (json-c's spaced
# pretty print: "key": value).
field() {
	sed -n "s/^  \"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$1" | head -n 1
}

expect() { # expect TYPE FILE KEY WANT
	got=$(field "$2" "$3")
	if [ "$got" != "$4" ]; then
		bad "$1: $3 is '$got', want '$4' ($2)"
		sed 's/^/    /' "$2" "${2%json}err" 2>/dev/null | head -n 40
	fi
}

# type  nat_type  mapping  filtering
while read -r t want_type want_map want_filt; do
	f="$tmp/$t.json"
	expect "$t" "$f" ok true
	expect "$t" "$f" nat_type "$want_type"
	expect "$t" "$f" mapping "$want_map"
	expect "$t" "$f" filtering "$want_filt"
	expect "$t" "$f" rfc5780 true
	expect "$t" "$f" public_ip "$(natlab_router_ip "$t")"
	expect "$t" "$f" local_ip "$(natlab_host_ip "$t")"
done <<EOF
none open endpoint_independent endpoint_independent
full_cone full_cone endpoint_independent endpoint_independent
restricted_cone restricted_cone endpoint_independent address_dependent
port_restricted port_restricted endpoint_independent address_and_port_dependent
symmetric symmetric address_and_port_dependent address_and_port_dependent
EOF

# Without RFC 5780: the mapping is estimated from two servers.
while read -r t want_type want_map estimated; do
	f="$tmp/$t.plain.json"
	expect "$t (plain)" "$f" nat_type "$want_type"
	expect "$t (plain)" "$f" mapping "$want_map"
	expect "$t (plain)" "$f" filtering unknown
	expect "$t (plain)" "$f" nat_type_estimated "$estimated"
	expect "$t (plain)" "$f" rfc5780 false
done <<EOF
none open endpoint_independent false
full_cone port_restricted endpoint_independent true
port_restricted port_restricted endpoint_independent true
symmetric symmetric endpoint_dependent false
EOF

# The public endpoint is the NAT's own, and stock masquerade keeps the port.
expect port_restricted "$tmp/port_restricted.json" port_preserving true
expect none "$tmp/none.json" hairpinning true

# --- cross-check: coturn's RFC 5780 client against our server ---------------------------
if command -v turnutils_natdiscovery >/dev/null 2>&1; then
	for t in port_restricted symmetric; do
		natlab_exec "$t" timeout 30 turnutils_natdiscovery -m -f -p 3478 203.0.113.10 >"$tmp/$t.nd" 2>&1
	done
	grep -q "NAT with Endpoint Independent Mapping" "$tmp/port_restricted.nd" ||
		bad "natdiscovery (port_restricted): not EIM: $(grep -i 'NAT with' "$tmp/port_restricted.nd")"
	grep -q "NAT with Address and Port Dependent Filtering" "$tmp/port_restricted.nd" ||
		bad "natdiscovery (port_restricted): not APDF: $(grep -i 'NAT with' "$tmp/port_restricted.nd")"
	grep -q "NAT with Address and Port Dependent Mapping" "$tmp/symmetric.nd" ||
		bad "natdiscovery (symmetric): not APDM: $(grep -i 'NAT with' "$tmp/symmetric.nd")"
else
	echo "note: turnutils_natdiscovery not found (coturn): cross-check skipped"
fi

if [ "$fail" -ne 0 ]; then
	echo "natlab: FAILED"
	exit 1
fi
echo "natlab: all NAT types detected"
exit 0
