#!/bin/sh
# tests/node/advice.sh BINARY: what `atmosphere network` advises when STUN
# fails works as written (issue 11, "what the node tells people"), on
# loopback, no root:
#  - `atmosphere init --public-ip IP` without a mesh name: on a machine
#    without a mesh it creates one named after the host; on one with a mesh
#    it sets the public address (state.json), refuses other options, and
#    a bad address is a usage error;
#  - `serve --relay-only` / `join CODE --relay-only`: no STUN query is sent,
#    no candidates are offered, and the pair talks over the relay only.
# About 10 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: advice.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/nodes.sh"
nd_begin "$bin"

# --- init --public-ip IP ---------------------------------------------------------
ana=$nd_tmp/ana
out=$(nd_run - "$ana" init --public-ip 198.51.100.7 2>&1) || bad "init --public-ip on a new machine: $out"
case $out in *"Created mesh: $(hostname)-mesh"*) ;; *) bad "no mesh named after the host: $out" ;; esac
out=$(nd_run - "$ana" init --public-ip 198.51.100.8 2>&1) || bad "init --public-ip on a mesh: $out"
grep -q '"public_ip": *"198.51.100.8"' "$ana/state.json" || bad "public_ip not set: $(grep public_ip "$ana/state.json")"
case $out in *"Restart 'atmosphere serve'"*) ;; *) bad "no restart hint: $out" ;; esac
nd_run - "$ana" init --public-ip 300.1.2.3 >/dev/null 2>&1
[ $? -eq 2 ] || bad "a bad address is not a usage error"
nd_run - "$ana" init --public-ip 198.51.100.9 --relay ws://x >/dev/null 2>&1
[ $? -eq 2 ] || bad "other options with --public-ip alone on an existing mesh are not refused"
grep -q '"public_ip": *"198.51.100.8"' "$ana/state.json" || bad "a refused init changed the state"

# --- relay-only ---------------------------------------------------------------------
nd_loopback_servers
rob=$nd_tmp/rob
matt=$nd_tmp/matt
rport=$(nd_free_udp)
mport=$(nd_free_udp)
[ "$rport" != "$mport" ] || mport=$(nd_free_udp)
nd_run - "$rob" init lab --relay "$nd_relay_url" $nd_stun_args --port "$rport" --name rob >"$rob.init" 2>&1 ||
	{ cat "$rob.init"; exit 1; }
nd_start - "$rob" "$rob.log" serve --relay-only
nd_wait 10 "rob's node answers" nd_up - "$rob" || { cat "$rob.log"; exit 1; }
nd_run - "$rob" join >"$rob.code" 2>&1 || bad "join (print a code): $(cat "$rob.code")"
code=$(sed -n 's/^Full code: //p' "$rob.code")
nd_start - "$matt" "$matt.out" join "$code" --port "$mport" --name matt --relay-only
relay_both() { nd_path_is - "$rob" matt relay && nd_path_is - "$matt" rob relay; }
nd_wait 20 "both on the relay" relay_both ||
	bad "not both on the relay: rob sees '$(nd_peer - "$rob" matt)', matt sees '$(nd_peer - "$matt" rob)'"
out=$(nd_run - "$rob" ping matt 2>&1) || bad "ping: $out"
case $out in *"via relay path"*) ;; *) bad "ping does not go via the relay: $out" ;; esac
sleep 3 # long enough for a punch window to have sent something, were one started
grep -q "relay-only" "$rob.log" || bad "rob's log does not say it is relay-only"
nd_run - "$rob" peers --json | grep -q '"path":"relay"' || bad "peers does not say relay"
[ "$(nd_run - "$rob" peers --json | grep -o '"public_endpoint":"[^"]*"')" = '"public_endpoint":""' ] ||
	bad "a relay-only node discovered a public endpoint (STUN was used)"
grep -q "direct path open" "$rob.log" "$matt.out" && bad "a direct path opened in relay-only mode"

if [ "$fail" -ne 0 ]; then
	for f in "$rob.log" "$matt.out"; do
		echo "== ${f##*/}"
		tail -n 20 "$f"
	done
	echo "advice: FAILED"
	exit 1
fi
echo "advice: init --public-ip and serve --relay-only work as the advice says"
exit 0
