#!/bin/sh
# The lab variants of `atmosphere-bench punch` (issue 12's targets) do what
# they say, on the pair no IPv4 punching can open (symmetric:symmetric), one
# round each:
#   --portmap  miniupnpd maps on both routers: both nodes hold a mapping,
#              the pair ends direct, and its path goes to a mapped endpoint
#              STUN did not give (the JSON says variant "portmap").
#   --ipv6     the pair ends direct on IPv6 (family "ipv6").
# Without the mode this pair stays on the relay (docs/PERFORMANCE.md), so a
# mode that did not apply fails here. Also: --node refuses either (exit 2),
# and no namespace of the runs is left. Root only, with miniupnpd and jq
# (77 otherwise). About 25 s.
# Usage: punch_modes_smoke.sh ATMOSPHERE ATMOSPHERE-BENCH
set -u
atmos=$1
bench=$2
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bench" punch --help | grep -q -- "--portmap" || fail "--help does not list --portmap"
"$bench" punch --help | grep -q -- "--ipv6" || fail "--help does not list --ipv6"
"$bench" punch --node --ipv6 >/dev/null 2>&1
[ $? -eq 2 ] || fail "--node --ipv6: want exit 2"
if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: the NAT lab needs root"
	exit 77
fi
. "$here/../../natlab/lab.sh"
natlab_require || exit 77
command -v jq >/dev/null 2>&1 || { echo "SKIP: jq not found"; exit 77; }
command -v miniupnpd >/dev/null 2>&1 || { echo "SKIP: miniupnpd not found (Debian package miniupnpd-nftables)"; exit 77; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/punch-modes.$$.XXXXXX")
trap 'rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM

. "$here/../lib/json_check.sh"
. "$here/../lib/punch_check.sh"
# run NAME OPTION: symmetric:symmetric, one round, with OPTION.
run() {
	echo "== punch $2: symmetric:symmetric, one round"
	timeout 120 "$bench" punch --atmosphere "$atmos" --pairs symmetric:symmetric --rounds 1 "$2" \
		--direct-wait 15s --budget 60s --json-out "$dir/$1.json" 2>"$dir/$1.err" | tee "$dir/$1.txt" ||
		{ cat "$dir/$1.err"; fail "punch $2 exited non-zero"; }
	lab_gone "$dir/$1.err"
	grep -q "^all pairs .*direct in every round: 1/1 pairs (1/1 rounds), $1\$" "$dir/$1.txt" ||
		{ cat "$dir/$1.err"; fail "$1: the all-pairs line does not say 1/1 direct in mode $1"; }
}

run portmap --portmap
check portmap "$dir/portmap.json" '.variant == "portmap"' '.port_mapping == true' '.ipv6 == false' \
	'.complete == true' '.pairs[0].direct == 1' '.pairs[0].mapped_rounds == {"rob": 1, "matt": 1}' \
	'.pairs[0].direct_via_mapping == 1' '.pairs[0].family == "ipv4"'

run ipv6 --ipv6
check ipv6 "$dir/ipv6.json" '.variant == "ipv6"' '.port_mapping == false' '.ipv6 == true' \
	'.complete == true' '.pairs[0].direct == 1' '.pairs[0].direct_by_family.ipv6 == 1' '.pairs[0].family == "ipv6"'
echo "ok punch modes smoke"
