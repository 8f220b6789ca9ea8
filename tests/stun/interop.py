#!/usr/bin/python3
"""Integration tests of `atmosphere stun-server` and `atmosphere network`.

Run with Debian's /usr/bin/python3 (python3-aioice; coturn for two cases):

    interop.py BINARY cli|coturn_client|coturn_server|aioice|ipv6|ipv6_rfc5780|coturn_ipv6

  cli            both commands' --help, bad options (exit 2), `network`
                 against our server (--json fields), against a silent port
                 ("STUN discovery failed", exit 1 within the timeout),
                 ATMOSPHERE_STUN, a busy --port, stun-server's SIGTERM exit
                 and --json-stats counters
  coturn_client  coturn's turnutils_stunclient against our server, plain and
                 RFC 5780 (-f)
  coturn_server  `network --json` against coturn's turnserver on loopback
                 (two addresses, --alt-listening-port: RFC 5780 mode)
  aioice         aioice builds requests (plain, with MESSAGE-INTEGRITY, ICE
                 attributes, CHANGE-REQUEST) that our server must parse, and
                 parses and checks (FINGERPRINT) what it answers
  ipv6           stun-server --host :: answers an IPv6 request with an IPv6
                 XOR-MAPPED-ADDRESS; `network` asks an IPv4 and an IPv6
                 server at once from one --port and reports each family
                 (--json: "ipv6" beside the IPv4 fields; text: two sections)
  ipv6_rfc5780   (root; its own network namespace) one stun-server in RFC 5780
                 mode on both families (--host/--alt-host per family): open
                 on both, then behind a stateful nftables filter IPv6 says
                 "firewalled" while IPv4 keeps "open"
  coturn_ipv6    `network --json` against coturn's turnserver on ::1

Everything runs on 127.0.0.1/127.0.0.2 and ::1 (ipv6_rfc5780: 2001:db8:5780::1
and ::2 in a namespace of its own) with ports picked by the kernel.
Exit 0 pass, 1 fail, 77 skip (a tool is missing).
"""
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


class StunServer:
    """`atmosphere stun-server` on port 0; its ports come from its output."""

    def __init__(self, binary, *args, rfc5780=True, want=None, host="127.0.0.1"):
        cmd = [binary, "stun-server", "--host", host, "--port", "0", "--threads", "2", "--json-stats"]
        if rfc5780:
            cmd += ["--alt-host", "127.0.0.2", "--alt-port", "0"]
        self.proc = subprocess.Popen(cmd + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL, text=True)
        self.addrs = {}
        self.early = ""  # output read past the listening lines
        want = want or (4 if rfc5780 else 1)
        self.socks = []  # (host, port, role) per line, in order
        deadline = time.monotonic() + 10
        buf = b""
        fd = self.proc.stdout.fileno()
        # Raw reads: a buffered readline would swallow lines select() then
        # never sees.
        while buf.count(b"\n") < want:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.stop()
                raise AssertionError("stun-server did not print its sockets within 10 s")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError(f"stun-server exited: {self.proc.wait()}")
            buf += chunk
        lines = buf.decode().split("\n")
        for line in lines[:want]:
            m = re.match(r"stun-server listening on udp (\S+):(\d+) \((.+)\)", line)
            check(m, f"unexpected line from stun-server: {line!r}")
            self.addrs[m.group(3)] = (m.group(1), int(m.group(2)))
            self.socks.append((m.group(1), int(m.group(2)), m.group(3)))
        self.early = "\n".join(lines[want:])
        self.host, self.port = self.addrs["primary"]

    def stop(self):
        """SIGTERM; returns (exit code, the --json-stats object or None)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            out, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
            raise AssertionError("stun-server did not exit within 10 s of SIGTERM")
        stats = None
        for line in (self.early + out).splitlines():
            if line.startswith("{"):
                stats = json.loads(line)
        return self.proc.returncode, stats


def free_port(*hosts):
    """A UDP port free on every host in hosts (bound and released: racy, but
    only against other tests on this machine)."""
    for _ in range(100):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((hosts[0], 0))
        port = s.getsockname()[1]
        others = []
        try:
            for h in hosts[1:]:
                o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                others.append(o)
                o.bind((h, port))
            return port
        except OSError:
            continue
        finally:
            s.close()
            for o in others:
                o.close()
    raise AssertionError("no free port")


def run(binary, *args, env=None, timeout=30):
    t0 = time.monotonic()
    p = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout, env=env)
    return p, time.monotonic() - t0


def network_json(binary, *args, env=None):
    p, took = run(binary, "network", "--json", *args, env=env)
    try:
        return p, json.loads(p.stdout), took
    except json.JSONDecodeError:
        raise AssertionError(f"network --json printed no JSON (exit {p.returncode}):\n{p.stdout}\n{p.stderr}")


def stun_request(txid=None, attrs=b"", mtype=0x0001):
    txid = txid or os.urandom(12)
    return mtype.to_bytes(2, "big") + len(attrs).to_bytes(2, "big") + bytes.fromhex("2112a442") + txid + attrs


# --- cli ---------------------------------------------------------------------

def case_cli(binary):
    for cmd in ("network", "stun-server"):
        p, _ = run(binary, cmd, "--help")
        check(p.returncode == 0 and p.stdout.startswith(f"usage: atmosphere {cmd}"), f"{cmd} --help")
        p, _ = run(binary, cmd, "--no-such-option")
        check(p.returncode == 2 and "unknown option '--no-such-option'" in p.stderr, f"{cmd}: bad option")
    for args, msg in [(["--timeout", "soon"], "--timeout 'soon'"), (["--port", "70000"], "--port '70000'"),
                      (["--stun", "host:0"], "--stun 'host:0'"), (["extra"], "unexpected argument 'extra'")]:
        p, _ = run(binary, "network", *args)
        check(p.returncode == 2 and msg in p.stderr, f"network {args}: exit {p.returncode}, {p.stderr!r}")
    p, _ = run(binary, "stun-server", "--alt-host", "127.0.0.2")
    check(p.returncode == 2 and "--alt-port" in p.stderr, "stun-server: --alt-host alone")
    p, _ = run(binary, "stun-server", "--host", "0.0.0.0", "--port", "0", "--alt-host", "127.0.0.2",
               "--alt-port", "0")
    check(p.returncode == 1 and "specific addresses" in p.stderr, f"stun-server: wildcard in RFC 5780 mode: {p.stderr}")

    srv = StunServer(binary)
    try:
        # Socket buffers of 4 MiB asked for (the kernel doubles what it grants,
        # up to rmem_max): a flood of garbage must not crowd valid requests out
        # of the default 208 KiB queue before the server reads them.
        if shutil.which("ss"):
            rmax = int(open("/proc/sys/net/core/rmem_max").read())
            want = 2 * min(4 << 20, rmax)
            ss = subprocess.run(["ss", "-uamnH", f"sport = :{srv.port}"], capture_output=True, text=True)
            m = re.search(r"rb(\d+)", ss.stdout)
            check(m is not None and int(m.group(1)) >= want, f"receive buffer: want >= {want}: {ss.stdout!r}")
        # The seed's fields, from a socket on a given port.
        port = free_port("0.0.0.0")
        p, j, _ = network_json(binary, "--stun", f"127.0.0.1:{srv.port}", "--port", str(port))
        check(p.returncode == 0, f"network exit {p.returncode}: {p.stderr}")
        for k in ("local_ip", "local_port", "public_ip", "public_port", "nat_type", "mapping", "filtering",
                  "hairpinning", "port_preserving", "stun_servers"):
            check(k in j, f"--json lacks {k}")
        check(j["local_port"] == port and j["public_port"] == port, f"ports: {j}")
        check(j["public_ip"] == "127.0.0.1" and j["local_ip"] == "127.0.0.1", f"addresses: {j}")
        check(j["nat_type"] == "open" and j["mapping"] == "endpoint_independent", f"type: {j}")
        check(j["filtering"] == "endpoint_independent" and j["rfc5780"], f"filtering: {j}")
        check(j["hairpinning"] is True and j["port_preserving"] is True, f"hairpin/port: {j}")
        s = j["stun_servers"][0]
        check(s["server"] == f"127.0.0.1:{srv.port}" and s["ok"] and s["error"] is None, f"server: {s}")
        check(isinstance(s["rtt_ms"], (int, float)) and 0 <= s["rtt_ms"] < 1000, f"rtt: {s}")

        # Text output, two servers agreeing, one silent: reported per server.
        silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        silent.bind(("127.0.0.1", 0))
        alt = srv.addrs["alt-host alt-port"]
        p, took = run(binary, "network", "--stun", f"127.0.0.1:{srv.port}", "--stun", f"{alt[0]}:{alt[1]}",
                      "--stun", f"127.0.0.1:{silent.getsockname()[1]}", "--timeout", "1s")
        check(p.returncode == 0, f"network with a silent server: exit {p.returncode}: {p.stderr}")
        check("NAT type:         open" in p.stdout, f"text output: {p.stdout}")
        check("agreed by 2 of 2" in p.stdout, f"agreement: {p.stdout}")
        check(re.search(r"127\.0\.0\.1:\d+ +error +no answer", p.stdout), f"silent server: {p.stdout}")

        # ATMOSPHERE_STUN is used when no --stun is given.
        env = dict(os.environ, ATMOSPHERE_STUN=f" 127.0.0.1:{srv.port} ,")
        p, j, _ = network_json(binary, env=env)
        check(p.returncode == 0 and j["stun_servers"][0]["server"] == f"127.0.0.1:{srv.port}", f"env: {j}")
        env = dict(os.environ, ATMOSPHERE_STUN="a:1,b:0")
        p, _ = run(binary, "network", env=env)
        check(p.returncode == 2 and "item 2" in p.stderr, f"bad ATMOSPHERE_STUN: {p.stderr}")

        # A busy port is a clear error.
        busy = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        busy.bind(("0.0.0.0", 0))
        p, _ = run(binary, "network", "--stun", f"127.0.0.1:{srv.port}", "--port", str(busy.getsockname()[1]))
        check(p.returncode == 1 and "cannot bind UDP port" in p.stderr and "in use" in p.stderr,
              f"busy port: {p.stderr}")
        busy.close()

        # Nobody answers: the seed's troubleshooting, exit 1 within the timeout.
        p, j, took = network_json(binary, "--stun", f"127.0.0.1:{silent.getsockname()[1]}", "--timeout", "800ms")
        check(p.returncode == 1 and "STUN discovery failed" in p.stderr, f"failure: {p.stderr}")
        for fix in ("No internet connection", "Firewall blocking UDP port 3478/19302", "--public-ip",
                    "relay-only mode"):
            check(fix in p.stderr, f"troubleshooting lacks {fix!r}")
        check(took < 0.8 + 0.7, f"took {took:.2f} s with an 800 ms timeout")
        check(j["ok"] is False and j["public_ip"] is None and j["nat_type"] == "udp_blocked", f"failed json: {j}")
        check(j["stun_servers"][0]["error"].startswith("no answer"), f"error text: {j}")
        silent.close()

        # Garbage is counted, not answered.
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.settimeout(5)
        c.sendto(b"\x00\x01\x00\x00" + b"not a cookie, not stun", ("127.0.0.1", srv.port))
        c.sendto(stun_request(), ("127.0.0.1", srv.port))
        c.recvfrom(1024)
    finally:
        rc, stats = srv.stop()
    check(rc == 0, f"stun-server exit {rc} after SIGTERM")
    check(stats is not None, "--json-stats printed no JSON line at exit")
    check(stats["dropped"]["bad_magic"] >= 1 and stats["answered"] >= 5, f"stats: {stats}")


# --- coturn ---------------------------------------------------------------------

def case_coturn_client(binary):
    tool = shutil.which("turnutils_stunclient")
    if not tool:
        skip("turnutils_stunclient not found (Debian package coturn)")
    # Plain mode.
    srv = StunServer(binary, rfc5780=False)
    try:
        p = subprocess.run([tool, "-p", str(srv.port), "127.0.0.1"], capture_output=True, text=True, timeout=30)
        check(p.returncode == 0, f"stunclient exit {p.returncode}: {p.stdout}{p.stderr}")
        check(re.search(r"UDP reflexive addr: 127\.0\.0\.1:\d+", p.stdout), f"no reflexive address:\n{p.stdout}")
    finally:
        rc, stats = srv.stop()
    check(rc == 0 and stats["answered"] >= 1, f"plain: {stats}")

    # RFC 5780 mode: its three requests (plain, change ip+port, change port).
    srv = StunServer(binary)
    try:
        p = subprocess.run([tool, "-f", "-p", str(srv.port), "127.0.0.1"], capture_output=True, text=True,
                           timeout=30)
        check(p.returncode == 0, f"stunclient -f exit {p.returncode}: {p.stdout}{p.stderr}")
        alt_both = "%s:%d" % srv.addrs["alt-host alt-port"]
        origins = re.findall(r"Response origin: : (\S+)", p.stdout)
        others = re.findall(r"Other addr: : (\S+)", p.stdout)
        check(f"127.0.0.1:{srv.port}" in origins, f"no answer from the primary socket:\n{p.stdout}")
        check(alt_both in origins, f"no answer from {alt_both} (CHANGE-REQUEST):\n{p.stdout}")
        check(others and all(o == alt_both for o in others), f"OTHER-ADDRESS: {others}")
        check(len(re.findall(r"UDP reflexive addr: 127\.0\.0\.1:\d+", p.stdout)) == 3, p.stdout)
    finally:
        rc, stats = srv.stop()
    check(rc == 0 and stats["answered"] >= 3 and stats["changed"] >= 2, f"rfc5780: {stats}")


def case_coturn_server(binary):
    tool = shutil.which("turnserver")
    if not tool:
        skip("turnserver not found (Debian package coturn)")
    tmp = tempfile.mkdtemp(prefix="atmos-coturn-")
    port = free_port("127.0.0.1", "127.0.0.2")
    alt = free_port("127.0.0.1", "127.0.0.2")
    cmd = [tool, "-n", "--listening-ip=127.0.0.1", "--listening-ip=127.0.0.2", f"--listening-port={port}",
           f"--alt-listening-port={alt}", "--no-auth", "--no-tls", "--no-dtls", "--no-tcp", "--stun-only",
           "--no-cli", "--relay-threads=1", f"--log-file={tmp}/turn.log", "--simple-log",
           f"--pidfile={tmp}/turn.pid", f"--db={tmp}/turndb"]
    ts = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        # Ready when it answers a Binding request.
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.settimeout(0.2)
        deadline = time.monotonic() + 15
        while True:
            check(ts.poll() is None, f"turnserver exited {ts.returncode}")
            check(time.monotonic() < deadline, "turnserver did not answer within 15 s")
            c.sendto(stun_request(), ("127.0.0.1", port))
            try:
                c.recvfrom(1024)
                break
            except socket.timeout:
                pass
        c.close()
        lport = free_port("0.0.0.0")
        p, j, _ = network_json(binary, "--stun", f"127.0.0.1:{port}", "--port", str(lport))
        check(p.returncode == 0, f"network against coturn: exit {p.returncode}: {p.stderr}")
        check(j["public_ip"] == "127.0.0.1" and j["public_port"] == lport, f"mapping: {j}")
        check(j["nat_type"] == "open" and j["rfc5780"] is True, f"type: {j}")
        check(j["mapping"] == "endpoint_independent" and j["filtering"] == "endpoint_independent", f"behaviour: {j}")
        check(j["stun_servers"][0]["ok"] and j["stun_servers"][0]["rfc5780"], f"server: {j}")
    finally:
        ts.terminate()
        try:
            ts.wait(10)
        except subprocess.TimeoutExpired:
            ts.kill()
            ts.wait()
        shutil.rmtree(tmp, ignore_errors=True)


# --- IPv6 ----------------------------------------------------------------------

def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def case_ipv6(binary):
    """`stun-server --host ::` answers both families; `network` asks both at
    once and reports one section per family."""
    if not have_ipv6_loopback():
        skip("no IPv6 loopback (::1)")
    srv = StunServer(binary, rfc5780=False, host="::")
    try:
        check(srv.addrs["primary"][0] == "[::]", f"listening line: {srv.addrs}")
        port = srv.addrs["primary"][1]
        # A raw IPv6 request: XOR-MAPPED-ADDRESS of family 0x02 (RFC 8489 14.2).
        c = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        c.settimeout(5)
        c.bind(("::1", 0))
        txid = os.urandom(12)
        c.sendto(stun_request(txid), ("::1", port))
        data, _ = c.recvfrom(1024)
        check(data[:2] == b"\x01\x01" and data[8:20] == txid, f"answer: {data.hex()}")
        i, xma = 20, None
        while i + 4 <= len(data):
            t, n = int.from_bytes(data[i:i + 2], "big"), int.from_bytes(data[i + 2:i + 4], "big")
            if t == 0x0020:
                xma = data[i + 4:i + 4 + n]
            i += 4 + (n + 3) // 4 * 4
        check(xma is not None and len(xma) == 20 and xma[1] == 2, f"XOR-MAPPED-ADDRESS: {xma and xma.hex()}")
        mask = bytes.fromhex("2112a442") + txid
        ip = bytes(a ^ b for a, b in zip(xma[4:], mask))
        xport = int.from_bytes(xma[2:4], "big") ^ 0x2112
        check(ip == socket.inet_pton(socket.AF_INET6, "::1") and xport == c.getsockname()[1],
              f"mapped {socket.inet_ntop(socket.AF_INET6, ip)} port {xport}")
        c.close()

        # Both families from one --port: IPv4 at the top level as always,
        # IPv6 under "ipv6".
        lport = free_port("0.0.0.0")
        p, j, took = network_json(binary, "--stun", f"127.0.0.1:{port}", "--stun", f"[::1]:{port}", "--port",
                                  str(lport), "--no-port-mapping")
        check(p.returncode == 0, f"network exit {p.returncode}: {p.stderr}")
        check(j["ok"] and j["public_ip"] == "127.0.0.1" and j["public_port"] == lport, f"IPv4 fields: {j}")
        check([s["server"] for s in j["stun_servers"]] == [f"127.0.0.1:{port}"], f"IPv4 servers: {j}")
        six = j["ipv6"]
        check(six["ok"] and six["tested"], f"ipv6: {six}")
        check(six["public_ip"] == "::1" and six["public_port"] == lport and six["local_ip"] == "::1", f"ipv6: {six}")
        check(six["nat_type"] == "open" and six["no_nat"] and six["mapping"] == "endpoint_independent",
              f"ipv6 type: {six}")
        check([s["server"] for s in six["stun_servers"]] == [f"[::1]:{port}"], f"IPv6 servers: {six}")
        check(six["stun_servers"][0]["mapped"] == f"[::1]:{lport}", f"IPv6 mapped: {six}")

        # Text: one section each.
        p, _ = run(binary, "network", "--stun", f"127.0.0.1:{port}", "--stun", f"[::1]:{port}", "--no-port-mapping")
        check(p.returncode == 0, f"network text exit {p.returncode}: {p.stderr}")
        check(re.search(r"^IPv4\n  Local address: +127\.0\.0\.1:\d+$", p.stdout, re.M), f"IPv4 section:\n{p.stdout}")
        check(re.search(r"^IPv6\n  Local address: +\[::1\]:\d+$", p.stdout, re.M), f"IPv6 section:\n{p.stdout}")
        check(re.search(r"^  Public address: +\[::1\]:\d+", p.stdout, re.M), f"IPv6 public address:\n{p.stdout}")

        # Only an IPv6 server: IPv4 is not tested, the exit is still 0.
        p, j, _ = network_json(binary, "--stun", f"[::1]:{port}", "--no-port-mapping")
        check(p.returncode == 0 and j["ok"] and j["public_ip"] is None and j["ipv6"]["ok"], f"IPv6 only: {j}")
        check("no STUN server with an IPv4 address" in j.get("note", ""), f"IPv4 note: {j}")
        # Only an IPv4 server: the IPv6 section says why it was not tested.
        p, j, _ = network_json(binary, "--stun", f"127.0.0.1:{port}", "--no-port-mapping")
        check(p.returncode == 0 and j["ipv6"]["tested"] is False and j["ipv6"]["ok"] is False, f"IPv4 only: {j}")
        check("no STUN server with an IPv6 address" in j["ipv6"]["note"], f"IPv6 note: {j}")
        # A silent IPv6 server, an answering IPv4 one: exit 0, IPv6 not ok.
        silent = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        silent.bind(("::1", 0))
        p, j, took = network_json(binary, "--stun", f"127.0.0.1:{port}", "--stun",
                                  f"[::1]:{silent.getsockname()[1]}", "--timeout", "800ms", "--no-port-mapping")
        check(p.returncode == 0 and j["ok"] and j["ipv6"]["ok"] is False, f"silent IPv6: {j}")
        check(j["ipv6"]["nat_type"] == "udp_blocked", f"silent IPv6 type: {j['ipv6']}")
        check(took < 0.8 * 2 + 0.7, f"took {took:.2f} s: the families must run at the same time")
        silent.close()
    finally:
        rc, stats = srv.stop()
    check(rc == 0 and stats["answered"] >= 4, f"stats: {stats}")


def case_ipv6_rfc5780(binary):
    """RFC 5780 over both families from one stun-server, in a network
    namespace of its own (root): 127.0.0.1/127.0.0.2 and two IPv6 addresses
    on lo, one --host and one --alt-host per family. No NAT, nothing
    filtered: open on both; then a stateful firewall (nftables: only answers
    to what we sent get in): IPv6 says firewalled, IPv4 keeps the seed's
    "open"."""
    if os.geteuid() != 0:
        skip("needs root for a network namespace")
    if not shutil.which("nft"):
        skip("nft not found (Debian package nftables)")
    if os.environ.get("ATMOS_IN_NETNS") != "1":
        env = dict(os.environ, ATMOS_IN_NETNS="1")
        p = subprocess.run(["unshare", "-n", sys.executable, __file__, binary, "ipv6_rfc5780"], env=env)
        sys.exit(p.returncode)
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    for a in ("2001:db8:5780::1", "2001:db8:5780::2"):
        subprocess.run(["ip", "-6", "addr", "add", f"{a}/128", "dev", "lo", "nodad"], check=True)
    # StunServer passes --host 127.0.0.1 itself; its alternate and the IPv6
    # pair come here.
    srv = StunServer(binary, "--alt-host", "127.0.0.2", "--host", "2001:db8:5780::1", "--alt-host",
                     "[2001:db8:5780::2]", "--alt-port", "0", rfc5780=False, want=8)
    try:
        hosts = [h for h, _, _ in srv.socks]
        check(hosts == ["127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2", "[2001:db8:5780::1]",
                        "[2001:db8:5780::1]", "[2001:db8:5780::2]", "[2001:db8:5780::2]"], f"sockets: {srv.socks}")
        p4, p6 = srv.socks[0][1], srv.socks[4][1]
        servers = ["--stun", f"127.0.0.1:{p4}", "--stun", f"[2001:db8:5780::1]:{p6}", "--no-port-mapping"]
        p, j, _ = network_json(binary, *servers)
        six = j["ipv6"]
        check(p.returncode == 0 and j["ok"] and six["ok"], f"both families: {p.stderr} {j}")
        check(j["rfc5780"] and six["rfc5780"], f"RFC 5780 on both: {j}")
        check(j["nat_type"] == "open" and j["filtering"] == "endpoint_independent", f"IPv4: {j}")
        check(six["nat_type"] == "open" and not six["nat_type_estimated"], f"IPv6 type: {six}")
        check(six["filtering"] == "endpoint_independent" and six["mapping"] == "endpoint_independent", f"{six}")
        check(six["rfc5780_server"] == f"[2001:db8:5780::1]:{p6}", f"server: {six}")
        # Stateful firewall: answers to what a socket sent get in, the
        # server's own ports stay open, anything else unsolicited is dropped.
        ports = ", ".join(sorted({str(port) for _, port, _ in srv.socks}))
        rules = f"""table inet fw {{
  chain in {{
    type filter hook input priority 0; policy accept;
    ct state established,related accept
    udp dport {{ {ports} }} accept
    meta l4proto udp drop
  }}
}}"""
        subprocess.run(["nft", "-f", "-"], input=rules, text=True, check=True)
        p, j, _ = network_json(binary, *servers, "--timeout", "1s")
        six = j["ipv6"]
        check(p.returncode == 0 and six["ok"], f"behind the firewall: {p.stderr} {six}")
        check(six["filtering"] == "address_and_port_dependent", f"IPv6 filtering: {six}")
        check(six["nat_type"] == "firewalled" and six["no_nat"], f"IPv6 type: {six}")
        check(j["filtering"] == "address_and_port_dependent" and j["nat_type"] == "open", f"IPv4 unchanged: {j}")
        # No route to an IPv6 server (no default route here): not tested,
        # and said so, rather than "udp_blocked"; IPv4 still reports.
        p, j, took = network_json(binary, "--stun", f"127.0.0.1:{p4}", "--stun", "[2001:db8:ffff::1]:3478",
                                  "--no-port-mapping", "--timeout", "1s")
        six = j["ipv6"]
        check(p.returncode == 0 and j["ok"] and six["tested"] is False, f"no IPv6 route: {j}")
        check(six["note"].startswith("no IPv6 connectivity"), f"no IPv6 route: note {six.get('note')}")
    finally:
        rc, stats = srv.stop()
    check(rc == 0 and stats["changed"] >= 4, f"stats: {stats}")


def case_coturn_ipv6(binary):
    """coturn's turnserver on ::1 answers `network`'s IPv6 Binding requests."""
    tool = shutil.which("turnserver")
    if not tool:
        skip("turnserver not found (Debian package coturn)")
    if not have_ipv6_loopback():
        skip("no IPv6 loopback (::1)")
    tmp = tempfile.mkdtemp(prefix="atmos-coturn6-")
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::1", 0))
    port = s.getsockname()[1]
    s.close()
    cmd = [tool, "-n", "--listening-ip=::1", f"--listening-port={port}", "--no-auth", "--no-tls", "--no-dtls",
           "--no-tcp", "--stun-only", "--no-cli", "--relay-threads=1", f"--log-file={tmp}/turn.log", "--simple-log",
           f"--pidfile={tmp}/turn.pid", f"--db={tmp}/turndb"]
    ts = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        c = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        c.settimeout(0.2)
        deadline = time.monotonic() + 15
        while True:
            check(ts.poll() is None, f"turnserver exited {ts.returncode}")
            check(time.monotonic() < deadline, "turnserver did not answer over ::1 within 15 s")
            c.sendto(stun_request(), ("::1", port))
            try:
                c.recvfrom(1024)
                break
            except socket.timeout:
                pass
        c.close()
        p, j, _ = network_json(binary, "--stun", f"[::1]:{port}", "--no-port-mapping")
        six = j["ipv6"]
        check(p.returncode == 0 and six["ok"], f"network against coturn over ::1: exit {p.returncode}: {p.stderr}")
        check(six["public_ip"] == "::1" and six["nat_type"] == "open", f"ipv6: {six}")
        check(six["stun_servers"][0]["ok"] and six["stun_servers"][0]["server"] == f"[::1]:{port}", f"server: {six}")
    finally:
        ts.terminate()
        try:
            ts.wait(10)
        except subprocess.TimeoutExpired:
            ts.kill()
            ts.wait()
        shutil.rmtree(tmp, ignore_errors=True)


# --- aioice -------------------------------------------------------------------

def case_aioice(binary):
    try:
        from aioice import stun
    except ImportError:
        skip("python3-aioice not installed for /usr/bin/python3")
    srv = StunServer(binary)
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.bind(("127.0.0.1", 0))
    c.settimeout(5)
    me = c.getsockname()

    def ask(msg, expect_from=None):
        c.sendto(bytes(msg), (srv.host, srv.port))
        data, src = c.recvfrom(2048)
        # parse_message verifies FINGERPRINT (raises on mismatch).
        ans = stun.parse_message(data)
        check(ans.transaction_id == msg.transaction_id, "transaction id")
        check("FINGERPRINT" in ans.attributes, "answers carry FINGERPRINT")
        if expect_from:
            check(src == expect_from, f"answer from {src}, want {expect_from}")
        return ans, data

    try:
        # A plain request as aioice builds it.
        req = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        ans, _ = ask(req, (srv.host, srv.port))
        check(ans.message_class == stun.Class.RESPONSE, f"class {ans.message_class}")
        check(ans.attributes["XOR-MAPPED-ADDRESS"] == me, f"mapped {ans.attributes['XOR-MAPPED-ADDRESS']} != {me}")
        check(ans.attributes["SOFTWARE"] == "atmosphere", "SOFTWARE")
        check(ans.attributes["OTHER-ADDRESS"] == srv.addrs["alt-host alt-port"], "OTHER-ADDRESS")
        check(ans.attributes["RESPONSE-ORIGIN"] == (srv.host, srv.port), "RESPONSE-ORIGIN")

        # With USERNAME, MESSAGE-INTEGRITY and FINGERPRINT: answered (no credentials here).
        req = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        req.attributes["USERNAME"] = "abcd:efgh"
        req.add_message_integrity(b"password")
        ans, _ = ask(req)
        check(ans.message_class == stun.Class.RESPONSE, "integrity-protected request answered")

        # An ICE connectivity check: PRIORITY (0x0024) is comprehension-required and
        # not ours: 420 listing it.
        req = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
        req.attributes["PRIORITY"] = 1853824767
        req.attributes["ICE-CONTROLLING"] = 0x0102030405060708
        req.attributes["USERNAME"] = "abcd:efgh"
        req.add_message_integrity(b"password")
        ans, raw = ask(req)
        check(ans.message_class == stun.Class.ERROR, "ICE check gets an error response")
        check(ans.attributes["ERROR-CODE"][0] == 420, f"error {ans.attributes['ERROR-CODE']}")
        check(b"\x00\x0a\x00\x02\x00\x24" in raw, "UNKNOWN-ATTRIBUTES lists PRIORITY")

        # CHANGE-REQUEST, built by aioice: answered from the other sockets.
        for flags, sock in ((0x4 | 0x2, "alt-host alt-port"), (0x2, "alt-port"), (0x4, "alt-host")):
            req = stun.Message(stun.Method.BINDING, stun.Class.REQUEST)
            req.attributes["CHANGE-REQUEST"] = flags
            ans, _ = ask(req, srv.addrs[sock])
            check(ans.attributes["RESPONSE-ORIGIN"] == srv.addrs[sock], f"origin for flags {flags}")
            check(ans.attributes["XOR-MAPPED-ADDRESS"] == me, "mapped with CHANGE-REQUEST")

        # A response sent to the server is not answered (counted).
        c.sendto(bytes(stun.Message(stun.Method.BINDING, stun.Class.RESPONSE)), (srv.host, srv.port))
        ask(stun.Message(stun.Method.BINDING, stun.Class.REQUEST))
    finally:
        rc, stats = srv.stop()
    check(rc == 0, f"exit {rc}")
    check(stats["errors"] == 1 and stats["dropped"]["not_request"] == 1, f"stats {stats}")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    binary, case = sys.argv[1], sys.argv[2]
    cases = {"cli": case_cli, "coturn_client": case_coturn_client, "coturn_server": case_coturn_server,
             "aioice": case_aioice, "ipv6": case_ipv6, "ipv6_rfc5780": case_ipv6_rfc5780,
             "coturn_ipv6": case_coturn_ipv6}
    if case not in cases:
        print(f"unknown case {case}")
        return 2
    try:
        cases[case](binary)
    except AssertionError as e:
        print(f"FAIL ({case}): {e}")
        return 1
    print(f"PASS ({case})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
