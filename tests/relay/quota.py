#!/usr/bin/python3
"""Quotas of the real `atmosphere relay` binary, on loopback.

Standard library only: the clients are tests/attack/wsraw.py's raw ones
(zero mask key, so no Python loop touches the payload: a library client
that masks in Python is slower than the limits under test).

    quota.py BINARY session_rate|ip_rate|budget|budget_period|budget_restart|budget_bad_state

  session_rate   --session-rate 512K:128K: a client that ignores the limit
                 and blasts 2 MiB is held to the rate (delivered <= 1.5 x
                 rate x time + burst + one read batch, >= 0.5 x rate x time),
                 every byte arrives in order, the session stays open and
                 /metrics shows the throttling
  ip_rate        --ip-rate 512K:128K: two sessions whose senders share an
                 address share the rate (their sum obeys the same bounds,
                 where two separate rates would be twice as fast), while a
                 sender from another address is not slowed by them
  budget         --budget 256K/month: once the relayed bytes pass it, a new
                 session gets HTTP 503 and a log line, while the open
                 session still forwards; /metrics counts it
  budget_period  --budget 64K/3s: refused while used up, accepted again once
                 the period is over (periods on the epoch: the test starts
                 early in one)
  budget_restart --budget 256K/month --budget-start 31 --budget-state FILE:
                 /stats' quota period is the calendar's (checked against
                 Python's), the count is saved at exit and within ~10 s
                 while running, and a restarted relay goes on from it: 160
                 KiB before and 160 KiB after the restart use the budget up,
                 which neither half alone does
  budget_bad_state  a state file that is not the relay's, one cut short, or
                 one the relay cannot write: exit 1 before listening, the
                 path and the reason on stderr, the file left as it was

The bounds are ratios, generous on purpose: the machine is shared and
timing is noisy. Exit 0 pass, 1 fail.
"""
import asyncio
import calendar
import datetime
import hashlib
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
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
        # The gauge is a moment's: sample it a few times, off the event
        # loop (a blocking scrape would stop our reader, and the relay
        # then waits on the reader, not on the limit).
        mids = []
        for _ in range(5):
            mids.append(await asyncio.to_thread(metrics, relay))
            await asyncio.sleep(0.1)
        mid = max(mids, key=lambda x: x["atmosphere_relay_throttled_connections"])
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
    with Relay(binary, "--threads", "2", "--budget", "256K/month") as relay:
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


def stats(relay):
    with urllib.request.urlopen(f"http://127.0.0.1:{relay.port}/stats", timeout=5) as r:
        return json.loads(r.read())


async def case_budget_period(binary):
    with Relay(binary, "--threads", "1", "--budget", "64K/3s") as relay:
        # Periods are aligned on the epoch: start the test early in one.
        end = stats(relay)["quota"]["period_end_unix"]
        if end - time.time() < 2.5:
            await asyncio.sleep(max(0.0, end - time.time()) + 0.1)
            end = stats(relay)["quota"]["period_end_unix"]
        a, b = await pair(relay, "per1")
        await a.send(os.urandom(80 << 10))
        await b.read_data(10)
        status, _ = raw_upgrade_status(relay.port, "per2")
        if status != 503 and time.time() < end - 0.2:
            fail(f"a new session after the budget got {status}, want 503")
        deadline = time.monotonic() + 10
        while True:  # poll until the period is over, do not sleep blindly
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


def month_period(now, day):
    """The monthly budget period containing now (UNIX s) that begins on
    day `day` (the month's last day when it is shorter), 00:00 UTC."""
    def start(y, m):
        d = min(day, calendar.monthrange(y, m)[1])
        return int(datetime.datetime(y, m, d, tzinfo=datetime.timezone.utc).timestamp())
    t = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    y, m = t.year, t.month
    ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
    py, pm = (y - 1, 12) if m == 1 else (y, m - 1)
    s = start(y, m)
    return (s, start(ny, nm)) if now >= s else (start(py, pm), s)


def read_state(path):
    with open(path) as f:
        lines = f.read().splitlines()
    if not lines or lines[0] != "atmosphere-relay-budget 1":
        fail(f"{path}: not a budget state file: {lines[:1]}")
    return {k: int(v) for k, v in (ln.split(" ") for ln in lines[1:] if not ln.startswith("#"))}


async def relay_chunks(relay, sid, n):
    a, b = await pair(relay, sid)
    sender = asyncio.create_task(blast(a, sid, n))
    await receive(b, sid, n, 30)
    await sender
    await close(a, b)


async def case_budget_restart(binary):
    budget, n = 256 << 10, 10  # 10 chunks = 160 KiB: under the budget; twice that: over it
    with tempfile.TemporaryDirectory(prefix="atmos-budget-") as tmp:
        state = os.path.join(tmp, "budget")
        args = ("--threads", "2", "--budget", "256K/month", "--budget-start", "31", "--budget-state", state)
        with Relay(binary, *args, log_path=os.path.join(tmp, "run1.log")) as relay:
            q = stats(relay)["quota"]
            want = month_period(time.time(), 31)
            print(f"period {q['period_start']} .. {q['period_end']} (limit {q['limit']})")
            if (q["period_start_unix"], q["period_end_unix"]) != want:
                fail(f"/stats quota period {q['period_start_unix']}..{q['period_end_unix']}, want {want[0]}..{want[1]}")
            if q["limit"] != budget or q["used"] != 0:
                fail(f"/stats quota at start: {q}")
            if read_state(state)["used"] != 0:
                fail("the state file at start does not say 0 bytes")
            await relay_chunks(relay, "rs1", n)
            if relay.stop() != 0:
                fail("relay exit status not 0")
        saved = read_state(state)
        print(f"saved at exit: {saved}")
        if saved["used"] < n * CHUNK or (saved["period-start"], saved["period-end"]) != want:
            fail(f"the state saved at exit: {saved}, want used >= {n * CHUNK} in {want}")
        with Relay(binary, *args, log_path=os.path.join(tmp, "run2.log")) as relay:
            q = stats(relay)["quota"]
            if q["used"] != saved["used"]:
                fail(f"after the restart /stats says {q['used']} bytes used, the file {saved['used']}")
            await relay_chunks(relay, "rs2", n)
            # Saved while running, without a stop: within the ~10 s period.
            deadline = time.monotonic() + 25
            while read_state(state)["used"] < saved["used"] + n * CHUNK:
                if time.monotonic() > deadline:
                    fail(f"the state file was not updated within 25 s: {read_state(state)}")
                await asyncio.sleep(0.5)
            status, _ = raw_upgrade_status(relay.port, "rs3")
            if status != 503:
                fail(f"160 KiB before and 160 KiB after a restart should use up 256 KiB: a new session got {status}")
            m = metrics(relay)
            if m["atmosphere_relay_budget_period_end_seconds"] != want[1]:
                fail(f"/metrics period end {m['atmosphere_relay_budget_period_end_seconds']}, want {want[1]}")
            if relay.stop() != 0:
                fail("relay exit status not 0")
            if not any("already used this period" in ln for ln in relay.log_lines()):
                fail("no log line for the count carried over")
        print(f"carried over: {saved['used']} bytes; then refused past {budget}")


def run_refused(binary, *args):
    """The relay with args must exit 1 before it listens: its stderr."""
    p = subprocess.run([binary, "relay", "--port", "0", "--host", "127.0.0.1", *args],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    if b"listening" in p.stdout or p.returncode != 1:
        fail(f"relay {' '.join(args)}: exit {p.returncode}, want 1 before listening: {p.stdout!r:.200} {p.stderr!r:.300}")
    return p.stderr.decode(errors="replace")


async def case_budget_bad_state(binary):
    good = ("atmosphere-relay-budget 1\nperiod-start 1796083200\nperiod-end 1798761600\n"
            "used 5\nlimit 262144\n")
    cases = [
        ("foreign", b"{\"used\": 0}\n", "not a relay budget state file"),
        ("truncated", good.encode()[:-4], "line 5: cut short"),
        ("version", good.replace(" 1\n", " 2\n", 1).encode(), "another version"),
    ]
    with tempfile.TemporaryDirectory(prefix="atmos-budget-") as tmp:
        for name, content, why in cases:
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(content)
            err = run_refused(binary, "--budget", "256K/month", "--budget-state", path)
            print(f"{name}: {err.strip()}")
            if path not in err or why not in err:
                fail(f"{name}: stderr lacks the path '{path}' or '{why}': {err}")
            with open(path, "rb") as f:
                if f.read() != content:
                    fail(f"{name}: the refused file was changed")
        # A place the relay cannot write: refused at start, not at the
        # first save.
        path = os.path.join(tmp, "no-such-dir", "budget")
        err = run_refused(binary, "--budget", "256K/month", "--budget-state", path)
        print(f"unwritable: {err.strip()}")
        if path not in err or "cannot create" not in err:
            fail(f"unwritable: stderr lacks the path or the reason: {err}")


CASES = {
    "session_rate": case_session_rate,
    "ip_rate": case_ip_rate,
    "budget": case_budget,
    "budget_period": case_budget_period,
    "budget_restart": case_budget_restart,
    "budget_bad_state": case_budget_bad_state,
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
