#!/usr/bin/python3
"""The relay over IPv6, against the real binary on port 0.

Run with Debian's /usr/bin/python3 (python3-websockets):

    ipv6.py BINARY dualstack|limit64

  dualstack  `relay --host :: --stun-port 0` serves both families at once:
             curl -g 'http://[::1]:PORT/health' and http://127.0.0.1:PORT;
             a websocket pair over ::1, a pair over 127.0.0.1 and a pair with
             one client of each family, all open together, messages both
             ways; the "relay listening on [::]:PORT" line; our own relay
             client on ws://[::1]:PORT (`network --relay`) and the relay's
             STUN port asked over ::1 (an IPv6 XOR-MAPPED-ADDRESS) and over
             127.0.0.1 (an IPv4 one, not ::ffff:127.0.0.1).
  limit64    --max-conns-per-ip counts an IPv6 client by its /64: in a
             network namespace of its own (root, else skip) with
             2001:db8:1:2::a, ::b and 2001:db8:1:3::a on lo, two
             connections from ::a and ::b fill their /64's place, a third
             from the same /64 gets 429, one from the next /64 does not.

Exit 0 pass, 1 fail, 77 skip (no ::1, no websockets, no curl, not root).
"""
import asyncio
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

SKIP = 77


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


class Relay:
    """`BINARY relay --port 0 ARGS...`; the ports come from its stdout."""

    def __init__(self, binary, *args):
        self.proc = subprocess.Popen([binary, "relay", "--port", "0", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.lines = {}
        want = 2 if "--stun-port" in args else 1
        buf = b""
        deadline = time.monotonic() + 10
        fd = self.proc.stdout.fileno()
        while buf.count(b"\n") < want:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.stop()
                raise AssertionError("relay did not print its ports within 10 s")
            c = os.read(fd, 4096)
            if not c:
                raise AssertionError(f"relay exited {self.proc.wait()}: {self.proc.stderr.read().decode()}")
            buf += c
        for line in buf.decode().splitlines()[:want]:
            m = re.fullmatch(r"(relay|stun) listening on (\S+):(\d+)", line)
            check(m, f"unexpected line {line!r}")
            self.lines[m.group(1)] = (m.group(2), int(m.group(3)))
        self.port = self.lines["relay"][1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log(self):
        return self.proc.stderr.read().decode(errors="replace")


def curl_health(url):
    p = subprocess.run(["curl", "-g", "--silent", "--show-error", "--max-time", "10", url], capture_output=True,
                       text=True)
    check(p.returncode == 0, f"curl {url}: exit {p.returncode}: {p.stderr}")
    body = json.loads(p.stdout)
    check(body.get("status") == "ok", f"{url}: {p.stdout}")
    return body


async def pair(url_a, url_b, sid):
    """Two clients of session sid (a first, then b); each gets the paired
    notice, then a message goes each way. Returns the open pair."""
    import websockets
    a = await websockets.connect(f"{url_a}/relay/{sid}", open_timeout=10, compression=None)
    b = await websockets.connect(f"{url_b}/relay/{sid}", open_timeout=10, compression=None)
    for ws in (a, b):
        notice = json.loads(await asyncio.wait_for(ws.recv(), 10))
        check(notice.get("type") == "paired", f"{sid}: notice {notice}")
    return a, b


async def exchange(a, b, sid):
    await a.send(f"{sid}: from a")
    check(await asyncio.wait_for(b.recv(), 10) == f"{sid}: from a", f"{sid}: a to b")
    blob = os.urandom(70000)
    await b.send(blob)
    check(await asyncio.wait_for(a.recv(), 10) == blob, f"{sid}: b to a")


async def three_pairs(port):
    v6, v4 = f"ws://[::1]:{port}", f"ws://127.0.0.1:{port}"
    pairs = {"six-six": await pair(v6, v6, "six-six"), "four-four": await pair(v4, v4, "four-four"),
             "six-four": await pair(v6, v4, "six-four")}
    # All three open at once, then traffic on each.
    for sid, (a, b) in pairs.items():
        await exchange(a, b, sid)
    for a, b in pairs.values():
        await a.close()
        await b.close()


def network_json(binary, *args):
    p = subprocess.run([binary, "network", "--json", "--no-port-mapping", "--timeout", "2s", *args],
                       capture_output=True, text=True, timeout=30)
    try:
        return p, json.loads(p.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"network --json printed no JSON (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")


def case_dualstack(binary):
    if not have_ipv6_loopback():
        skip("no IPv6 loopback (::1)")
    try:
        import websockets  # noqa: F401
    except ImportError:
        skip("python3-websockets not installed")
    if not shutil.which("curl"):
        skip("curl not installed")
    relay = Relay(binary, "--host", "::", "--stun-port", "0", "--threads", "2")
    try:
        check(relay.lines["relay"][0] == "[::]", f"listening line: {relay.lines}")
        check(relay.lines["stun"][0] == "[::]", f"stun line: {relay.lines}")
        curl_health(f"http://[::1]:{relay.port}/health")
        curl_health(f"http://127.0.0.1:{relay.port}/health")
        asyncio.run(three_pairs(relay.port))

        # Our own client: the relay check of `network` parses ws://[::1]:PORT,
        # and the relay's STUN port answers each family in its own.
        stun_port = relay.lines["stun"][1]
        p, j = network_json(binary, "--relay", f"ws://[::1]:{relay.port}", "--stun", f"[::1]:{stun_port}")
        check(p.returncode == 0, f"network over ::1: exit {p.returncode}: {p.stderr}")
        check(j["relays"][0]["ok"] is True, f"relay over ::1: {j['relays']}")
        six = j["ipv6"]
        check(six["ok"] and six["public_ip"] == "::1", f"ipv6 section: {six}")
        p, j = network_json(binary, "--stun", f"127.0.0.1:{stun_port}")
        check(p.returncode == 0 and j["public_ip"] == "127.0.0.1", f"IPv4 through the dual-stack STUN port: {j}")
    finally:
        rc = relay.stop()
    check(rc == 0, f"relay exit {rc} after SIGTERM:\n{relay.log()}")


# --- limit64 ---------------------------------------------------------------------

NET_A1, NET_A2, NET_B = "2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:3::a"


def connect_from(src, port):
    """A TCP connection from src to the relay; returns (socket, first bytes
    the relay sent within 0.5 s, b"" if none)."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.connect((NET_A1, port))
    s.settimeout(0.5)
    try:
        first = s.recv(64)
    except socket.timeout:
        first = b""
    return s, first


def case_limit64(binary):
    if os.geteuid() != 0:
        skip("needs root for a network namespace")
    if os.environ.get("ATMOS_IN_NETNS") != "1":
        # Again, inside a network namespace of our own: it dies with us.
        env = dict(os.environ, ATMOS_IN_NETNS="1")
        p = subprocess.run(["unshare", "-n", sys.executable, __file__, binary, "limit64"], env=env)
        sys.exit(p.returncode)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for a in (NET_A1, NET_A2, NET_B):
        subprocess.run(["ip", "-6", "addr", "add", f"{a}/128", "dev", "lo", "nodad"], check=True)
    relay = Relay(binary, "--host", "::", "--max-conns-per-ip", "2", "--threads", "1")
    socks = []
    try:
        for src in (NET_A1, NET_A2):
            s, first = connect_from(src, relay.port)
            socks.append(s)
            check(first == b"", f"{src}: refused within its /64's limit: {first!r}")
        s, first = connect_from(NET_A1, relay.port)
        socks.append(s)
        check(first.startswith(b"HTTP/1.1 429"), f"third connection from 2001:db8:1:2::/64: {first!r}")
        s, first = connect_from(NET_B, relay.port)
        socks.append(s)
        check(first == b"", f"{NET_B} (another /64) refused: {first!r}")
    finally:
        for s in socks:
            s.close()
        rc = relay.stop()
    log = relay.log()
    check(rc == 0, f"relay exit {rc}:\n{log}")
    check(f"refused {NET_A1}: 429" in log and "by its /64" in log, f"refusal not logged with its /64:\n{log}")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    binary, case = sys.argv[1], sys.argv[2]
    cases = {"dualstack": case_dualstack, "limit64": case_limit64}
    try:
        cases[case](binary)
    except AssertionError as e:
        print(f"FAIL ({case}): {e}")
        sys.exit(1)
    print(f"PASS ({case})")


if __name__ == "__main__":
    main()
