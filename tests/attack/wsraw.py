"""Raw WebSocket clients for the adversarial tests (stdlib only).

The attacks need what a well-behaved library will not do: hold a socket
open without reading, send a frame header and then trickle its payload,
bind each connection to its own loopback source address. Frames are
masked with the all-zero key (RFC 6455 section 5.3 allows any key), so the
payload goes out as is and no Python loop touches it.
"""
import asyncio
import base64
import json
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from relay_proc import Relay  # noqa: E402,F401 - re-exported for attack.py


def src_addr(i):
    """The i-th loopback source address: 127.1.x.y (every 127/8 address is
    local on Linux, no set-up needed)."""
    return f"127.1.{(i >> 8) & 255}.{(i & 255) + 1}"


async def http_get(port, path, timeout=2.0, src=None):
    """One plain HTTP GET; returns (status, body) or raises."""
    async def go():
        r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(src, 0) if src else None)
        w.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = await r.read()
        w.close()
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        return status, body
    return await asyncio.wait_for(go(), timeout)


async def stats(port, timeout=2.0):
    status, body = await http_get(port, "/stats", timeout=timeout)
    assert status == 200, status
    return json.loads(body)


def frame(payload, opcode=2, fin=True, length=None):
    """A masked client frame (zero mask key). length overrides the header's
    payload length (the payload may then follow separately)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        h = struct.pack("!BB", b0, 0x80 | n)
    elif n < 65536:
        h = struct.pack("!BBH", b0, 0x80 | 126, n)
    else:
        h = struct.pack("!BBQ", b0, 0x80 | 127, n)
    return h + b"\0\0\0\0" + payload


class Conn:
    """A WebSocket client on asyncio streams. connect() does the upgrade and
    returns the HTTP status; frames are read with read_frame()."""

    def __init__(self, port, sid, src=None, rcvbuf=None):
        self.port, self.sid, self.src, self.rcvbuf = port, sid, src, rcvbuf
        self.r = self.w = None
        self.status = None

    async def connect(self, timeout=5.0):
        async def go():
            if self.rcvbuf:
                # Before connect, so the window it advertises is small too.
                sk = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sk.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
                sk.setblocking(False)
                if self.src:
                    sk.bind((self.src, 0))
                await asyncio.get_running_loop().sock_connect(sk, ("127.0.0.1", self.port))
                self.r, self.w = await asyncio.open_connection(sock=sk)
            else:
                self.r, self.w = await asyncio.open_connection(
                    "127.0.0.1", self.port, local_addr=(self.src, 0) if self.src else None)
            key = base64.b64encode(os.urandom(16)).decode()
            self.w.write((f"GET /relay/{self.sid} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          f"Upgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
            head = await self.r.readuntil(b"\r\n\r\n")
            self.status = int(head.split(b" ", 2)[1])
            return self.status
        return await asyncio.wait_for(go(), timeout)

    def sock(self):
        return self.w.get_extra_info("socket")

    async def read_frame(self, timeout=5.0):
        """(opcode, fin, payload) of the next server frame."""
        async def go():
            h = await self.r.readexactly(2)
            n = h[1] & 0x7F
            if n == 126:
                n = struct.unpack("!H", await self.r.readexactly(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", await self.r.readexactly(8))[0]
            return h[0] & 0x0F, bool(h[0] & 0x80), await self.r.readexactly(n)
        return await asyncio.wait_for(go(), timeout)

    async def read_data(self, timeout=5.0):
        """The next data message payload, skipping the paired notice and
        answering pings."""
        while True:
            op, _, p = await self.read_frame(timeout)
            if op == 9:
                self.w.write(frame(p, opcode=10))
                continue
            if op == 1 and p.startswith(b'{"type":"paired"'):
                continue
            if op == 8:
                raise ConnectionError(f"close {p[:2].hex()} {p[2:]!r}")
            return p

    async def send(self, payload, opcode=2):
        self.w.write(frame(payload, opcode))
        await self.w.drain()

    def abort(self):
        if self.w:
            self.w.transport.abort()


async def legit_pair(port, sid, timeout=5.0):
    """Two clients paired on sid, notices consumed. Raises on failure."""
    a, b = Conn(port, sid), Conn(port, sid)
    try:
        assert await a.connect(timeout) == 101, f"{sid}: first client {a.status}"
        assert await b.connect(timeout) == 101, f"{sid}: second client {b.status}"
        for c in (a, b):
            op, _, p = await c.read_frame(timeout)
            assert op == 1 and json.loads(p)["type"] == "paired", (op, p[:80])
    except BaseException:
        # A failed try must not leave its connections open: the attack
        # tests count the relay's connections back to their baseline.
        a.abort()
        b.abort()
        raise
    return a, b


class EchoProbe:
    """A paired session that keeps forwarding: a 1 KiB message from A to B
    every interval, each stamped with its send time; B records one-way
    delays and checks every sequence number arrives, in order."""

    def __init__(self, port, sid, interval=0.02):
        self.port, self.sid, self.interval = port, sid, interval
        self.delays = []
        self.sent = 0
        self.errors = []
        self.stop = False

    async def run(self):
        a, b = await legit_pair(self.port, self.sid)
        expect = 0

        async def reader():
            nonlocal expect
            while True:
                try:
                    p = await b.read_data(timeout=30)
                except Exception as e:  # noqa: BLE001 - recorded, then fail
                    self.errors.append(f"reader: {e!r}")
                    return
                seq, t = struct.unpack("!Id", p[:12])
                if seq != expect:
                    self.errors.append(f"got seq {seq}, expected {expect}")
                    return
                expect += 1
                self.delays.append(time.monotonic() - t)

        rt = asyncio.ensure_future(reader())
        pad = b"x" * 1012
        while not self.stop:
            try:
                await asyncio.wait_for(a.send(struct.pack("!Id", self.sent, time.monotonic()) + pad), 30)
            except Exception as e:  # noqa: BLE001
                self.errors.append(f"writer: {e!r}")
                break
            self.sent += 1
            await asyncio.sleep(self.interval)
        deadline = time.monotonic() + 30
        while expect < self.sent and not rt.done() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if expect < self.sent:
            self.errors.append(f"reader stuck at {expect} of {self.sent}")
        rt.cancel()
        a.abort()
        b.abort()
        return expect

    def summary(self):
        d = sorted(self.delays)
        if not d:
            return "no messages"
        q = lambda p: d[min(len(d) - 1, int(p * len(d)))] * 1000  # noqa: E731
        return f"{len(d)} msgs, p50 {q(0.5):.1f} ms, p99 {q(0.99):.1f} ms, max {d[-1] * 1000:.1f} ms"

    def max_ms(self):
        return max(self.delays) * 1000 if self.delays else float("inf")
