#!/bin/sh
# tests/node/overlay_collide.sh BINARY: an overlay address collision is
# resolved at join (issue 11; docs/OVERLAY.md, "Collisions").
#
# Rob and Matt get node ids ground so that their IPv4 overlay addresses at
# counter 0 are equal (a birthday search over random node-<16 hex> ids with
# overlay_addr4's definition, a few thousand SHA-256), written into their
# state files before either serves; Matt's is the smaller id, so a rule of
# ids alone would move Rob. Rob (founder) serves with --tun; Matt, a node
# that ran `init` for a scratch mesh and has no peers (so `join` keeps his
# identity), joins Rob's mesh. Checked:
#  - Matt, the joiner, moves to counter 1 (his log says so) and Rob keeps 0;
#  - both `peers --json` agree on both members' addresses and counters, the
#    addresses are the ones overlay_addr4/6 derive, and they differ;
#  - Matt restarted with --tun: his atmosphere0 has the moved address, and
#    ping over IPv4 and IPv6 overlay addresses works both ways (Rob routes
#    the moved address to Matt).
# Needs root; exits 77 otherwise. About 10 s.
set -u
bin=${1:?usage: overlay_collide.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
command -v ping >/dev/null || { echo "SKIP: ping is not installed (apt-get install iputils-ping)"; exit 77; }
nd_begin "$bin" lab
export ATMOSPHERE_LOG=debug

nd_lab_public
natlab_site a full_cone
natlab_site b full_cone
rob=$nd_tmp/rob
matt=$nd_tmp/matt

nd_run a "$rob" init lab --relay "$nd_relay_url" $nd_stun_args --port 7777 --name rob >"$rob.init" 2>&1 ||
	{ echo "FAIL: rob's init: $(cat "$rob.init")"; exit 1; }
nd_run b "$matt" init scratch --relay "$nd_relay_url" $nd_stun_args --port 7777 --name matt >"$matt.init" 2>&1 ||
	{ echo "FAIL: matt's init: $(cat "$matt.init")"; exit 1; }

# The derivation and the collision search: tests/node/overlay_addr.py.
cp "$here/overlay_addr.py" "$nd_tmp/addr.py"
mesh=$(nd_state_get "$rob/state.json" mesh_id)
set -- $("$nd_py" "$nd_tmp/addr.py" grind "$mesh")
[ $# -eq 2 ] || { echo "FAIL: no colliding ids found"; exit 1; }
rob_id=$1
matt_id=$2
nd_state_set "$rob/state.json" node_id "$rob_id"
nd_state_set "$matt/state.json" node_id "$matt_id"
set -- $("$nd_py" "$nd_tmp/addr.py" addr "$mesh" "$rob_id" 0)
r4=$1 r6=$2
set -- $("$nd_py" "$nd_tmp/addr.py" addr "$mesh" "$matt_id" 0)
m4_0=$1
set -- $("$nd_py" "$nd_tmp/addr.py" addr "$mesh" "$matt_id" 1)
m4=$1 m6=$2
echo "mesh $mesh: rob $rob_id $r4, matt $matt_id $m4_0 at counter 0, $m4 $m6 at 1"
[ "$r4" = "$m4_0" ] || { echo "FAIL: the ground ids do not collide"; exit 1; }

nd_start a "$rob" "$rob.log" serve --tun
rob_pid=$nd_pid
nd_wait 15 "rob's node answers" nd_up a "$rob" || { cat "$rob.log"; exit 1; }
nd_run a "$rob" join >"$rob.code" 2>&1
code=$(sed -n 's/^Full code: //p' "$rob.code")
[ -n "$code" ] || { echo "FAIL: no join code: $(cat "$rob.code")"; exit 1; }
nd_start b "$matt" "$matt.out" join "$code"
matt_pid=$nd_pid
nd_wait 25 "both connected" nd_both_connected a "$rob" b "$matt" ||
	bad "not connected: rob sees '$(nd_peer a "$rob" matt)', matt sees '$(nd_peer b "$matt" rob)'"

# view HOST HOME: "self_v4 self_v6 self_n peer_v4 peer_v6 peer_n" of peers --json.
view() {
	nd_run "$1" "$2" peers --json | "$nd_py" -c '
import json, sys
d = json.load(sys.stdin)
s, p = d["self"], (d["peers"] or [{}])[0]
print(*(str(o.get(k, "-")) for o in (s, p) for k in ("overlay_ipv4", "overlay_ipv6", "overlay_n")))'
}
want_rob="$r4 $r6 0 $m4 $m6 1"
want_matt="$m4 $m6 1 $r4 $r6 0"
agreed() { [ "$(view a "$rob")" = "$want_rob" ] && [ "$(view b "$matt")" = "$want_matt" ]; }
nd_wait 15 "both agree on the addresses" agreed ||
	bad "addresses: rob shows '$(view a "$rob")' (want '$want_rob'), matt shows '$(view b "$matt")' (want '$want_matt')"
[ "$m4" != "$r4" ] || bad "the addresses are still shared"
grep -q "moves to counter 1" "$matt.out" || bad "matt's log does not say he moved"
grep -q "moves to counter" "$rob.log" && bad "rob moved too"

# Matt with his interface: the moved address, and pings both ways.
nd_kill "$matt_pid"
nd_start b "$matt" "$matt.log" serve --tun
matt_pid=$nd_pid
nd_wait 25 "connected again" nd_both_connected a "$rob" b "$matt" ||
	bad "not connected again: rob sees '$(nd_peer a "$rob" matt)', matt sees '$(nd_peer b "$matt" rob)'"
nd_wait 10 "matt's atmosphere0" natlab_exec b sh -c "ip -4 addr show atmosphere0 | grep -q '$m4/'" ||
	bad "matt's atmosphere0 lacks $m4: $(natlab_exec b ip addr show atmosphere0 2>&1)"
natlab_exec b ip -4 addr show atmosphere0 | grep -q "$r4/" && bad "matt's atmosphere0 has rob's address $r4"
for t in "a $m4" "a $m6" "b $r4" "b $r6"; do
	set -- $t
	natlab_exec "$1" ping -c 3 -i 0.2 -W 2 "$2" >"$nd_tmp/ping.out" 2>&1 ||
		bad "ping $2 from $1 failed: $(cat "$nd_tmp/ping.out")"
done
[ "$fail" = 0 ] || nd_dump_all 30
[ "$fail" = 0 ] && echo "PASS: the joiner moved to counter 1; both agree on $r4 (rob) and $m4 (matt); pings pass"
exit "$fail"
