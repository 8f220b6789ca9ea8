#!/bin/sh
# End-to-end smoke run of `atmosphere-bench punch` in the NAT lab: two NAT
# pairs for one round, then --node with two peers and short idle windows.
# Figures are printed, not asserted; the runs must work: exit 0, well-formed
# JSON, every round connected, every figure reported, and no namespace of
# the run left behind. Without root the command must refuse with exit 2;
# the test then skips (77), as the node tests do.
# Usage: punch_smoke.sh ATMOSPHERE ATMOSPHERE-BENCH
set -u
atmos=$1
bench=$2
here=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bench" punch --help >/dev/null || fail "punch --help exited $?"
if [ "$(id -u)" -ne 0 ]; then
	"$bench" punch --pairs none:none >/dev/null 2>&1
	[ $? -eq 2 ] || fail "without root: want exit 2"
	echo "SKIP: the NAT lab needs root"
	exit 77
fi
. "$here/../../natlab/lab.sh"
natlab_require || exit 77
command -v jq >/dev/null 2>&1 || { echo "SKIP: jq not found"; exit 77; }
if command -v setpriv >/dev/null 2>&1; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$bench" punch --pairs none:none >/dev/null 2>&1
	[ $? -eq 2 ] || fail "as nobody: want exit 2"
fi
"$bench" punch --pairs none:nat >/dev/null 2>&1
[ $? -eq 2 ] || fail "--pairs none:nat: want exit 2"

dir=$(mktemp -d "${TMPDIR:-/tmp}/punch-smoke.$$.XXXXXX")
trap 'rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM

. "$here/../lib/json_check.sh"
. "$here/../lib/punch_check.sh"

echo "== punch: none:none and port_restricted:full_cone, one round"
timeout 200 "$bench" punch --atmosphere "$atmos" --pairs none:none,port_restricted:full_cone --rounds 1 \
	--direct-wait 15s --budget 120s --json-out "$dir/punch.json" 2>"$dir/punch.err" | tee "$dir/punch.txt" ||
	{ cat "$dir/punch.err"; fail "punch exited non-zero"; }
lab_gone "$dir/punch.err"
check punch "$dir/punch.json" '.mode == "punch"' '.complete == true' '.failure == null' '(.pairs | length) == 2' \
	'.attempts == 2' '.successes == 2' \
	'all(.pairs[]; .first_packet_ms.samples == 1 and .first_packet_ms.p50 >= 0 and .first_packet_ms.p99 >= .first_packet_ms.p50)' \
	'all(.pairs[]; .path != "none")'
grep -q '^none:none ' "$dir/punch.txt" || fail "no table row for none:none"

# Every window is measured (a number, possibly 0: a 2 s window on the relay
# path may hold no e2e packet, the RTT ping runs every 30 s).
echo "== punch --node: 2 peers, 2 s idle windows"
timeout 300 "$bench" punch --atmosphere "$atmos" --node --peers 2 --idle 2s --json \
	>"$dir/node.json" 2>"$dir/node.err" || { cat "$dir/node.err"; fail "punch --node exited non-zero"; }
cat "$dir/node.json"
check node "$dir/node.json" '.mode == "node"' '.complete == true' '.failure == null' \
	'[.memory[] | select(.role == "hub") | .peers] == [0, 1, 2]' \
	'all(.memory[]; .vmrss_kib > 0 and .vmhwm_kib >= .vmrss_kib and .rssanon_kib > 0 and .rssanon_kib <= .vmrss_kib)' \
	'[.keepalive[] | "\(.path):\(.peers)"] == ["direct:1", "relay:1", "direct:2"]' \
	'all(.keepalive[]; .seconds >= 2 and .wire_bytes_per_s_per_peer >= 0 and .daemon_bytes_per_s_per_peer >= 0)' \
	'.rss_kib_per_extra_peer != null'
lab_gone "$dir/node.err"
echo "ok punch smoke"
