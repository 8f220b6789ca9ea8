#!/bin/sh
# tests/node/mesh_loopback.sh BINARY: every member reaches every member, on
# loopback (no root): our relay and STUN server on 127.0.0.1, four nodes with
# their own ATMOSPHERE_HOME and UDP port.
#
#  1. Rob creates the mesh; Matt and Ana join with codes from Rob. Matt and
#     Ana learn of each other through Rob and connect; Rob stops; Matt and
#     Ana still exchange messages both ways.
#  2. Ana stops; Bob joins with a code from Matt (not the founder); Ana
#     comes back, catches up from Matt (she was offline when Bob joined) and
#     Ana and Bob exchange messages.
#  3. Bob issues a code, then Matt removes Bob (`remove --json`): Ana and
#     Matt drop him, he can reach no one, and Eve, joining with Bob's code,
#     reaches no one either.
# About 20 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: mesh_loopback.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/nodes.sh"
nd_begin "$bin"
dump() {
	for f in "$nd_tmp"/*.log "$nd_tmp"/*.out; do
		[ -f "$f" ] || continue
		echo "== ${f##*/}"
		tail -n 25 "$f"
	done
}

nd_loopback_servers
for n in rob matt ana bob eve; do
	eval "$n=\$nd_tmp/$n"
	eval "${n}_port=\$(nd_free_udp)"
done
export ATMOSPHERE_LOG=debug

# linked A B: A lists B as connected and B lists A.
linked() {
	nd_connected - "$1" "$(basename "$2")" && nd_connected - "$2" "$(basename "$1")"
}
# talk A B TAG: a message each way between the nodes of homes A and B.
talk() {
	_a=$(basename "$1")
	_b=$(basename "$2")
	nd_run - "$1" send "$_b" "$3 from $_a" >/dev/null 2>&1 || { bad "$3: $_a's send to $_b failed"; return; }
	nd_run - "$2" send "$_a" "$3 from $_b" >/dev/null 2>&1 || { bad "$3: $_b's send to $_a failed"; return; }
	nd_recv_until - "$2" "$2.recv" "$_a: $3 from $_a" 10 || bad "$3: $_b did not receive"
	nd_recv_until - "$1" "$1.recv" "$_b: $3 from $_b" 10 || bad "$3: $_a did not receive"
}

# --- 1. a mesh of three; the founder leaves ---------------------------------
nd_run - "$rob" init lab --relay "$nd_relay_url" $nd_stun_args --public-ip 127.0.0.1 --port "$rob_port" \
	--name rob >"$rob.init" 2>&1 || { cat "$rob.init"; exit 1; }
nd_start - "$rob" "$rob.log" serve
rob_pid=$nd_pid
nd_wait 10 "rob's node answers" nd_up - "$rob" || { dump; exit 1; }
c1=$(nd_code - "$rob")
c2=$(nd_code - "$rob")
[ -n "$c1" ] && [ -n "$c2" ] || { echo "FAIL: no codes"; exit 1; }
nd_start - "$matt" "$matt.out" join "$c1" --port "$matt_port" --name matt
matt_pid=$nd_pid
nd_wait 20 "matt joined" linked "$rob" "$matt" || { dump; exit 1; }
nd_start - "$ana" "$ana.out" join "$c2" --port "$ana_port" --name ana
ana_pid=$nd_pid
nd_wait 20 "ana joined" linked "$rob" "$ana" || { dump; exit 1; }
grep -q "✓ Joined mesh: lab" "$ana.out" || bad "ana's join output changed: $(cat "$ana.out")"
t0=$(nd_ms)
if nd_wait 20 "matt and ana connected" linked "$matt" "$ana"; then
	echo "matt and ana learned of each other and connected $(($(nd_ms) - t0)) ms after ana joined"
else
	bad "matt and ana not connected: matt sees '$(nd_peer - "$matt" ana)', ana sees '$(nd_peer - "$ana" matt)'"
	dump
	exit 1
fi
grep -q "learned of" "$matt.out" || bad "matt's log does not say it learned of ana"
nd_kill "$rob_pid"
talk "$matt" "$ana" "without rob"

# --- 2. ana away while bob joins through matt; she catches up ------------------
nd_kill "$ana_pid"
c3=$(nd_code - "$matt")
[ -n "$c3" ] || { echo "FAIL: matt issued no code"; dump; exit 1; }
nd_start - "$bob" "$bob.out" join "$c3" --port "$bob_port" --name bob
bob_pid=$nd_pid
nd_wait 20 "bob joined through matt" linked "$matt" "$bob" || { dump; exit 1; }
nd_start - "$ana" "$ana.log2" serve
ana_pid=$nd_pid
t0=$(nd_ms)
if nd_wait 25 "ana (back) and bob connected" linked "$ana" "$bob"; then
	echo "ana came back and reached bob, who joined while she was away, after $(($(nd_ms) - t0)) ms"
else
	bad "ana and bob not connected: ana sees '$(nd_peer - "$ana" bob)', bob sees '$(nd_peer - "$bob" ana)'"
fi
talk "$ana" "$bob" "caught up"
nd_wait 20 "matt and ana connected again" linked "$matt" "$ana" || bad "matt and ana did not reconnect"

# --- 3. bob is removed --------------------------------------------------------------
c4=$(nd_code - "$bob")
[ -n "$c4" ] || bad "bob issued no code"
out=$(nd_run - "$matt" remove bob --json 2>&1) || bad "remove failed: $out"
echo "remove --json: $out"
echo "$out" | "$nd_py" -c 'import json,sys; o=json.load(sys.stdin); assert o["name"] == "bob" and o["removed"].startswith("node-")' ||
	bad "remove --json: unexpected answer"
gone() { ! nd_connected - "$1" bob; }
nd_wait 15 "matt and ana dropped bob" eval 'gone "$matt" && gone "$ana"' ||
	bad "bob still connected: matt '$(nd_peer - "$matt" bob)', ana '$(nd_peer - "$ana" bob)'"
grep -q "bob.*removed by\|removed by" "$ana.log2" || bad "ana's log does not mention the removal"
# Bob reaches no one: told of his removal, he drops his peers, and the
# others refuse his handshakes.
nd_wait 15 "bob dropped his peers" eval '! nd_connected - "$bob" matt && ! nd_connected - "$bob" ana' ||
	bad "bob still lists a peer as connected: matt '$(nd_peer - "$bob" matt)', ana '$(nd_peer - "$bob" ana)'"
grep -q "this node was removed" "$bob.out" || bad "bob's log does not say he was removed"
# Watched for a few seconds (a negative check needs a duration): no
# session comes back, whoever starts a handshake.
end=$(($(nd_ms) + 4000))
while [ "$(nd_ms)" -lt "$end" ]; do
	for who in matt ana; do
		nd_run - "$bob" send "$who" "after removal" >/dev/null 2>&1
		nd_connected - "$(eval echo \$$who)" bob && bad "$who lists bob as connected after the removal"
		nd_run - "$(eval echo \$$who)" recv | grep "after removal" && bad "$who received bob's message after the removal"
	done
	sleep 0.5
done
# Codes Bob issued stop working: Eve joins with one and reaches no one.
nd_start - "$eve" "$eve.out" join "$c4" --port "$eve_port" --name eve
eve_pid=$nd_pid
nd_wait 20 "eve joined through bob" nd_connected - "$bob" eve || bad "eve did not even reach bob"
sleep 3
for who in matt ana; do
	nd_connected - "$eve" "$who" && bad "eve, admitted by removed bob, reached $who"
	nd_connected - "$(eval echo \$$who)" eve && bad "$who accepted eve"
done
talk "$matt" "$ana" "after the removal"

if [ "$fail" -ne 0 ]; then
	dump
	echo "mesh_loopback: FAILED"
	exit 1
fi
echo "mesh_loopback: every member reaches every member; a removed one reaches no one"
exit 0
