#!/bin/sh
# tests/node/mesh_nat.sh BINARY: every member reaches every member across
# NATs, with the issuer gone (issue 11, "Every member reaches every member").
#
# The NAT lab (natlab/lab.sh) with our relay and STUN server on the public
# host; Rob behind a port-restricted NAT, Matt behind a full cone, Ana behind
# a symmetric NAT, Bob behind a restricted cone.
#  1. Rob creates the mesh; Matt, Ana and Bob each join with a code from
#     Rob. Each learns of the other two through Rob and they connect; UDP
#     between Matt's and Ana's sites is blocked, so that pair must use the
#     relay.
#  2. Rob stops. Every remaining pair (matt-ana, matt-bob, ana-bob) is
#     connected and exchanges `atmosphere send` text both ways; the path of
#     each pair is printed (symmetric pairs may use the relay).
#  3. Matt removes Bob: Matt and Ana drop him, Bob is told and drops them,
#     and for a few seconds nothing he sends arrives and no session with him
#     comes back.
#  4. Ana rotates the mesh secret: Matt takes it, Bob does not, and Matt
#     and Ana (relay only) meet again on the relay session the new secret
#     names and exchange messages.
#  5. A member away during a rotation catches up through the relay alone
#     (issue 11, "a node that was offline catches up when it returns"):
#     Matt stops, Ana rotates again and keeps a link on the previous
#     epoch's pair session with Matt, which survives Ana's restart; Matt
#     comes back (still without a direct path to Ana), finds her there, is
#     handed the new secret, and both move to the new pair session and
#     exchange messages; Ana's old-epoch link with Matt is gone afterwards.
# Needs root; exits 77 otherwise. About 20-60 s.
set -u
bin=${1:?usage: mesh_nat.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/lab.sh"
. "$here/../../natlab/nodes.sh"
nd_begin "$bin" lab
dump() { nd_dump_all 30; }

nd_lab_public
natlab_site r port_restricted
natlab_site m full_cone
natlab_site a symmetric
natlab_site b restricted_cone
# Matt and Ana cannot go direct (the wan router drops UDP between their
# sites): they must meet on the relay, which they learn of from Rob.
nd_block_direct m a
rob=$nd_tmp/rob matt=$nd_tmp/matt ana=$nd_tmp/ana bob=$nd_tmp/bob
h_rob=r h_matt=m h_ana=a h_bob=b
export ATMOSPHERE_LOG=debug

host() { eval echo "\$h_$1"; }
home() { eval echo "\$$1"; }
# linked A B (names): A lists B as connected and B lists A.
linked() {
	nd_connected "$(host "$1")" "$(home "$1")" "$2" && nd_connected "$(host "$2")" "$(home "$2")" "$1"
}
# talk A B TAG: a message each way, each received.
talk() {
	nd_run "$(host "$1")" "$(home "$1")" send "$2" "$3 from $1" >/dev/null 2>&1 || { bad "$3: $1's send to $2 failed"; return; }
	nd_run "$(host "$2")" "$(home "$2")" send "$1" "$3 from $2" >/dev/null 2>&1 || { bad "$3: $2's send to $1 failed"; return; }
	nd_recv_until "$(host "$2")" "$(home "$2")" "$(home "$2").recv" "$1: $3 from $1" 10 || bad "$3: $2 did not receive"
	nd_recv_until "$(host "$1")" "$(home "$1")" "$(home "$1").recv" "$2: $3 from $2" 10 || bad "$3: $1 did not receive"
}

# --- 1. three join through rob ------------------------------------------------------
nd_run r "$rob" init lab --relay "$nd_relay_url" $nd_stun_args --port 7001 --name rob >"$rob.init" 2>&1 ||
	{ cat "$rob.init"; exit 1; }
nd_start r "$rob" "$rob.log" serve
rob_pid=$nd_pid
nd_wait 15 "rob's node answers" nd_up r "$rob" || { dump; exit 1; }
port=7002
for n in matt ana bob; do
	nd_run r "$rob" join >"$rob.code.$n" 2>&1
	c=$(sed -n 's/^Full code: //p' "$rob.code.$n")
	[ -n "$c" ] || { echo "FAIL: no code: $(cat "$rob.code.$n")"; exit 1; }
	nd_start "$(host $n)" "$(home $n)" "$(home $n).out" join "$c" --port $port --name $n
	eval "${n}_pid=\$nd_pid"
	port=$((port + 1))
done
t0=$(nd_ms)
for n in matt ana bob; do
	nd_wait 40 "$n joined" linked rob $n || { bad "$n did not join: rob sees '$(nd_peer r "$rob" $n)'"; dump; exit 1; }
done
echo "all three joined after $(($(nd_ms) - t0)) ms"
for pair in matt:ana matt:bob ana:bob; do
	x=${pair%:*} y=${pair#*:}
	if nd_wait 40 "$x and $y connected" linked $x $y; then
		echo "$x and $y connected $(($(nd_ms) - t0)) ms after the joins began"
	else
		bad "$x and $y not connected: $x sees '$(nd_peer "$(host $x)" "$(home $x)" $y)', $y sees '$(nd_peer "$(host $y)" "$(home $y)" $x)'"
	fi
done
[ "$fail" -eq 0 ] || { dump; exit 1; }

# --- 2. rob stops; every pair talks ---------------------------------------------------
nd_kill "$rob_pid"
for pair in matt:ana matt:bob ana:bob; do
	x=${pair%:*} y=${pair#*:}
	talk $x $y "without rob"
	echo "$x-$y: $(nd_peer "$(host $x)" "$(home $x)" $y | cut -d' ' -f2) path, messages both ways"
done
nd_path_is m "$matt" ana relay || bad "matt-ana: path '$(nd_peer m "$matt" ana)', want the relay (direct is blocked)"

# --- 3. bob is removed ------------------------------------------------------------------
out=$(nd_run m "$matt" remove bob --json 2>&1) || bad "remove failed: $out"
echo "remove --json: $out"
gone() { ! nd_connected "$(host $1)" "$(home $1)" bob; }
nd_wait 15 "matt and ana dropped bob" eval 'gone matt && gone ana' ||
	bad "bob still connected: matt '$(nd_peer m "$matt" bob)', ana '$(nd_peer a "$ana" bob)'"
nd_wait 15 "bob dropped matt and ana" eval '! nd_connected b "$bob" matt && ! nd_connected b "$bob" ana' ||
	bad "bob still lists a peer: matt '$(nd_peer b "$bob" matt)', ana '$(nd_peer b "$bob" ana)'"
# A negative check needs a duration: 5 s in which bob keeps sending and
# no session with him comes back.
end=$(($(nd_ms) + 5000))
while [ "$(nd_ms)" -lt "$end" ]; do
	for n in matt ana; do
		nd_run b "$bob" send $n "after removal" >/dev/null 2>&1
		nd_connected "$(host $n)" "$(home $n)" bob && bad "$n lists bob as connected after the removal"
		nd_run "$(host $n)" "$(home $n)" recv | grep "after removal" && bad "$n received bob's message after the removal"
	done
	sleep 0.5
done
talk matt ana "after the removal"

# --- 4. ana rotates the mesh secret ------------------------------------------------------
before=$(nd_secret "$matt")
out=$(nd_run a "$ana" rotate-secret --json 2>&1) || bad "rotate-secret failed: $out"
echo "rotate-secret --json: $out"
nd_wait 15 "matt has the new secret" eval '[ "$(nd_secret "$matt")" = "$(nd_secret "$ana")" ]' ||
	bad "matt did not take ana's new secret: matt '$(nd_secret "$matt")', ana '$(nd_secret "$ana")'"
[ "$(nd_secret "$matt")" != "$before" ] || bad "the secret did not change"
[ "$(nd_secret "$bob")" = "$before" ] || bad "bob, removed, has the new secret"
# Matt and Ana meet only on the relay: their pair session there moved to
# an id computed from the new secret, and they meet again on it.
nd_wait 20 "matt and ana connected on the relay" nd_path_is m "$matt" ana relay ||
	bad "matt-ana after the rotation: '$(nd_peer m "$matt" ana)'"
talk matt ana "after the rotation"

# --- 5. matt is away during a rotation and catches up through the relay ----------------
# catchup HOME: "<epoch> <keys kept>" of the node's state.json catch-up ("none").
catchup() {
	"$nd_py" -c 'import json,sys
c=json.load(open(sys.argv[1]+"/state.json")).get("catchup")
print("%d %s" % (c["epoch"], ",".join(c["peers"])) if c else "none")' "$1"
}
# catchup_links HOST HOME PEER: that peer's links on the previous epoch's pair session.
catchup_links() {
	nd_run "$1" "$2" peers --json 2>/dev/null | "$nd_py" -c 'import json,sys
for p in json.load(sys.stdin)["peers"]:
    if sys.argv[1] in (p["name"], p["node_id"]): print(p.get("catchup_links", "none")); break
else: print("absent")' "$3"
}
matt_pub=$(nd_state_get "$matt/state.json" public_key)
nd_kill "$matt_pid"
at_matt=$(nd_secret "$matt")
out=$(nd_run a "$ana" rotate-secret --json 2>&1) || bad "rotate-secret (matt away) failed: $out"
echo "rotate-secret --json (matt away): $out"
[ "$(nd_secret "$ana")" != "$at_matt" ] || bad "ana's secret did not change"
case " $(catchup "$ana") " in
*"$matt_pub"*) echo "ana keeps epoch $(catchup "$ana" | cut -d' ' -f1) for matt" ;;
*) bad "ana keeps no catch-up for matt: '$(catchup "$ana")'" ;;
esac
# The catch-up survives a restart of the member that keeps it.
nd_kill "$ana_pid"
nd_start a "$ana" "$ana.log" serve
ana_pid=$nd_pid
nd_wait 15 "ana's node answers" nd_up a "$ana" || { dump; exit 1; }
nd_wait 15 "ana waits for matt on the old epoch's pair session" eval '[ "$(catchup_links a "$ana" matt)" -ge 1 ] 2>/dev/null' ||
	bad "ana after her restart: catchup_links for matt '$(catchup_links a "$ana" matt)', state '$(catchup "$ana")'"
# Matt comes back with the old secret; direct is still blocked.
nd_start m "$matt" "$matt.log" serve
matt_pid=$nd_pid
t0=$(nd_ms)
if nd_wait 40 "matt caught up" eval '[ "$(nd_secret "$matt")" = "$(nd_secret "$ana")" ]'; then
	echo "matt has ana's epoch $(nd_secret "$matt" | cut -d' ' -f1) $(($(nd_ms) - t0)) ms after his start"
else
	bad "matt did not catch up: matt '$(nd_secret "$matt")', ana '$(nd_secret "$ana")'"
fi
nd_wait 20 "ana's old-epoch link with matt closed" eval '[ "$(catchup_links a "$ana" matt)" = 0 ]' ||
	bad "ana still has $(catchup_links a "$ana" matt) links on the old epoch's session with matt"
case " $(catchup "$ana") " in
*"$matt_pub"*) bad "ana still keeps the catch-up for matt: '$(catchup "$ana")'" ;;
esac
nd_wait 20 "matt and ana connected on the relay" nd_path_is m "$matt" ana relay ||
	bad "matt-ana after matt's return: '$(nd_peer m "$matt" ana)'"
talk matt ana "after catching up"
[ "$(catchup_links a "$ana" matt)" = 0 ] || bad "ana's old-epoch link with matt came back"

if [ "$fail" -ne 0 ]; then
	dump
	echo "mesh_nat: FAILED"
	exit 1
fi
echo "mesh_nat: every member reaches every member across NATs without the issuer; a removed one reaches no one"
exit 0
