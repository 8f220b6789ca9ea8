#!/bin/sh
# tests/node/mesh_token.sh BINARY: two nodes pair through a relay that runs
# in mesh-token mode (docs/RELAY.md, "Who may use the relay"), on loopback,
# no root:
#  - the operator makes a key (`relay --new-key`); Rob's mesh is created
#    with `init --relay URL --relay-key FILE` and keeps it in state.json;
#  - Rob's join code carries it (relay_keys), so Matt, who has no key of his
#    own, reaches Rob's inbox on that relay and joins, relay-only;
#  - both end up on the relay path, ping and messages go through it, and the
#    relay refused none of their requests while a client without a ticket
#    gets 401 (its /metrics counts it);
#  - Ana's mesh names the same relay without a key: her node logs the 401
#    and has no link up; `init --relay URL --relay-key FILE` on her existing
#    mesh gives it the key, and after a restart her link comes up.
# About 10 s. Exit 0 pass, 1 fail.
set -u
bin=${1:?usage: mesh_token.sh BINARY}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../natlab/nodes.sh"
nd_begin "$bin"

# --- the relay, mesh-token ----------------------------------------------------------
"$bin" relay --new-key >"$nd_tmp/relay.key" || bad "--new-key"
chmod 600 "$nd_tmp/relay.key"
nd_spawn - "$nd_tmp/relay.out" "$bin" relay --host 127.0.0.1 --port 0 --threads 1 \
	--access mesh-token --relay-key-file "$nd_tmp/relay.key"
relay_pid=$nd_pid
nd_wait 10 "relay listening" grep -qs "^relay listening on 127.0.0.1:" "$nd_tmp/relay.out" ||
	{ cat "$nd_tmp/relay.out"; exit 1; }
rport_tcp=$(sed -n 's/^relay listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$nd_tmp/relay.out")
url=ws://127.0.0.1:$rport_tcp
refused() { # REASON: the relay's access counter
	"$nd_py" - "$rport_tcp" "$1" <<'EOF'
import re, sys, urllib.request
body = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=5).read().decode()
m = re.search(r'atmosphere_relay_access_refused_total\{reason="%s"\} (\d+)' % sys.argv[2], body)
print(m.group(1) if m else "none")
EOF
}

# --- Rob's mesh, with the key -----------------------------------------------------
rob=$nd_tmp/rob
matt=$nd_tmp/matt
ana=$nd_tmp/ana
rport=$(nd_free_udp)
mport=$(nd_free_udp)
[ "$rport" != "$mport" ] || mport=$(nd_free_udp)
nd_run - "$rob" init lab --relay "$url" --relay-key "$nd_tmp/relay.key" --public-ip 127.0.0.1 \
	--port "$rport" --name rob >"$rob.init" 2>&1 || { cat "$rob.init"; exit 1; }
key=$(grep -v '^#' "$nd_tmp/relay.key")
grep -q "\"relay_keys\"" "$rob/state.json" && grep -qF -- "$key" "$rob/state.json" ||
	bad "state.json does not keep the relay key"
nd_run - "$rob" init other --relay "$url" --relay-key /nonexistent/key --force >/dev/null 2>&1 &&
	bad "init with a missing key file succeeded"
nd_run - "$rob" init other --relay-key "$nd_tmp/relay.key" --force >/dev/null 2>&1
[ $? -eq 2 ] || bad "--relay-key before any --relay is not a usage error"
nd_start - "$rob" "$rob.log" serve --relay-only
nd_wait 10 "rob's node answers" nd_up - "$rob" || { cat "$rob.log"; exit 1; }
nd_run - "$rob" join >"$rob.code" 2>&1 || bad "join (print a code): $(cat "$rob.code")"
code=$(sed -n 's/^Full code: //p' "$rob.code")
echo "$code" | base64 -d 2>/dev/null | grep -q '"relay_keys":\["[A-Za-z0-9_-]\{43\}"\]' ||
	bad "the join code carries no relay key"

# --- Matt joins with the code alone ------------------------------------------------
nd_start - "$matt" "$matt.out" join "$code" --port "$mport" --name matt --relay-only
relay_both() { nd_path_is - "$rob" matt relay && nd_path_is - "$matt" rob relay; }
nd_wait 40 "both on the relay" relay_both ||
	bad "not both on the relay: rob sees '$(nd_peer - "$rob" matt)', matt sees '$(nd_peer - "$matt" rob)'"
out=$(nd_run - "$rob" ping matt 2>&1) || bad "ping: $out"
case $out in *"via relay path"*) ;; *) bad "ping does not go via the relay: $out" ;; esac
nd_run - "$matt" send rob "through a keyed relay" >/dev/null 2>&1 || bad "send matt -> rob"
nd_recv_until - "$rob" "$rob.recv" "through a keyed relay" 10 || bad "rob did not receive matt's message"
grep -qF -- "$key" "$matt/state.json" || bad "matt's state.json does not keep the relay key"
for r in no_ticket bad_ticket unknown_key expired replayed; do
	[ "$(refused $r)" = 0 ] || bad "the relay refused the nodes ($r: $(refused $r))"
done

# --- without a key ----------------------------------------------------------------------
st=$("$nd_py" - "$rport_tcp" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET /relay/stranger HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
print(s.recv(100).split(b" ")[1].decode())
EOF
)
[ "$st" = 401 ] || bad "a client without a ticket got '$st', want 401"
[ "$(refused no_ticket)" = 1 ] || bad "no_ticket counter $(refused no_ticket), want 1"
aport=$(nd_free_udp)
nd_run - "$ana" init solo --relay "$url" --public-ip 127.0.0.1 --port "$aport" --name ana >"$ana.init" 2>&1 ||
	{ cat "$ana.init"; exit 1; }
nd_start - "$ana" "$ana.log" serve --relay-only
ana_pid=$nd_pid
nd_wait 10 "ana's node answers" nd_up - "$ana" || { cat "$ana.log"; exit 1; }
nd_run - "$ana" join >"$ana.code" 2>&1 # opens her inbox on the relay
nd_wait 30 "ana's node says the relay refused it" grep -q "HTTP 401" "$ana.log" ||
	bad "ana's node does not say 401: $(tail -n 5 "$ana.log")"
links_up() {
	[ "$(nd_run - "$ana" peers --json 2>/dev/null | "$nd_py" -c '
import json, sys
print(json.load(sys.stdin)["self"]["relays"][0]["links_up"])' 2>/dev/null)" = "$1" ]
}
links_up 0 || bad "ana has a link up on the relay without its key"
# ... until she is given it: her existing mesh's relay gets its key, and
# after a restart her invite's inbox link comes up.
nd_run - "$ana" init --relay "$url" >/dev/null 2>&1
[ $? -eq 2 ] || bad "init --relay URL alone on a mesh is not a usage error"
nd_run - "$ana" init --relay ws://127.0.0.1:9 --relay-key "$nd_tmp/relay.key" >/dev/null 2>&1
[ $? -eq 2 ] || bad "a relay key for a relay the mesh does not use is not a usage error"
out=$(nd_run - "$ana" init --relay "$url" --relay-key "$nd_tmp/relay.key" 2>&1) || bad "init --relay-key: $out"
grep -qF -- "$key" "$ana/state.json" || bad "ana's state.json does not keep the relay key"
nd_kill "$ana_pid"
nd_start - "$ana" "$ana.log2" serve --relay-only
nd_wait 10 "ana's node answers again" nd_up - "$ana" || { cat "$ana.log2"; exit 1; }
nd_wait 30 "ana's inbox link up with the key" links_up 1 ||
	bad "ana's link is not up with the key: $(tail -n 5 "$ana.log2")"
grep -q "HTTP 401" "$ana.log2" && bad "ana's node was refused with the key: $(grep "HTTP 401" "$ana.log2")"

if [ "$fail" -ne 0 ]; then
	for f in "$nd_tmp/relay.out" "$rob.log" "$matt.out" "$ana.log" "$ana.log2"; do
		echo "== ${f##*/}"
		tail -n 20 "$f"
	done
	echo "mesh_token: FAILED"
	exit 1
fi
echo "mesh_token: two nodes pair through a mesh-token relay with the key from the join code"
exit 0
