#!/usr/bin/python3
"""Access control of the real `atmosphere relay` binary (--access; docs/RELAY.md,
"Who may use the relay"), driven on loopback.

    access.py BINARY open|mesh-token|allow-list

  open        the seed's clients (websockets, aiohttp, no ticket) pair and
              forward, a stray ticket is ignored, /metrics shows mode open
  mesh-token  a key from `--new-key`; a seed client without a ticket gets 401
              and /health still answers; clients with valid tickets (query
              and Authorization: Bearer) pair and forward; forged, wrong-key,
              other-session, garbled (401) and expired, too-long, replayed
              (403) tickets refused with an empty body; rotation (two key
              files: both keys work); every refusal counted in /metrics and
              /stats, logged with its reason, no ticket in the log
  allow-list  only 10.0.0.0/8 allowed: 127.0.0.1 gets 403 on /relay, /stats and
              /metrics, /health answers; with 127.0.0.0/8 (and an IPv6 net) the
              seed's clients pair

Tickets are made here from the layout in relay/ticket.h, independently of
the C code (hmac, hashlib, base64). Exit 0 pass, 1 fail, 77 skip.
"""
import asyncio
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from relay_proc import Relay  # noqa: E402

try:
    import aiohttp
    import websockets
except ImportError as e:
    print(f"skip: {e}")
    sys.exit(SKIP)


def b64u(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64u(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def key_id(key):
    return hashlib.sha256(b"atmosphere relay key id" + key).digest()[:4]


def ticket(key, sid, expires=None, nonce=None, kid=None):
    """The ticket of relay/ticket.h, as the relay expects it."""
    expires = int(time.time()) + 300 if expires is None else expires
    nonce = os.urandom(16) if nonce is None else nonce
    signed = bytes([1]) + (kid or key_id(key)) + struct.pack(">Q", expires) + nonce
    mac = hmac.new(key, b"atmosphere relay ticket v1" + bytes([len(sid)]) + sid.encode() + signed,
                   hashlib.sha256).digest()
    return b64u(signed + mac)


def http(port, path, headers=(), upgrade=True, timeout=5):
    """One request on a raw socket: (status, headers text, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    if upgrade:
        req += ("Upgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")
    for h in headers:
        req += h + "\r\n"
    s.sendall((req + "\r\n").encode())
    data = b""
    deadline = time.monotonic() + timeout
    while b"\r\n\r\n" not in data and time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    m = re.search(rb"(?i)content-length: *(\d+)", head)
    if status != 101 and m:
        want = int(m.group(1))
        while len(body) < want and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    s.close()
    return status, head.decode(errors="replace"), body


def metrics(port):
    st, _, body = http(port, "/metrics", upgrade=False)
    assert st == 200, f"/metrics: {st}"
    out = {}
    for line in body.decode().splitlines():
        m = re.fullmatch(r'atmosphere_relay_access_refused_total\{reason="(\w+)"\} (\d+)', line)
        if m:
            out[m.group(1)] = int(m.group(2))
    assert "no_ticket" in out, f"no access counters in /metrics:\n{body.decode()}"
    return out


def stats(port):
    st, _, body = http(port, "/stats", upgrade=False)
    assert st == 200, f"/stats: {st}"
    return json.loads(body)


def health_ok(port):
    st, _, body = http(port, "/health", upgrade=False)
    assert st == 200 and json.loads(body)["status"] == "ok", f"/health: {st} {body!r}"


async def recv_data(ws):
    """The next data message, skipping the relay's paired notice."""
    while True:
        m = await asyncio.wait_for(ws.recv(), 10)
        if isinstance(m, str) and m.startswith('{"type":"paired"'):
            continue
        return m


async def pair_websockets(url_a, url_b, extra_b=None):
    """The seed's sequence: A and B connect, A sends b"hello", B receives it, and back."""
    a = await websockets.connect(url_a, open_timeout=10)
    b = await websockets.connect(url_b, open_timeout=10, extra_headers=extra_b)
    try:
        await a.send(b"hello")
        got = await recv_data(b)
        assert got == b"hello", f"B got {got!r}"
        await b.send("back")
        got = await recv_data(a)
        assert got == "back", f"A got {got!r}"
    finally:
        await a.close()
        await b.close()


async def pair_aiohttp(url_a, url_b):
    async with aiohttp.ClientSession() as s:
        a = await s.ws_connect(url_a, timeout=10)
        b = await s.ws_connect(url_b, timeout=10)
        await a.send_bytes(b"hello")
        while True:
            m = await asyncio.wait_for(b.receive(), 10)
            if m.type == aiohttp.WSMsgType.TEXT and m.data.startswith('{"type":"paired"'):
                continue
            break
        assert m.type == aiohttp.WSMsgType.BINARY and m.data == b"hello", f"B got {m}"
        await a.close()
        await b.close()


async def refused_websockets(url, want):
    try:
        ws = await websockets.connect(url, open_timeout=10)
    except websockets.exceptions.InvalidStatusCode as e:
        assert e.status_code == want, f"{url}: status {e.status_code}, want {want}"
        return
    await ws.close()
    raise AssertionError(f"{url}: accepted, want {want}")


def sid(n):
    return b64u(os.urandom(20)) + f"-{n}"


def case_open(binary, tmp):
    with Relay(binary) as r:
        asyncio.run(open_pairs(r))
        assert stats(r.port)["access"]["mode"] == "open"
        assert sum(metrics(r.port).values()) == 0
        health_ok(r.port)
        assert r.stop() == 0, "the relay's exit status (a sanitizer report?)"


async def open_pairs(r):
    s = sid(1)
    await pair_websockets(r.url + s, r.url + s)
    s = sid(2)
    await pair_aiohttp(r.url + s, r.url + s)
    # A ticket means nothing to an open relay: ignored, not refused.
    s = sid(3)
    await pair_websockets(r.url + s + "?ticket=garbage", r.url + s)


def new_key_file(binary, tmp, name):
    path = os.path.join(tmp, name)
    out = subprocess.run([binary, "relay", "--new-key"], capture_output=True, check=True, timeout=10).stdout
    lines = out.decode().splitlines()
    assert len(lines) == 2 and lines[0].startswith("# atmosphere relay key "), f"--new-key printed {out!r}"
    key = unb64u(lines[1])
    assert len(key) == 32 and lines[0].split()[4].rstrip(",") == key_id(key).hex(), lines
    with open(path, "w") as f:
        f.write(out.decode())
    os.chmod(path, 0o600)
    return path, key


def case_mesh_token(binary, tmp):
    kf, key = new_key_file(binary, tmp, "relay.key")
    kf2, key2 = new_key_file(binary, tmp, "next.key")
    other = os.urandom(32)
    with Relay(binary, "--access", "mesh-token", "--relay-key-file", kf, "--relay-key-file", kf2,
               log_path=os.path.join(tmp, "relay.log")) as r:
        p = r.port
        health_ok(p)
        base = metrics(p)
        assert sum(base.values()) == 0, base
        want = dict(base)

        def expect(path, status, reason, headers=()):
            st, head, body = http(p, path, headers)
            assert st == status, f"{path}: {st}, want {status}\n{head}"
            assert body == b"", f"{path}: refusal has a body {body!r}"
            if status == 401:
                assert "WWW-Authenticate: Bearer" in head, head
            want[reason] += 1

        # 1. The seed's clients, no ticket: 401 (websockets, aiohttp, raw).
        s = sid(1)
        asyncio.run(refused_websockets(r.url + s, 401))
        want["no_ticket"] += 1
        expect(f"/relay/{s}", 401, "no_ticket")
        expect(f"/relay/{s}?other=1&ticketx=2", 401, "no_ticket")
        health_ok(p)

        # 2. Valid tickets pair and forward, under either key (rotation), in
        #    the query or in an Authorization header.
        s = sid(2)
        asyncio.run(pair_websockets(f"{r.url}{s}?ticket={ticket(key, s)}",
                                    f"{r.url}{s}?x=1&ticket={ticket(key2, s)}"))
        s = sid(3)
        asyncio.run(pair_websockets(f"{r.url}{s}?ticket={ticket(key2, s)}", f"{r.url}{s}",
                                    extra_b={"Authorization": f"Bearer {ticket(key, s)}"}))

        # 3. Refusals, each with its status and counter.
        s = sid(4)
        t = ticket(key, s)
        forged = t[:-3] + ("AAA" if t[-3:] != "AAA" else "BBB")
        forged = forged[:-1] + "A"  # keep the last symbol canonical
        expect(f"/relay/{s}?ticket={forged}", 401, "bad_ticket")
        expect(f"/relay/{sid(5)}?ticket={t}", 401, "bad_ticket")              # another session
        expect(f"/relay/{s}?ticket={ticket(other, s)}", 401, "unknown_key")   # a key it lacks
        expect(f"/relay/{s}?ticket={ticket(other, s, kid=key_id(key))}", 401, "bad_ticket")
        expect(f"/relay/{s}?ticket={t[:40]}", 401, "bad_ticket")              # truncated
        expect(f"/relay/{s}?ticket={t}%00", 401, "bad_ticket")
        expect(f"/relay/{s}", 401, "bad_ticket", headers=["Authorization: Bearer " + t[1:]])
        expect(f"/relay/{s}?ticket={ticket(key, s, expires=int(time.time()) - 5)}", 403, "expired")
        expect(f"/relay/{s}?ticket={ticket(key, s, expires=int(time.time()) + 3600)}", 403, "expired")
        # Replay: the first use pairs, the same ticket again is refused,
        # though its MAC is good and it has not expired.
        once = ticket(key, s)
        a_status, _, _ = http(p, f"/relay/{s}?ticket={once}")
        assert a_status == 101, a_status
        expect(f"/relay/{s}?ticket={once}", 403, "replayed")
        expect(f"/relay/{s}", 403, "replayed", headers=[f"Authorization: Bearer {once}"])

        got = metrics(p)
        assert got == want, f"/metrics counters {got}, want {want}"
        st = stats(p)["access"]
        assert st["mode"] == "mesh-token" and st["refused"] == want, st
        assert st["tickets_remembered"] >= 5, st
        health_ok(p)
        # /stats and /metrics are not behind tickets (they were read above).

        # 4. The log: each reason said (a refusal may fall in a second whose
        #    10 lines are spent: then try again, a bounded number of times),
        #    never a ticket.
        kinds = [("no ticket", lambda: http(p, f"/relay/{sid(6)}")),
                 ("already used", lambda: http(p, f"/relay/{s}?ticket={once}")),
                 ("expired", lambda: http(p, f"/relay/{s}?ticket={ticket(key, s, expires=1)}")),
                 ("does not hold", lambda: http(p, f"/relay/{s}?ticket={ticket(other, s)}")),
                 ("MAC does not match", lambda: http(p, f"/relay/{s}?ticket={forged}"))]
        for reason, request in kinds:
            for attempt in range(4):
                request()
                deadline = time.monotonic() + 1.2
                while time.monotonic() < deadline and not any(reason in l for l in r.log_lines()):
                    time.sleep(0.02)
                if any(reason in l for l in r.log_lines()):
                    break
            else:
                raise AssertionError(f"no '{reason}' in the log:\n" + "\n".join(r.log_lines()))

        # 5. A stranger cannot flood the log: 200 refusals as fast as they
        #    go add at most 10 lines a second (and a count of the rest).
        before = len(r.log_lines())
        t0 = time.monotonic()
        for i in range(200):
            http(p, f"/relay/flood{i}")
        elapsed = time.monotonic() - t0
        time.sleep(0.2)  # let the relay write what it will (a bound, not a sync: counted below)
        added = len(r.log_lines()) - before
        assert added <= 10 * (int(elapsed) + 2), f"{added} log lines for 200 refusals in {elapsed:.1f} s"
        assert metrics(p)["no_ticket"] >= want["no_ticket"] + 200
        log = "\n".join(r.log_lines())
        assert once not in log and t not in log, "a ticket reached the log"
        assert key_id(key).hex() in log and key_id(key2).hex() in log, "the key ids are not logged at start"
        assert r.stop() == 0, "the relay's exit status (a sanitizer report?)"


def case_allow_list(binary, tmp):
    with Relay(binary, "--access", "allow-list", "--allow-net", "10.0.0.0/8", "--allow-net", "fd00::/8") as r:
        p = r.port
        s = sid(1)
        asyncio.run(refused_websockets(r.url + s, 403))
        st, head, body = http(p, f"/relay/{s}")
        assert st == 403 and body == b"", (st, head, body)
        for path in ("/stats", "/metrics"):
            st, _, body = http(p, path, upgrade=False)
            assert st == 403 and body == b"", (path, st, body)
        health_ok(p)
    with Relay(binary, "--access", "allow-list", "--allow-net", "10.0.0.0/8", "--allow-net", "127.0.0.0/8",
               "--allow-net", "::1/128") as r:
        p = r.port
        s = sid(2)
        asyncio.run(pair_websockets(r.url + s, r.url + s))
        s = sid(3)
        asyncio.run(pair_aiohttp(r.url + s, r.url + s))
        assert metrics(p)["network"] == 0
        assert stats(p)["access"]["mode"] == "allow-list"
        assert r.stop() == 0, "the relay's exit status (a sanitizer report?)"
    # The counter: a third relay refusing loopback, counted.
    with Relay(binary, "--access", "allow-list", "--allow-net", "192.0.2.0/24") as r:
        for i in range(3):
            st, _, _ = http(r.port, f"/relay/{sid(i)}")
            assert st == 403
        # /metrics is refused here too: read the count from the log instead.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and sum("source not in --allow-net" in l for l in r.log_lines()) < 3:
            time.sleep(0.05)
        assert sum("source not in --allow-net" in l for l in r.log_lines()) == 3, r.log_lines()


def main():
    binary, case = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory(prefix="relay-access.") as tmp:
        {"open": case_open, "mesh-token": case_mesh_token, "allow-list": case_allow_list}[case](binary, tmp)
    print(f"access {case}: ok")


if __name__ == "__main__":
    main()
