#!/usr/bin/python3
"""Adversarial tests of the real `atmosphere relay` binary, on loopback.

    attack.py BINARY CASE [relay options...]

Each case starts the relay (port 0, 127.0.0.1, the given options), keeps a
legitimate paired session forwarding while it attacks from several loopback
source addresses (127.1.x.y), and asserts that the legitimate traffic kept
flowing with bounded delay and lost nothing, that new sessions kept
pairing, and that the relay's descriptors and connections returned to their
baseline within seconds after the attack. Every loop is bounded in count
and time; the relay is stopped on exit.

Cases:
  held_flood     1,000 clients from 4 addresses open sessions that never
                 pair and each send 1.2 MB (more than --hold), then close.
  stalled_pairs  500 pairs from 4 addresses: one side of each writes as fast
                 as it can, the other never reads (the relay's sends block).
  slowloris      20,000 connections from 80 addresses send half a request
                 head and wait: past the relay's descriptor limit.
  heads          request heads at and over the 8 KiB limit, whole and in
                 pieces; 409's reason phrase; refusals logged.
  fragments      a message over --max-message in three fragments (run with
                 --max-message 100000): what the peer receives.
  burst          (run with --max-handshakes 8) 16 silent connections, then
                 300 complete requests at once: the silent ones are shed,
                 every request is answered.

Exit 0 pass, 1 fail, 77 skip.
"""
import asyncio
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import wsraw  # noqa: E402

SKIP = 77
# Delay bounds are multiplied by this (sanitizer builds run slower).
SCALE = float(os.environ.get("ATMOS_ATTACK_SCALE", "1"))
# Under AddressSanitizer freed memory sits in quarantine: RSS says little.
SANITIZED = os.environ.get("ATMOS_SANITIZED") == "1"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


async def wait_for(pred, timeout, what):
    """Polls the async predicate pred until it holds; fails after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            ok, last = await pred()
        except asyncio.TimeoutError:
            # One slow answer (a /stats request while the relay closes
            # 1,000 connections on a busy machine) is "not yet", not the
            # verdict: the deadline is.
            ok, last = False, "no answer within its own timeout"
        if ok:
            return last
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout} s (last: {last})")


async def pairer(port, tag, results, stop, interval=0.25):
    """Pairs a new session every interval while the attack runs; records
    each pairing's time (or the failure), then closes it."""
    i = 0
    while not stop.is_set():
        t0 = time.monotonic()
        a = b = None
        try:
            # Scaled with the bounds checked on these times, so a slow but
            # in-bound pair under the sanitizers is not counted a failure.
            a, b = await wsraw.legit_pair(port, f"{tag}-{i}", timeout=3.0 * SCALE)
            await a.send(b"ping")
            p = await b.read_data(timeout=3.0 * SCALE)
            assert p == b"ping", p
            results.append(time.monotonic() - t0)
        except Exception as e:  # noqa: BLE001 - every failure is a finding
            results.append(e)
        finally:
            for c in (a, b):
                if c:
                    c.abort()
        i += 1
        await asyncio.sleep(interval)


async def health_prober(port, results, stop, interval=0.25):
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            st, _ = await wsraw.http_get(port, "/health", timeout=3.0 * SCALE)
            results.append(time.monotonic() - t0 if st == 200 else AssertionError(f"status {st}"))
        except Exception as e:  # noqa: BLE001
            results.append(e)
        await asyncio.sleep(interval)


def hand_over_all(w):
    """Makes w's drain() return only once the transport gave everything
    written to the kernel (write buffer limits 0), for handed_over."""
    w.transport.set_write_buffer_limits(high=0)


async def handed_over(w, stop):
    """Waits until the transport gave everything written to the kernel
    (w set up with hand_over_all); False when stop came first or the
    connection broke. It waits on drain(), which the transport wakes:
    polling the buffer every 20 ms, as this did, cost 1,000 flooders
    50,000 wake-ups a second in the probes' event loop, on the relay's
    two cores (0.3 s of CPU per second, loop stalls of 0.5-1.1 s at load
    5 here, counted as the relay's delay)."""
    if w.transport.get_write_buffer_size() == 0:
        return not w.transport.is_closing()
    drain = asyncio.ensure_future(w.drain())
    stopped = asyncio.ensure_future(stop.wait())
    await asyncio.wait({drain, stopped}, return_when=asyncio.FIRST_COMPLETED)
    stopped.cancel()
    if not drain.done():
        drain.cancel()
        return False
    if drain.cancelled() or drain.exception():
        return False
    return not w.transport.is_closing()


async def flooder(port, i, size, stop, conns):
    """One attacker: opens an unpaired session and writes size bytes of one
    binary message into it, as fast as TCP lets it, until done or stop."""
    c = wsraw.Conn(port, f"flood-{os.getpid()}-{i}", src=wsraw.src_addr(i % 4))
    try:
        if await c.connect(timeout=10) != 101:
            return 0
    except Exception:  # noqa: BLE001 - a refused attacker is fine
        c.abort()
        return 0
    conns.append(c)
    hand_over_all(c.w)
    c.w.write(wsraw.frame(b"", length=size))
    chunk = b"\xa5" * 65536
    sent = 0
    while sent < size and not stop.is_set():
        n = min(len(chunk), size - sent)
        c.w.write(chunk[:n])
        # The next chunk only once the kernel took this one (TCP pushes back
        # when the relay stops reading us): never more than the frame said.
        if not await handed_over(c.w, stop):
            break
        sent += n
    return sent


def check_probe(probe, p99_ms, max_ms):
    """The legitimate session lost nothing (every message, in order), 99 in
    100 messages within p99_ms and all within max_ms. The delays include
    the attacker's own load: it runs on the same two cores (the probe runs
    in a process of its own, see Probes)."""
    log(f"legit session: {probe.summary()}, sent {probe.sent}")
    assert not probe.errors, f"legit session failed: {probe.errors[:3]}"
    assert probe.delays, "legit session delivered nothing"
    d = sorted(probe.delays)
    p99 = d[min(len(d) - 1, int(0.99 * len(d)))] * 1000
    assert p99 < p99_ms, f"legit p99 delay {p99:.0f} ms over {p99_ms} ms"
    assert probe.max_ms() < max_ms, f"legit delay {probe.max_ms():.0f} ms over {max_ms} ms"


def check_series(name, results, max_s, p90_s=None):
    """Every try succeeded, the worst within max_s, and (when given) nine in
    ten within p90_s."""
    fails = [r for r in results if isinstance(r, Exception)]
    times = sorted(r for r in results if not isinstance(r, Exception))
    p90 = times[int(0.9 * (len(times) - 1))] if times else 0
    log(f"{name}: {len(times)} ok, {len(fails)} failed, p90 {p90 * 1000:.0f} ms, "
        f"worst {times[-1] * 1000 if times else 0:.0f} ms")
    assert not fails, f"{name}: {len(fails)} of {len(results)} failed, first: {fails[0]!r}"
    assert times, f"{name}: none tried"
    assert times[-1] < max_s, f"{name}: worst {times[-1]:.2f} s over {max_s} s"
    assert p90_s is None or p90 < p90_s, f"{name}: p90 {p90:.2f} s over {p90_s} s"


async def rss_returns(relay, base_rss, under_kib):
    """The relay's RSS comes back near its baseline (it trims its heap and
    its free ring buffers every 5 s once a crowd has gone)."""
    if SANITIZED:
        return
    async def back():
        r = relay.rss_kib()
        return r <= base_rss + 12 * 1024, r
    after = await wait_for(back, 12 * SCALE, "RSS back near its baseline")
    log(f"after: RSS {after} KiB (baseline {base_rss} KiB, {under_kib} KiB under attack)")


async def recovered(relay, base_fds, t_close, probes):
    """After the attacker left (at t_close): its connections and the relay's
    descriptors are back within seconds, the legitimate session lost
    nothing and kept a bounded delay, pairing and /health kept answering."""
    async def drained():
        st = await wsraw.stats(relay.port)
        # the probe's two clients and this /stats request
        return st["connections"] <= 3, st["connections"]
    await wait_for(drained, 5 * SCALE, "attacker connections closed")
    log(f"attacker connections gone after {time.monotonic() - t_close:.1f} s")

    async def fds_back():
        n = relay.num_fds()
        return n <= base_fds + 4, n
    await wait_for(fds_back, 5 * SCALE, "descriptors back to baseline")
    check_probe(probes.probe, 1000 * SCALE, 3000 * SCALE)
    check_series("new pairs", probes.pairs, 2.0 * SCALE)
    check_series("/health", probes.healths, 2.0 * SCALE)
    assert relay.alive(), "relay died"


class Probes:
    """The legitimate traffic every attack runs beside, in a process of its
    own: a paired session sending every 20 ms, new pairs every 250 ms,
    /health polled. In the attacker's process its timings would include
    that event loop's own stalls (0.2-0.3 s while it sets up 1,000
    connections), counted as the relay's delay.

    stop() ends the probes and fills probe (delays, sent, errors), pairs
    and healths (seconds, or an error string) from the worker's report."""

    @classmethod
    async def start(cls, port):
        self = cls()
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, os.path.abspath(__file__), "--probe-worker", str(port), f"{os.getpid()}",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        line = await asyncio.wait_for(self.proc.stdout.readline(), 10 * SCALE)
        assert line.strip() == b"ready", f"probe worker did not start: {line!r}"
        return self

    async def stop(self):
        self.proc.stdin.write(b"stop\n")
        await self.proc.stdin.drain()
        out = await asyncio.wait_for(self.proc.stdout.read(), 60 * SCALE)
        await self.proc.wait()
        assert self.proc.returncode == 0, f"probe worker exited {self.proc.returncode}"
        r = json.loads(out)
        self.probe = wsraw.EchoProbe(0, "")
        self.probe.delays, self.probe.sent, self.probe.errors = r["delays"], r["sent"], r["errors"]
        as_result = lambda x: AssertionError(x) if isinstance(x, str) else x  # noqa: E731
        self.pairs = [as_result(x) for x in r["pairs"]]
        self.healths = [as_result(x) for x in r["healths"]]


async def probe_worker(port, tag):
    """The body of Probes' process: runs until "stop" on stdin, then prints
    its results as one JSON object."""
    probe = wsraw.EchoProbe(port, f"legit-{tag}")
    probe_task = asyncio.ensure_future(probe.run())
    await asyncio.sleep(0.5)
    stop = asyncio.Event()
    pairs, healths = [], []
    side = [asyncio.ensure_future(pairer(port, f"new-{tag}", pairs, stop)),
            asyncio.ensure_future(health_prober(port, healths, stop))]
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    stop.set()
    await asyncio.gather(*side)
    probe.stop = True
    try:
        await probe_task
    except Exception as e:  # noqa: BLE001 - the pair itself failed
        probe.errors.append(f"probe: {e!r}")
    as_json = lambda x: repr(x) if isinstance(x, Exception) else x  # noqa: E731
    print(json.dumps({"delays": probe.delays, "sent": probe.sent, "errors": probe.errors,
                      "pairs": [as_json(x) for x in pairs], "healths": [as_json(x) for x in healths]}),
          flush=True)


async def launch(make, num, wave):
    """Starts make(i) for i < num in waves of `wave`, 50 ms apart, so the
    listen backlog is not the limit. Returns the tasks."""
    tasks = []
    for i in range(num):
        tasks.append(asyncio.ensure_future(make(i)))
        if i % wave == wave - 1:
            await asyncio.sleep(0.05)
    return tasks


async def held_flood(relay, num=1000, size=1_200_000, attack_s=12.0):
    port = relay.port
    base_fds = relay.num_fds()
    base_rss = relay.rss_kib()
    log(f"baseline: {base_fds} fds, RSS {base_rss} KiB")

    probes = await Probes.start(port)
    stop = asyncio.Event()
    conns = []
    t0 = time.monotonic()
    floods = await launch(lambda i: flooder(port, i, size, stop, conns), num, 50)
    await asyncio.sleep(max(0.0, attack_s - (time.monotonic() - t0)))
    s = await wsraw.stats(port)
    rss_under = relay.rss_kib()
    log(f"under attack: {len(conns)} attackers connected, relay has {s['connections']} connections, "
        f"{s['waiting_sessions']} waiting, {relay.num_fds()} fds, RSS {rss_under} KiB, "
        f"held {s['held_bytes'] >> 20} MiB")
    # All holds together stay within --hold-total, plus at most one receive
    # batch (4 x 16 KiB and headers) per session appended before its pause.
    bound = relay.opt_size("--hold-total", 256 << 20) + s["waiting_sessions"] * (66 << 10)
    assert s["held_bytes"] <= bound, f"held {s['held_bytes']} bytes, over {bound}"
    stop.set()
    sent = await asyncio.gather(*floods)
    log(f"attackers wrote {sum(sent) / 1e6:.0f} MB ({sum(1 for x in sent if x >= size)} finished)")
    await probes.stop()
    # The attacker leaves as a process that exits does: every socket closed
    # at once, with data still unread on the relay's side and, for those
    # cut off mid-write, unsent on ours. (StreamWriter.close() would not
    # do: it closes the socket only once its write buffer drains, which
    # never happens while the relay does not read us. abort() closes it now
    # and drops the buffer; what the kernel already took stays queued in
    # front of the FIN, as after an exit.)
    t_close = time.monotonic()
    for c in conns:
        c.abort()
    assert len(conns) >= num * 0.9, f"only {len(conns)} of {num} attackers got in"

    await recovered(relay, base_fds, t_close, probes)
    # Still serving after the attack: a new pair, at once.
    a, b = await wsraw.legit_pair(port, f"after-{os.getpid()}")
    await a.send(b"after")
    assert await b.read_data() == b"after"
    a.abort()
    b.abort()
    held = (await wsraw.stats(port))["held_bytes"]
    assert held == 0, f"{held} bytes still held after every waiting client left"
    await rss_returns(relay, base_rss, rss_under)
    assert relay.alive(), "relay died"


async def staller(port, i, stop, conns, results):
    """One attacker pair: A writes as fast as TCP lets it, B never reads.
    The relay's send to B blocks; what it holds meanwhile is the point."""
    sid = f"stall-{os.getpid()}-{i}"
    a = wsraw.Conn(port, sid, src=wsraw.src_addr(2 * i % 4))
    # B's kernel receive buffer is small, so the relay's sends block early.
    b = wsraw.Conn(port, sid, src=wsraw.src_addr((2 * i + 1) % 4), rcvbuf=4096)
    try:
        if await a.connect(timeout=10) != 101 or await b.connect(timeout=10) != 101:
            return 0
    except Exception:  # noqa: BLE001
        a.abort()
        b.abort()
        return 0
    conns += [a, b]
    hand_over_all(a.w)
    chunk = wsraw.frame(b"\x5a" * 16000)
    sent = 0
    while not stop.is_set():
        a.w.write(chunk)
        if not await handed_over(a.w, stop):
            break
        sent += len(chunk)
    results.append(sent)
    return sent


async def stalled_pairs(relay, num=500, attack_s=12.0):
    """500 pairs from 4 addresses: one side writes, the other never reads.
    Each stalled sender must not keep ring buffers the rest need."""
    port = relay.port
    base_fds, base_rss = relay.num_fds(), relay.rss_kib()
    probes = await Probes.start(port)
    stop = asyncio.Event()
    conns, sent = [], []
    t0 = time.monotonic()
    tasks = await launch(lambda i: staller(port, i, stop, conns, sent), num, 25)
    await asyncio.sleep(max(0.0, attack_s - (time.monotonic() - t0)))
    s = await wsraw.stats(port)
    rss_under = relay.rss_kib()
    log(f"under attack: {len(conns)} attacker connections, relay has {s['connections']} connections, "
        f"{s['active_sessions']} active, {relay.num_fds()} fds, RSS {rss_under} KiB")
    stop.set()
    await asyncio.gather(*tasks)
    await probes.stop()
    log(f"attackers wrote {sum(sent) / 1e6:.0f} MB")
    t_close = time.monotonic()
    for c in conns:
        c.abort()
    assert len(conns) >= 2 * num * 0.9, f"only {len(conns)} of {2 * num} attacker connections got in"

    await recovered(relay, base_fds, t_close, probes)
    await rss_returns(relay, base_rss, rss_under)


def slowloris_worker(port, first, count, hold_s):
    """A subprocess: count connections from addresses first/250.., each
    sending half a request head, held for hold_s, then closed. Prints how
    many connected. (A process has at most 20,000 descriptors here, so two
    of these make the 20,000.)"""
    import selectors
    import socket as so
    socks = []
    for i in range(first, first + count):
        s = so.socket(so.AF_INET, so.SOCK_STREAM)
        s.setblocking(False)
        s.bind((wsraw.src_addr(i // 250), 0))
        s.connect_ex(("127.0.0.1", port))
        socks.append(s)
    deadline = time.monotonic() + 15
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_WRITE)
    pending = len(socks)
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(0.2):
            sel.unregister(key.fileobj)
            pending -= 1
            try:
                key.fileobj.send(b"GET /relay/slow HTTP/1.1\r\nHost: a\r\n")
            except OSError:
                pass
    print(len(socks) - pending, flush=True)
    time.sleep(hold_s)
    for s in socks:
        s.close()


async def slowloris(relay, num=20000, hold_s=8.0):
    """20,000 connections from 80 addresses (250 each, under the per-address
    cap) that send half a request head and stop: more than the descriptor
    limit leaves room for. The relay sheds the oldest handshakes; a
    legitimate pair still pairs within 1 s and the log stays short."""
    port = relay.port
    base_fds, base_rss = relay.num_fds(), relay.rss_kib()
    stop = asyncio.Event()
    pairs, healths = [], []
    side = [asyncio.ensure_future(pairer(port, f"new-{os.getpid()}", pairs, stop)),
            asyncio.ensure_future(health_prober(port, healths, stop))]
    t0 = time.monotonic()
    half = num // 2
    workers = [await asyncio.create_subprocess_exec(
        sys.executable, os.path.abspath(__file__), "--slowloris-worker", str(port), str(k * half), str(half),
        str(hold_s), stdout=asyncio.subprocess.PIPE) for k in range(2)]
    peak = (0, 0, 0)
    samples = []  # (handshakes, RSS KiB) of each /stats sample
    while time.monotonic() - t0 < hold_s:
        await asyncio.sleep(1)
        # A sample, not a check (the pairer and the /health prober time the
        # relay, with their bounds below): during the connect burst this
        # request waits in the listen queue behind thousands of the
        # attacker's (1.8 s measured at load 3 on 2 cores), past
        # http_get's 2 s default, and a bare TimeoutError here failed the
        # test before any property was checked.
        # The request can also be shed or refused like the attacker's (it
        # is one more connection at the limit; seen under ASan): skip the
        # sample then.
        try:
            s = await wsraw.stats(port, timeout=10 * SCALE)
        except (OSError, asyncio.TimeoutError) as e:
            log(f"/stats sample under attack failed: {e!r}")
            continue
        rss = relay.rss_kib()
        samples.append((s["handshakes"], rss))
        if s["handshakes"] > peak[0]:
            peak = (s["handshakes"], rss, relay.num_fds())

    async def answered():
        try:
            return True, await wsraw.stats(port, timeout=5 * SCALE)
        except (OSError, asyncio.TimeoutError) as e:
            return False, repr(e)
    s = await wait_for(answered, 10 * SCALE, "/stats answered after the attack")
    per = (peak[1] - base_rss) * 1024 / max(1, peak[0])
    # The cost of one half-open connection: the least RSS per handshake
    # among the samples with at least half the peak's handshakes. A sample
    # right after a wave of shedding (thousands closed, their heap freed
    # but not yet trimmed) counts memory no open connection holds: 3.3 KiB
    # per connection at the peak in most runs, 4.2 KiB in one of 16.
    per_min = min(((r - base_rss) * 1024 / h for h, r in samples if h >= peak[0] / 2), default=per)
    log(f"under attack: at most {peak[0]} handshakes at once ({peak[2]} fds, RSS {peak[1]} KiB, baseline "
        f"{base_rss}: {per:.0f} bytes each, {per_min:.0f} at the least); {s['rejected']['shed']} shed; limits "
        f"{s['max_connections']} connections, {s['max_handshakes']} handshakes")
    stop.set()
    await asyncio.gather(*side)
    got = [int((await w.stdout.readline()) or 0) for w in workers]
    log(f"attackers connected {sum(got)} sockets")
    await asyncio.gather(*(w.wait() for w in workers))
    t_end = time.monotonic()

    async def drained():
        st = await wsraw.stats(port)
        return st["connections"] <= 1 and relay.num_fds() <= base_fds + 4, (st["connections"], relay.num_fds())
    await wait_for(drained, 10 * SCALE, "attacker connections closed")
    log(f"connections and descriptors back {time.monotonic() - t_end:.1f} s after the attackers left")
    # A legit pair pairs within 1 s (nine in ten; the worst within 3 s: the
    # attacker's 20,000 connects share the listen queue and both cores).
    # The burst overflows the kernel's accept queue (somaxconn 4,096 per
    # listener here; TcpExtListenOverflows 2,256 in one run at load 1), and
    # a legit SYN dropped there is retried only after TCP's initial 1 s
    # RTO (RFC 6298 2.1): worst pairs of 2.4-2.6 s at load 1 were that
    # second plus the burst, with nine in ten still within 5 ms. Two drops
    # (1 + 2 s) still fail this, as they should.
    check_series("new pairs", pairs, 3.0 * SCALE, p90_s=1.0 * SCALE)
    check_series("/health", healths, 3.0 * SCALE, p90_s=1.0 * SCALE)
    assert sum(got) >= num * 0.95, f"the attack itself fell short: {sum(got)} of {num} connected"
    assert s["rejected"]["shed"] > 0, "nothing was shed: the attack did not reach the limit"
    # --max-handshakes holds: heads being read, counting those shed but
    # not yet closed, stay within it but for a few per reactor (each
    # accept that sheds lets the shed one close before the next).
    over = s["max_handshakes"] + 64
    assert peak[0] <= over, f"{peak[0]} handshakes at once, over --max-handshakes {s['max_handshakes']} (+64)"
    noisy = [ln for ln in relay.log_lines() if "refused" in ln or "shed" in ln or "accept" in ln]
    secs = time.monotonic() - t0
    log(f"log: {len(noisy)} lines about refused or shed connections in {secs:.0f} s")
    assert len(noisy) <= 12 * (secs + 1), f"{len(noisy)} log lines in {secs:.0f} s: not rate-limited"
    await rss_returns(relay, base_rss, peak[1])
    if not SANITIZED:
        assert per_min < 4096, f"{per_min:.0f} bytes of RSS per half-open connection"
    assert relay.alive(), "relay died"


async def raw_request(port, data, timeout=5.0, pieces=1):
    """Sends data (in pieces) on a new connection; returns the status line."""
    r, w = await asyncio.open_connection("127.0.0.1", port)
    step = max(1, len(data) // pieces)
    for i in range(0, len(data), step):
        w.write(data[i:i + step])
        await w.drain()
    line = await asyncio.wait_for(r.readline(), timeout)
    w.close()
    return line.decode(errors="replace").strip()


async def heads(relay):
    """Request heads at and around the 8 KiB limit, in every shape, sent
    whole or in pieces: under the limit they are served, over it 431; and
    every refusal carries its reason phrase (409 Conflict) and leaves a log
    line with the client's address."""
    port = relay.port
    up = ("Upgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")

    def pad_to(total, start, end="\r\n"):
        fill = total - len(start) - len("X-Pad: ") - len("\r\n") - len(end)
        return (start + "X-Pad: " + "a" * fill + "\r\n" + end).encode()

    def many_to(total, start):
        lines, size = [], len(start) + 2
        while size + 200 + 2 <= total and len(lines) < 30:
            lines.append(f"X-{len(lines):02d}: " + "b" * (200 - 7 - 2) + "\r\n")
            size += 200
        last = total - size - len("X-Last: ") - 2
        lines.append("X-Last: " + "c" * last + "\r\n")
        return (start + "".join(lines) + "\r\n").encode()

    cases = []
    for total in (8000, 8192):
        cases.append((f"/health, one long field, {total} B", pad_to(total, "GET /health HTTP/1.1\r\nHost: x\r\n"), "200"))
        cases.append((f"/health, 31 fields, {total} B", many_to(total, "GET /health HTTP/1.1\r\nHost: x\r\n"), "200"))
        cases.append((f"upgrade, {total} B", pad_to(total, f"GET /relay/h{total} HTTP/1.1\r\nHost: x\r\n{up}"), "101"))
        cases.append((f"/health, long target, {total} B",
                      f"GET /health?{'q' * (total - 40)} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), None))
    cases.append(("/health, 8193 B", pad_to(8193, "GET /health HTTP/1.1\r\nHost: x\r\n"), "431"))
    for name, data, want in cases:
        if want is None:  # padding the target to exactly `total`
            extra = int(name.rsplit(" ", 2)[1]) - len(data)
            data = data.replace(b"?", b"?" + b"q" * extra, 1)
            want = "200"
        for pieces in (1, 7, 64):
            line = await raw_request(port, data, pieces=pieces)
            assert line.split(" ", 2)[1] == want, f"{name} ({len(data)} bytes in {pieces} pieces): {line!r}"
        log(f"{name}: {len(data)} bytes, whole and in 7 and 64 pieces: {want}")
    # 409 with its reason phrase, and a log line naming the address.
    a, b = await wsraw.legit_pair(port, "full")
    r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=("127.1.9.9", 0))
    w.write(b"GET /relay/full HTTP/1.1\r\nHost: x\r\n" + up.encode() + b"\r\n")
    line = (await asyncio.wait_for(r.readline(), 5)).decode().strip()
    assert line == "HTTP/1.1 409 Conflict", line
    w.close()
    a.abort()
    b.abort()
    await asyncio.sleep(0.3)
    logs = relay.log_lines()
    assert any("refused 127.1.9.9: 409 Conflict" in ln for ln in logs), "no log line for the 409"
    assert any("refused 127.0.0.1: 431" in ln for ln in logs), "no log line for the 431"
    log("409 Conflict with its reason; 409 and 431 logged with the address")


async def fragments(relay):
    """A message over --max-message (100,000 here) sent as three 40,000-byte
    fragments: the relay streams fragments as they come, so the first two
    reach the peer; the third's header is where the total passes the limit:
    the sender gets Close 1009, the peer the two fragments (no FIN) and then
    Close 1001. Nothing past the limit is forwarded."""
    port = relay.port
    a, b = await wsraw.legit_pair(port, "frag")
    chunk = b"\x11" * 40000
    a.w.write(wsraw.frame(chunk, opcode=2, fin=False) + wsraw.frame(chunk, opcode=0, fin=False)
              + wsraw.frame(chunk, opcode=0, fin=True))
    await a.w.drain()
    op, _, p = await a.read_frame()
    assert op == 8 and int.from_bytes(p[:2], "big") == 1009, (op, p)
    got = []
    while True:
        op, fin, p = await b.read_frame()
        if op == 8:
            code = int.from_bytes(p[:2], "big")
            break
        got.append((op, fin, len(p)))
    assert got == [(2, False, 40000), (0, False, 40000)], got
    assert code == 1001, code
    log(f"over --max-message: sender Close 1009; peer got {got} then Close {code}")
    a.abort()
    b.abort()


def burst_worker(port, silent, num):
    """Blocking, in a thread: silent connections that never send, then num
    connections that each send a whole GET /health at once, all before
    any answer is read. Returns (answers, failures) of the num."""
    import socket as so
    quiet = [so.create_connection(("127.0.0.1", port)) for _ in range(silent)]
    time.sleep(0.5)  # well past their first read: the oldest, and silent
    socks = []
    for _ in range(num):
        s = so.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
        socks.append(s)
    answers, fails = 0, []
    for s in socks:
        s.settimeout(10 * SCALE)
        try:
            d = s.recv(64)
            if d.startswith(b"HTTP/1.1 200"):
                answers += 1
            else:
                fails.append(d[:40] or b"closed unanswered")
        except OSError as e:
            fails.append(repr(e))
        s.close()
    for s in quiet:
        s.close()
    return answers, fails


async def burst(relay, silent=16, num=300):
    """More complete requests at once than --max-handshakes (8): the accept
    loop runs ahead of the handshakes' first reads, and must not shed a
    client whose whole head is already waiting; the silent connections,
    which have had their chance to read, are the ones to go. (Before the
    relay waited for young handshakes' first reads, 2-4 of 300 were reset
    in every run.)"""
    st = await wsraw.stats(relay.port)
    assert st["max_handshakes"] == 8, f"run with --max-handshakes 8, not {st['max_handshakes']}"
    answers, fails = await asyncio.to_thread(burst_worker, relay.port, silent, num)
    st = await wsraw.stats(relay.port)
    log(f"burst: {answers} of {num} requests answered; {st['rejected']['shed']} handshakes shed")
    assert not fails, f"{len(fails)} of {num} complete requests not answered, first: {fails[0]!r}"
    assert st["rejected"]["shed"] >= silent, \
        f"only {st['rejected']['shed']} shed: the burst did not reach --max-handshakes past the {silent} silent ones"
    assert relay.alive(), "relay died"


CASES = {"held_flood": held_flood, "stalled_pairs": stalled_pairs, "slowloris": slowloris, "heads": heads,
         "fragments": fragments, "burst": burst}


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--probe-worker":
        asyncio.run(probe_worker(int(sys.argv[2]), sys.argv[3]))
        return 0
    if len(sys.argv) == 6 and sys.argv[1] == "--slowloris-worker":
        slowloris_worker(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]))
        return 0
    if len(sys.argv) < 3 or sys.argv[2] not in CASES:
        print(__doc__, file=sys.stderr)
        return 2
    binary, case, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
    with wsraw.Relay(binary, *extra) as relay:
        try:
            asyncio.run(asyncio.wait_for(CASES[case](relay), 150))
        except (AssertionError, asyncio.TimeoutError) as e:
            import traceback
            log(f"FAIL {case} {' '.join(extra)}: {e!r}\n" + "".join(traceback.format_exception(e)[-6:]))
            tail = relay.log_lines()[-15:]
            if tail:
                log("relay log tail:\n  " + "\n  ".join(tail))
            return 1
        rc = relay.stop()
        if rc != 0:
            tail = [ln for ln in relay.log_lines() if "INFO session" not in ln][-40:]
            log(f"FAIL {case}: the relay exited {rc} after SIGTERM\n  " + "\n  ".join(tail))
            return 1
    log(f"PASS {case} {' '.join(extra)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
