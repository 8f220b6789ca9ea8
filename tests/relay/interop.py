#!/usr/bin/python3
"""Interop tests of the real `atmosphere relay` binary with Python clients.

Run with Debian's /usr/bin/python3 (python3-websockets, python3-aiohttp):

    interop.py BINARY websockets|aiohttp|mixed|sigterm

Each case starts `BINARY relay --port 0 --host 127.0.0.1`, reads the port
from its "relay listening on 127.0.0.1:PORT" line and drives it on loopback:

  websockets, aiohttp, mixed  the seed's RelayClient sequence (A and B connect
                              to /relay/<id>, A sends b"hello", B receives
                              b"hello"; the relay's paired text notice is
                              skipped), then text and binary messages of 0 B to
                              4 MiB both ways, byte-exact and type kept
  sigterm                     SIGTERM with two paired sessions and one waiting
                              client open: every client gets Close 1001 and
                              the process exits 0 within 10 s

Exit 0 pass, 1 fail, 77 skip (a client library is missing).
"""
import asyncio
import json
import os
import random
import signal
import sys
import time

SKIP = 77
SIZES = [0, 1, 125, 126, 65535, 65536, 4 << 20]
MAX = 8 << 20  # client-side message limit, above the 4 MiB messages


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from relay_proc import Relay  # noqa: E402


def paired_notice(sid):
    return {"type": "paired", "session": sid}


def text_payload(n, seed):
    """Valid UTF-8 of exactly n bytes, with 1- to 4-byte characters."""
    rnd = random.Random(seed)
    chars = ["a", "é", "€", "😀", " ", "Я", "✓"]
    out, size = [], 0
    while size < n:
        c = rnd.choice(chars)
        if size + len(c.encode()) > n:
            c = "q"
        out.append(c)
        size += len(c.encode())
    s = "".join(out)
    assert len(s.encode()) == n
    return s


def cases():
    for n in SIZES:
        yield os.urandom(n)
        yield text_payload(n, n)


# ---------------------------------------------------------------- clients
# Two adapters with the same four coroutines, so one script drives both
# libraries and a mixed pair.

class WebsocketsClient:
    lib = "websockets"

    async def connect(self, url):
        import websockets
        self.ws = await websockets.connect(url, max_size=MAX, open_timeout=10, compression=None)

    async def send(self, m):
        await self.ws.send(m)

    async def recv(self):
        return await asyncio.wait_for(self.ws.recv(), 30)

    async def close_code(self):
        """Waits for the relay's Close; returns its code."""
        import websockets
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), 15)
        except websockets.ConnectionClosed as e:
            return e.rcvd.code if e.rcvd else None

    async def close(self):
        await self.ws.close()


class AiohttpClient:
    lib = "aiohttp"

    async def connect(self, url):
        import aiohttp
        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(url, max_msg_size=MAX, timeout=10, compress=0)

    async def send(self, m):
        if isinstance(m, bytes):
            await self.ws.send_bytes(m)
        else:
            await self.ws.send_str(m)

    async def recv(self):
        import aiohttp
        msg = await asyncio.wait_for(self.ws.receive(), 30)
        if msg.type == aiohttp.WSMsgType.BINARY:
            return msg.data
        if msg.type == aiohttp.WSMsgType.TEXT:
            return msg.data
        raise AssertionError(f"aiohttp got {msg.type} {msg.data!r} {msg.extra!r}")

    async def close_code(self):
        import aiohttp
        while True:
            msg = await asyncio.wait_for(self.ws.receive(), 15)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED):
                return self.ws.close_code
            if msg.type == aiohttp.WSMsgType.ERROR:
                raise AssertionError(f"aiohttp error {msg.data!r}")

    async def close(self):
        await self.ws.close()
        await self.session.close()


LIBS = {"websockets": WebsocketsClient, "aiohttp": AiohttpClient}


async def recv_data(c):
    """The seed's receive: the next message, skipping the paired notice."""
    while True:
        m = await c.recv()
        if isinstance(m, str):
            try:
                if json.loads(m).get("type") == "paired":
                    continue
            except ValueError:
                pass
        return m


async def pair(relay, sid, ka, kb, expect_notice=True):
    a, b = ka(), kb()
    await a.connect(relay.url + sid)
    await b.connect(relay.url + sid)
    if expect_notice:
        for c in (a, b):
            m = await c.recv()
            assert isinstance(m, str), f"{c.lib}: first message {m!r:.80}"
            assert json.loads(m) == paired_notice(sid), f"{c.lib}: notice {m!r}"
    return a, b


async def relay_client_sequence(relay, ka, kb):
    """Exactly the seed's RelayClient use: connect A and B, A sends b"hello",
    B receives b"hello" (and back)."""
    sid = f"seed-{ka.lib}-{kb.lib}"
    a, b = ka(), kb()
    await a.connect(relay.url + sid)
    await b.connect(relay.url + sid)
    await a.send(b"hello")
    got = await recv_data(b)
    assert got == b"hello", f"B received {got!r}"
    await b.send(b"world")
    got = await recv_data(a)
    assert got == b"world", f"A received {got!r}"
    await a.close()
    assert await b.close_code() is not None, "B got no Close after A left"
    await b.close()


async def sizes(relay, ka, kb):
    a, b = await pair(relay, f"sizes-{ka.lib}-{kb.lib}", ka, kb)
    for m in cases():
        for src, dst in ((a, b), (b, a)):
            await src.send(m)
            got = await dst.recv()
            assert type(got) is type(m), f"{len(m)}: type {type(got)} for {type(m)}"
            assert got == m, f"{type(m).__name__} of {len(m)} bytes differs ({src.lib} -> {dst.lib})"
    await a.close()
    await b.close()


async def forward_case(binary, ka, kb):
    with Relay(binary) as relay:
        await relay_client_sequence(relay, ka, kb)
        await sizes(relay, ka, kb)


async def sigterm_case(binary):
    with Relay(binary) as relay:
        p1 = await pair(relay, "term1", WebsocketsClient, WebsocketsClient)
        p2 = await pair(relay, "term2", AiohttpClient, AiohttpClient)
        w = WebsocketsClient()
        await w.connect(relay.url + "term-wait")
        await p1[0].send(b"x")
        assert await p1[1].recv() == b"x"
        clients = [*p1, *p2, w]
        t0 = time.monotonic()
        relay.proc.send_signal(signal.SIGTERM)
        codes = await asyncio.gather(*(c.close_code() for c in clients))
        assert codes == [1001] * 5, f"close codes after SIGTERM: {codes}"
        rc = await asyncio.get_running_loop().run_in_executor(None, relay.proc.wait, 10)
        took = time.monotonic() - t0
        assert rc == 0, f"exit status {rc} after SIGTERM"
        assert took < 10, f"took {took:.1f} s to exit"
        for c in clients:
            await c.close()


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, case = sys.argv[1], sys.argv[2]
    try:
        import aiohttp  # noqa: F401
        import websockets  # noqa: F401
    except ImportError as e:
        print(f"skip: {e} (install python3-websockets and python3-aiohttp)", file=sys.stderr)
        return SKIP
    if case in LIBS:
        coro = forward_case(binary, LIBS[case], LIBS[case])
    elif case == "mixed":
        coro = forward_case(binary, WebsocketsClient, AiohttpClient)
    elif case == "sigterm":
        coro = sigterm_case(binary)
    else:
        print(f"unknown case {case!r}", file=sys.stderr)
        return 2
    try:
        asyncio.run(asyncio.wait_for(coro, 90))
    except (AssertionError, asyncio.TimeoutError) as e:
        print(f"FAIL {case}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"ok {case}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
