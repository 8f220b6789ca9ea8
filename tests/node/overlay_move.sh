#!/bin/sh
# tests/node/overlay_move.sh BINARY: a running node whose overlay address
# turns out to collide moves it while it runs (issue 11; docs/OVERLAY.md,
# "Collisions"): its interface takes the new addresses and drops the old,
# and the other members route to the new ones, without a restart.
#
# A collision reaches a running node only when two members published the
# same address without knowing of each other. The test makes that happen:
# Matt and Ana get node ids ground so that their IPv4 overlay addresses at
# counter 0 are equal in Rob's mesh (Ana's id is the smaller: she keeps it).
#  1. Rob (a) creates the mesh and serves with --tun; Sam (c) joins.
#  2. Sam stops. Matt (b) joins through Rob with --tun: his entry says
#     counter 0, and only Rob and Matt know it.
#  3. Rob and Matt stop; Sam serves again and Ana (d) joins through Sam with
#     --tun: Sam has not heard of Matt, so Ana publishes counter 0 too.
#  4. Rob and Matt serve again, both with --tun. Matt's overlay comes up at
#     counter 0; then the members' gossip brings him Ana's entry.
# Checked:
#  - Matt, still the same process, logs the move to counter 1, and his
#    atmosphere0 then has exactly the counter-1 addresses;
#  - Ana keeps counter 0 (her log has no move), and Rob and Ana show Matt
#    at counter 1 in peers --json;
#  - ping over the overlay: Rob to Matt's new addresses (both families),
#    Matt to Ana and Ana to Matt's new IPv4 address.
# Needs root; exits 77 otherwise. About 60 s.
set -u
bin=${1:?usage: overlay_move.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
command -v ping >/dev/null || { echo "SKIP: ping is not installed (apt-get install iputils-ping)"; exit 77; }
nd_begin "$bin" lab
export ATMOSPHERE_LOG=debug

nd_lab_public
for s in a b c d; do natlab_site "$s" full_cone; done
rob=$nd_tmp/rob
matt=$nd_tmp/matt
sam=$nd_tmp/sam
ana=$nd_tmp/ana
addr() { "$nd_py" "$here/overlay_addr.py" "$@"; }

nd_run a "$rob" init lab --relay "$nd_relay_url" $nd_stun_args --port 7777 --name rob >"$rob.init" 2>&1 ||
	{ echo "FAIL: rob's init: $(cat "$rob.init")"; exit 1; }
for w in "b $matt matt" "d $ana ana"; do
	set -- $w
	nd_run "$1" "$2" init scratch --relay "$nd_relay_url" $nd_stun_args --port 7777 --name "$3" >"$2.init" 2>&1 ||
		{ echo "FAIL: $3's init: $(cat "$2.init")"; exit 1; }
done
mesh=$(nd_state_get "$rob/state.json" mesh_id)
set -- $(addr grind "$mesh")
[ $# -eq 2 ] || { echo "FAIL: no colliding ids found"; exit 1; }
matt_id=$1
ana_id=$2
nd_state_set "$matt/state.json" node_id "$matt_id"
nd_state_set "$ana/state.json" node_id "$ana_id"
set -- $(addr addr "$mesh" "$matt_id" 0)
m4_0=$1 m6_0=$2
set -- $(addr addr "$mesh" "$matt_id" 1)
m4=$1 m6=$2
set -- $(addr addr "$mesh" "$ana_id" 0)
a4=$1
echo "mesh $mesh: ana $ana_id $a4, matt $matt_id $m4_0 at counter 0, $m4 $m6 at 1"
[ "$a4" = "$m4_0" ] || { echo "FAIL: the ground ids do not collide"; exit 1; }

# code HOST HOME: a fresh full join code from that node.
code() {
	nd_run "$1" "$2" join >"$2.code" 2>&1
	sed -n 's/^Full code: //p' "$2.code"
}
connected() { # HOST HOME PEER: connected either way
	nd_connected "$1" "$2" "$3"
}

# 1. Rob and Sam.
nd_start a "$rob" "$rob.log" serve --tun
rob_pid=$nd_pid
nd_wait 15 "rob's node answers" nd_up a "$rob" || { cat "$rob.log"; exit 1; }
c=$(code a "$rob")
[ -n "$c" ] || { echo "FAIL: no join code from rob: $(cat "$rob.code")"; exit 1; }
nd_start c "$sam" "$sam.log" join "$c" --port 7777 --name sam
sam_pid=$nd_pid
nd_wait 25 "rob and sam connected" connected a "$rob" sam || bad "sam did not join"
# Sam admits Ana later only as a member in good standing: his own entry,
# admitted by Rob, must have reached his members.json first.
entries() { "$nd_py" -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["entries"]))' "$1" 2>/dev/null; }
has_own() { [ "$(entries "$sam/members.json")" -ge 2 ] 2>/dev/null; }
nd_wait 20 "sam's own entry saved" has_own || bad "sam's members.json never held his own entry"

# 2. Sam away; Matt joins through Rob.
nd_kill "$sam_pid"
c=$(code a "$rob")
nd_start b "$matt" "$matt.log" join "$c" --tun
matt_pid=$nd_pid
nd_wait 25 "rob and matt connected" nd_both_connected a "$rob" b "$matt" || bad "matt did not join"
nd_wait 10 "matt at counter 0" sh -c "ip netns exec '$(natlab_ns b)' ip -4 addr show atmosphere0 | grep -q '$m4_0/'" ||
	bad "matt's atmosphere0 lacks $m4_0 before the collision"

# 3. Rob and Matt away; Sam back, Ana joins through Sam.
nd_kill "$matt_pid" "$rob_pid"
nd_start c "$sam" "$sam.log2" serve
sam_pid=$nd_pid
nd_wait 15 "sam's node answers" nd_up c "$sam" || { cat "$sam.log2"; exit 1; }
c=$(code c "$sam")
[ -n "$c" ] || { echo "FAIL: no join code from sam: $(cat "$sam.code")"; exit 1; }
nd_start d "$ana" "$ana.log" join "$c" --tun
ana_pid=$nd_pid
nd_wait 25 "sam and ana connected" connected d "$ana" sam || bad "ana did not join"
[ "$(nd_field d "$ana" self overlay_ipv4)" = "$a4" ] || bad "ana is not at $a4: $(nd_field d "$ana" self overlay_ipv4)"
nd_field c "$sam" matt node_id | grep -q . && bad "sam knew of matt before the collision: the test proves nothing"

# 4. Rob and Matt back: Matt comes up at counter 0, then learns of Ana.
nd_start a "$rob" "$rob.log2" serve --tun
rob_pid=$nd_pid
nd_start b "$matt" "$matt.log2" serve --tun
matt_pid=$nd_pid
nd_wait 15 "matt's node answers" nd_up b "$matt" || { cat "$matt.log2"; exit 1; }
moved() { grep -q "now has $m4, $m6 (counter 1)" "$matt.log2"; }
nd_wait 40 "matt moved to counter 1" moved ||
	bad "matt did not move: $(grep -E 'overlay|counter' "$matt.log2" | tail -n 5)"
grep -q "is up: $m4_0," "$matt.log2" || bad "matt's overlay did not come up at counter 0 first (nothing moved while running)"
kill -0 "$matt_pid" 2>/dev/null || bad "matt's node is not running"
addrs() { # FAMILY: the interface's global addresses of that family
	natlab_exec b ip "-$1" -o addr show dev atmosphere0 scope global | awk '{ print $4 }' | sort | tr '\n' ' '
}
[ "$(addrs 4)" = "$m4/32 " ] || bad "matt's atmosphere0 IPv4 addresses are '$(addrs 4)', want only $m4/32"
[ "$(addrs 6)" = "$m6/128 " ] || bad "matt's atmosphere0 IPv6 addresses are '$(addrs 6)', want only $m6/128"
grep -q "moves to counter" "$ana.log" && bad "ana moved too"

seen_moved() { # HOST HOME
	[ "$(nd_field "$1" "$2" matt overlay_n)" = 1 ] && [ "$(nd_field "$1" "$2" matt overlay_ipv4)" = "$m4" ]
}
nd_wait 30 "rob sees matt at counter 1" seen_moved a "$rob" ||
	bad "rob shows matt at '$(nd_field a "$rob" matt overlay_ipv4)' counter '$(nd_field a "$rob" matt overlay_n)'"
nd_wait 30 "ana sees matt at counter 1" seen_moved d "$ana" ||
	bad "ana shows matt at '$(nd_field d "$ana" matt overlay_ipv4)' counter '$(nd_field d "$ana" matt overlay_n)'"
nd_wait 30 "matt and ana connected" nd_connected b "$matt" ana || bad "matt and ana never connected"
nd_wait 30 "rob and matt connected" nd_connected a "$rob" matt || bad "rob and matt not connected again"

ping_ok() { # HOST ADDR
	natlab_exec "$1" ping -c 3 -i 0.2 -W 2 "$2" >"$nd_tmp/ping.out" 2>&1
}
for t in "a $m4" "a $m6" "b $a4" "d $m4"; do
	set -- $t
	ping_ok "$1" "$2" || bad "ping $2 from $1 failed: $(cat "$nd_tmp/ping.out")"
done

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log2" "$matt.log2" "$ana.log" "$sam.log2"; do
		echo "== ${f##*/}"
		grep -v DEBUG "$f" | tail -n 25
	done
	echo "overlay_move: FAILED"
	exit 1
fi
echo "overlay_move: running matt moved from $m4_0 to $m4 when ana's entry reached him; everyone routes to the new address"
exit 0
