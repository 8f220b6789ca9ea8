#!/bin/sh
# wss:// on the relay: TLS 1.2 and 1.3 against a test CA (curl), a plain
# port beside it, and the certificate reloaded on SIGHUP without dropping
# the listener. Usage: tls.sh BINARY.
set -u
bin=$1
fail() { echo "FAIL: $*" >&2; exit 1; }
for t in openssl curl; do
	command -v $t >/dev/null 2>&1 || { echo "SKIP: $t not installed"; exit 77; }
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/relay-tls.$$.XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
cd "$dir" || exit 1

# A throw-away CA and two server certificates for localhost.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout ca.key -out ca.pem \
	-days 2 -subj /CN=atmos-test-ca >/dev/null 2>&1 || fail "cannot make a CA"
printf 'subjectAltName=DNS:localhost\n' >ext
for n in 1 2; do
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "s$n.key" -out "s$n.csr" \
		-subj "/CN=localhost/O=cert$n" >/dev/null 2>&1 &&
		openssl x509 -req -in "s$n.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "s$n.pem" -days 2 \
			-extfile ext >/dev/null 2>&1 || fail "cannot make certificate $n"
done
cp s1.pem srv.pem
cp s1.key srv.key

"$bin" relay --host 127.0.0.1 --port 0 --tls-cert srv.pem --tls-key srv.key --plain-port 0 --quiet >out 2>err &
pid=$!
i=0
while ! grep -q '^plain listening' out 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "relay did not start: $(cat err)"
	sleep 0.05
done
port=$(sed -n 's/^relay listening on 127.0.0.1:\([0-9]*\)$/\1/p' out)
plain=$(sed -n 's/^plain listening on 127.0.0.1:\([0-9]*\)$/\1/p' out)

for v in 1.2 1.3; do
	body=$(curl -sS --cacert ca.pem --tlsv$v --tls-max $v "https://localhost:$port/health" 2>&1) ||
		fail "TLS $v: $body"
	echo "$body" | grep -q '"status": "ok"' || fail "TLS $v: unexpected /health: $body"
done
curl -sS "http://127.0.0.1:$plain/health" | grep -q '"status": "ok"' || fail "plain port does not answer"
# An unknown CA is refused by the client (the relay's certificate is what we think).
if curl -sS "https://localhost:$port/health" >/dev/null 2>&1; then fail "curl trusted the test CA without --cacert"; fi

subject() {
	echo | openssl s_client -connect "127.0.0.1:$port" -servername localhost 2>/dev/null |
		openssl x509 -noout -subject 2>/dev/null
}
subject | grep -q 'cert1' || fail "first certificate not served: $(subject)"

# Replace the files and send SIGHUP: new connections get the new certificate.
cp s2.pem srv.pem
cp s2.key srv.key
kill -HUP "$pid"
i=0
while ! subject | grep -q 'cert2'; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "SIGHUP did not reload the certificate: $(subject); $(cat err)"
	sleep 0.1
done
grep -q 'reloaded certificate' err || fail "no reload log line: $(cat err)"
curl -sS --cacert ca.pem "https://localhost:$port/health" | grep -q '"status": "ok"' || fail "TLS after reload"

# A broken file on SIGHUP keeps the old certificate and says why.
echo garbage >srv.pem
kill -HUP "$pid"
i=0
while ! grep -q 'keeping the old certificate' err; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "no message for a bad certificate on SIGHUP: $(cat err)"
	sleep 0.1
done
subject | grep -q 'cert2' || fail "bad reload replaced the certificate: $(subject)"

# A head trickled over TLS, 7 bytes every 80 ms: between pieces the
# handshake coroutine waits past RELAY_HS_HIBERNATE_MS (50 ms), trimmed
# (net_stream_trim) and hibernating, and must still read the whole head.
if [ -x /usr/bin/python3 ]; then
	/usr/bin/python3 - "$port" ca.pem <<'PY' || fail "a head trickled over TLS was not answered"
import socket, ssl, sys, time
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname="localhost")
req = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
for i in range(0, len(req), 7):
    s.sendall(req[i:i + 7])
    time.sleep(0.08)
resp = b""
while b"\r\n\r\n" not in resp:
    got = s.recv(4096)
    if not got:
        break
    resp += got
assert resp.startswith(b"HTTP/1.1 200"), resp[:80]
PY
fi

# A wss:// session that goes idle past the relay's one-second threshold
# (its connections then wait hibernating, see docs/RELAY.md) still forwards
# both ways afterwards. Python's websockets, when Debian's is installed.
if /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
	/usr/bin/python3 - "$port" ca.pem <<'PY' || fail "wss session after an idle spell"
import asyncio, ssl, sys
import websockets
port, ca = sys.argv[1], sys.argv[2]
async def main():
    ctx = ssl.create_default_context(cafile=ca)
    url = f"wss://localhost:{port}/relay/tls-idle-spell"
    a = await websockets.connect(url, ssl=ctx)
    b = await websockets.connect(url, ssl=ctx)
    for c in (a, b):
        assert "paired" in await asyncio.wait_for(c.recv(), 5)
    for spell in range(2):
        await asyncio.sleep(2.5)
        await a.send(f"a{spell}")
        assert await asyncio.wait_for(b.recv(), 5) == f"a{spell}"
        await b.send(bytes([spell]) * 3000)
        assert await asyncio.wait_for(a.recv(), 5) == bytes([spell]) * 3000
    await a.close()
    await b.close()
asyncio.run(asyncio.wait_for(main(), 30))
PY
	# A record that reaches a hibernated connection in pieces, 7 bytes every
	# 80 ms: the first wakes relay_conn_run's wait for readability, the
	# receive then waits (hibernating again) for the rest of the record.
	/usr/bin/python3 - "$port" ca.pem <<'PY' || fail "a record trickled into an idle wss connection"
import asyncio, os, socket, ssl, sys, time
import websockets
port, ca = sys.argv[1], sys.argv[2]
async def main():
    ctx = ssl.create_default_context(cafile=ca)
    b = await websockets.connect(f"wss://localhost:{port}/relay/tls-trickle", ssl=ctx)
    # a: TLS by hand over a raw socket, so that one record can be cut in pieces.
    raw = socket.create_connection(("127.0.0.1", int(port)), timeout=10)
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname="localhost")
    def pump_out(pieces=None):
        data = out.read()
        step = pieces or len(data) or 1
        for i in range(0, len(data), step):
            raw.sendall(data[i:i + step])
            if pieces:
                time.sleep(0.08)
    def read_some():
        while True:
            try:
                return tls.read(65536)
            except ssl.SSLWantReadError:
                pump_out()
                got = raw.recv(65536)
                assert got, "relay closed"
                inc.write(got)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            pump_out()
            inc.write(raw.recv(65536))
    pump_out()
    tls.write(b"GET /relay/tls-trickle HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    pump_out()
    got = b""
    while b"paired" not in got:
        got += read_some()
    assert got.startswith(b"HTTP/1.1 101"), got[:60]
    assert "paired" in await asyncio.wait_for(b.recv(), 5)
    for spell in range(2):
        await asyncio.sleep(1.5)  # past the relay's one-second threshold: a hibernates
        msg = f"trickled {spell}".encode()
        mask = os.urandom(4)
        tls.write(bytes([0x81, 0x80 | len(msg)]) + mask + bytes(c ^ mask[i % 4] for i, c in enumerate(msg)))
        pump_out(pieces=7)  # one TLS record, 7 bytes every 80 ms
        assert await asyncio.wait_for(b.recv(), 5) == msg.decode()
        await b.send(f"back {spell}")
        got = b""
        while f"back {spell}".encode() not in got:
            got += read_some()
    await b.close()
asyncio.run(asyncio.wait_for(main(), 30))
PY
fi

kill -TERM "$pid"
wait "$pid"
rc=$?
pid=""
[ $rc -eq 0 ] || fail "relay exited $rc on SIGTERM"

# Behind a TCP balancer (docs/RELAY.md, "Behind a load balancer"): from a
# trusted proxy the PROXY header comes before the TLS handshake. curl
# --haproxy-protocol sends a v1 line naming itself; without it the
# connection is closed (--proxy-protocol required).
cp s1.pem srv.pem
cp s1.key srv.key
"$bin" relay --host 127.0.0.1 --port 0 --tls-cert srv.pem --tls-key srv.key --trusted-proxy 127.0.0.1/32 \
	>out2 2>err2 &
pid=$!
i=0
while ! grep -q '^relay listening' out2 2>/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "relay with --trusted-proxy did not start: $(cat err2)"
	sleep 0.05
done
port=$(sed -n 's/^relay listening on 127.0.0.1:\([0-9]*\)$/\1/p' out2)
# Forty times: the header and the ClientHello arrive in one read or in
# two, and the relay must hand the TLS engine whatever followed the header
# (once ~7% of handshakes waited for a ClientHello already read).
i=0
while [ $i -lt 40 ]; do
	i=$((i + 1))
	body=$(curl -sS -m 5 --haproxy-protocol --cacert ca.pem "https://localhost:$port/stats" 2>&1) ||
		fail "PROXY header then TLS, attempt $i: $body"
done
echo "$body" | grep -q '"proxied": 40' || fail "PROXY header then TLS: not counted as proxied: $body"
if curl -sS -m 5 --cacert ca.pem "https://localhost:$port/health" >/dev/null 2>&1; then
	fail "TLS without the PROXY header from a trusted proxy was answered"
fi
grep -q 'trusted proxy sent no PROXY header' err2 || fail "no log line for the missing PROXY header: $(cat err2)"
kill -TERM "$pid"
wait "$pid"
pid=""
echo "ok tls"
