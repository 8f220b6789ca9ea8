#!/usr/bin/python3
"""Quotas of the real `atmosphere relay` binary, on loopback.

Standard library only: the clients are tests/attack/wsraw.py's raw ones
(zero mask key, so no Python loop touches the payload: a library client
that masks in Python is slower than the limits under test).

    quota.py BINARY session_rate|ip_rate|budget|budget_period

  session_rate   --session-rate 512K:128K: a client that ignores the limit
                 and blasts 2 MiB is held to the rate (delivered <= 1.5 x
                 rate x time + burst + one read batch, >= 0.5 x rate x time),
                 every byte arrives in order, the session stays open and
                 /metrics shows the throttling
  ip_rate        --ip-rate 512K:128K: two sessions whose senders share an
                 address share the rate (their sum obeys the same bounds,
                 where two separate rates would be twice as fast), while a
                 sender from another address is not slowed by them
  budget         --budget 256K/1h: once the relayed bytes pass it, a new
                 session gets HTTP 503 and a log line, while the open
                 session still forwards; /metrics counts it
  budget_period  --budget 64K/2s: refused while used up, accepted again once
                 the period is over

The bounds are ratios, generous on purpose: the machine is shared and
timing is noisy. Exit 0 pass, 1 fail.
"""
import asyncio
import hashlib
import os
import re
import socket
import struct
import sys
import time
import urllib.request

CHUNK = 16 << 10
BATCH = 64 << 10  # what the relay may read past an empty bucket (one read batch)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "attack"))
from wsraw import Conn, Relay  # noqa: E402


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def chunk(tag, i):
    """Message i of sender tag: CHUNK bytes derived from both, so the
    receiver can check each arrives whole and in order."""
    seed = hashlib.sha256(f"{tag}:{i}".encode()).digest()
    return (seed * (CHUNK // len(seed) + 1))[:CHUNK]


def metrics(relay):
    with urllib.request.urlopen(f"http://127.0.0.1:{relay.port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        m = re.fullmatch(r"(atmosphere_relay_[a-z_]+)(\{[^}]*\})? ([0-9.]+)", line)
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


async def pair(relay, sid, local=None):
    """A (the sender, from local) and B (the receiver, from 127.0.0.1),
    paired, notices read."""
    a, b = Conn(relay.port, sid, local), Conn(relay.port, sid)
    for c in (a, b):
        st = await c.connect(10)
        if st != 101:
            fail(f"{sid}: upgrade answered {st}")
    for c in (a, b):
        op, _, p = await c.read_frame(10)
        if op != 1 or b"paired" not in p:
            fail(f"{sid}: expected the paired notice, got {op} {p!r:.80}")
    return a, b


async def blast(c, tag, n):
    """Sends n chunks as fast as TCP takes them: it ignores every limit."""
    for i in range(n):
        await c.send(chunk(tag, i))


async def close(a, b):
    """A closes normally; both get the relay's Close 1000."""
    await a.send(struct.pack("!H", 1000), opcode=8)
    for c in (a, b):
        while True:
            op, _, p = await c.read_frame(10)
            if op == 8:
                break
        if p[:2] != struct.pack("!H", 1000):
            fail(f"{c.sid}: closed with {p[:2].hex()}, want 1000")
        c.abort()


async def receive(c, tag, n, deadline_s):
    """Receives n chunks, checks each; returns (first arrival, last arrival)."""
    first = None
    for i in range(n):
        m = await c.read_data(deadline_s)
        if first is None:
            first = time.monotonic()
        if m != chunk(tag, i):
            fail(f"{tag}: message {i} lost, reordered or altered ({len(m)} bytes)")
    return first, time.monotonic()


def check_rate(what, nbytes, secs, rate, burst):
    hi = 1.5 * rate * secs + burst + BATCH
    lo = 0.5 * rate * secs
    print(f"{what}: {nbytes} bytes in {secs:.2f} s = {nbytes / secs / 1024:.0f} KiB/s "
          f"(limit {rate / 1024:.0f} KiB/s, burst {burst / 1024:.0f} KiB; bounds {lo:.0f}..{hi:.0f} bytes)")
    if nbytes > hi:
        fail(f"{what}: {nbytes} bytes in {secs:.2f} s is over 1.5 x rate x time + burst ({hi:.0f})")
    if nbytes < lo:
        fail(f"{what}: {nbytes} bytes in {secs:.2f} s is under 0.5 x rate x time ({lo:.0f})")


async def still_open(a, b, tag):
    """The session was slowed, not closed: one more message gets through."""
    await a.send(b"still here " + tag.encode())
    m = await b.read_data(10)
    if m != b"still here " + tag.encode():
        fail(f"{tag}: after the blast the session did not forward: {m!r:.60}")


async def case_session_rate(binary):
    rate, burst, n = 512 << 10, 128 << 10, 128  # 2 MiB: about 4 s at the rate
    with Relay(binary, "--threads", "1", "--session-rate", "512K:128K") as relay:
        a, b = await pair(relay, "rate1")
        t0 = time.monotonic()
        sender = asyncio.create_task(blast(a, "rate1", n))
        recv = asyncio.create_task(receive(b, "rate1", n, 30))
        await asyncio.sleep(1.5)
        mid = metrics(relay)
        first, last = await recv
        await sender
        check_rate("session_rate", n * CHUNK, last - t0, rate, burst)
        await still_open(a, b, "rate1")
        m = metrics(relay)
        print(f"metrics: throttles {m['atmosphere_relay_throttles_total']:.0f}, "
              f"throttled {m['atmosphere_relay_throttled_seconds_total']:.2f} s, "
              f"throttled now (mid-run) {mid['atmosphere_relay_throttled_connections']:.0f}")
        if m["atmosphere_relay_throttles_total"] < 1 or m["atmosphere_relay_throttled_seconds_total"] <= 0:
            fail("/metrics shows no throttling")
        if mid["atmosphere_relay_throttled_connections"] < 1:
            fail("mid-run, /metrics showed no throttled connection")
        if m["atmosphere_relay_throttled_connections"] != 0:
            fail("a throttled connection is still counted after the blast")
        await close(a, b)
        if relay.stop() != 0:
            fail("relay exit status not 0")


async def case_ip_rate(binary):
    rate, burst, n = 512 << 10, 128 << 10, 64  # 2 x 1 MiB from one address
    with Relay(binary, "--threads", "2", "--ip-rate", "512K:128K") as relay:
        a1, b1 = await pair(relay, "ipA1", "127.0.0.1")
        a2, b2 = await pair(relay, "ipA2", "127.0.0.1")
        # A third sender from another address: its own bucket. The
        # receivers (127.0.0.1) send nothing, so they take no tokens.
        a3, b3 = await pair(relay, "ipB", "127.0.0.2")
        t0 = time.monotonic()
        tasks = [asyncio.create_task(blast(a, t, n)) for a, t in ((a1, "ipA1"), (a2, "ipA2"), (a3, "ipB"))]
        r1 = asyncio.create_task(receive(b1, "ipA1", n, 30))
        r2 = asyncio.create_task(receive(b2, "ipA2", n, 30))
        r3 = asyncio.create_task(receive(b3, "ipB", n, 30))
        (_, l1), (_, l2), (_, l3) = await asyncio.gather(r1, r2, r3)
        await asyncio.gather(*tasks)
        shared = max(l1, l2) - t0
        check_rate("ip_rate, two sessions of one address", 2 * n * CHUNK, shared, rate, burst)
        alone = l3 - t0
        check_rate("ip_rate, one session of another address", n * CHUNK, alone, rate, burst)
        if alone > 0.85 * shared:
            fail(f"the other address took {alone:.2f} s, about as long as the shared pair ({shared:.2f} s)")
        for a, b, t in ((a1, b1, "ipA1"), (a2, b2, "ipA2"), (a3, b3, "ipB")):
            await still_open(a, b, t)
            await close(a, b)
        if relay.stop() != 0:
            fail("relay exit status not 0")


def raw_upgrade_status(port, sid):
    """The HTTP status of a WebSocket upgrade request for sid."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET /relay/{sid} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                  "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n" not in head:
            got = s.recv(4096)
            if not got:
                break
            head += got
    m = re.match(rb"HTTP/1\.1 (\d{3}) ", head)
    if not m:
        fail(f"no HTTP status line in {head!r:.80}")
    return int(m.group(1)), head


async def case_budget(binary):
    with Relay(binary, "--threads", "2", "--budget", "256K/1h") as relay:
        a, b = await pair(relay, "bud1")
        n = 20  # 320 KiB: past the budget
        sender = asyncio.create_task(blast(a, "bud1", n))
        await receive(b, "bud1", n, 30)
        await sender
        status, head = raw_upgrade_status(relay.port, "bud2")
        if status != 503:
            fail(f"a new session after the budget got {status}, want 503: {head!r:.120}")
        if b"budget" not in head:
            fail(f"the 503 does not say why: {head!r:.200}")
        # The open session goes on.
        await still_open(a, b, "bud1")
        m = metrics(relay)
        print(f"metrics: budget {m['atmosphere_relay_budget_bytes']:.0f}, "
              f"used {m['atmosphere_relay_budget_used_bytes']:.0f}, "
              f"remaining {m['atmosphere_relay_budget_remaining_bytes']:.0f}, "
              f"refused {m['atmosphere_relay_budget_refused_total']:.0f}")
        if m["atmosphere_relay_budget_refused_total"] < 1 or m["atmosphere_relay_budget_remaining_bytes"] != 0:
            fail("/metrics does not show the used-up budget")
        if m["atmosphere_relay_budget_used_bytes"] < n * CHUNK:
            fail("/metrics budget_used_bytes is below what was relayed")
        await close(a, b)
        if relay.stop() != 0:
            fail("relay exit status not 0")
        if not any("byte budget used up" in ln for ln in relay.log_lines()):
            fail("no log line for the used-up budget")


async def case_budget_period(binary):
    with Relay(binary, "--threads", "1", "--budget", "64K/2s") as relay:
        a, b = await pair(relay, "per1")
        start = time.monotonic()
        await a.send(os.urandom(80 << 10))
        await b.read_data(10)
        status, _ = raw_upgrade_status(relay.port, "per2")
        if status != 503 and time.monotonic() - start < 1.5:
            fail(f"a new session after the budget got {status}, want 503")
        deadline = time.monotonic() + 10
        while True:  # the period is 2 s from the relay's start: poll, do not sleep blindly
            await asyncio.sleep(0.2)
            c = Conn(relay.port, "per3")
            st = await c.connect(5)
            c.abort()
            if st == 101:
                break
            if st != 503 or time.monotonic() > deadline:
                fail(f"a new session got {st}: want 503 and, once the period is over, 101")
        await close(a, b)
        if relay.stop() != 0:
            fail("relay exit status not 0")
        if not any("new byte budget period" in ln for ln in relay.log_lines()):
            fail("no log line for the new budget period")


CASES = {
    "session_rate": case_session_rate,
    "ip_rate": case_ip_rate,
    "budget": case_budget,
    "budget_period": case_budget_period,
}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in CASES:
        print(__doc__)
        return 2
    asyncio.run(CASES[sys.argv[2]](sys.argv[1]))
    print(f"ok {sys.argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
