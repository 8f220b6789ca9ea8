#!/usr/bin/python3
"""systemd's notification protocol (Type=notify, WatchdogSec=) from the real
`atmosphere relay`, without systemd: this script is the service manager.

    notify.py BINARY

1. A unix datagram socket at a path is $NOTIFY_SOCKET, $WATCHDOG_USEC is
   300 ms. The relay (port 0, two reactors) must send READY=1 with a STATUS=,
   and at that moment already serve: GET /health answers at the first try.
   WATCHDOG=1 then keeps coming (every 100 ms: a third of the interval).
   SIGHUP gives RELOADING=1 (with MONOTONIC_USEC=) then READY=1; SIGTERM
   gives STOPPING=1 and the relay exits 0.
2. An abstract socket ("@name") works the same; with $WATCHDOG_PID naming
   another process the relay sends READY=1 but no WATCHDOG=1.
3. Without $NOTIFY_SOCKET nothing is sent and the relay runs as before.

Exit 0 pass, 1 fail.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def start(binary, env):
    p = subprocess.Popen([binary, "relay", "--host", "127.0.0.1", "--port", "0", "--threads", "2", "--quiet"],
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env)
    line = p.stdout.readline().decode()
    if not line.startswith("relay listening on 127.0.0.1:"):
        p.kill()
        fail(f"first line {line!r}")
    return p, int(line.rsplit(":", 1)[1])


def recv(sock, timeout):
    """The next notification as a dict, or None after timeout seconds."""
    sock.settimeout(timeout)
    try:
        data = sock.recv(4096)
    except socket.timeout:
        return None
    return dict(kv.split("=", 1) for kv in data.decode().split("\n") if kv)


def wait_for(sock, key, timeout, seen=None):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        m = recv(sock, max(left, 0.001)) if left > 0 else None
        if m is None:
            fail(f"no {key} within {timeout} s (saw {seen})")
        if seen is not None:
            seen.append(m)
        if key in m:
            return m


def health(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
        return r.status, r.read()


def base_env():
    env = dict(os.environ)
    for k in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
        env.pop(k, None)
    return env


def full_cycle(binary, tmp):
    path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    env = base_env()
    env["NOTIFY_SOCKET"] = path
    env["WATCHDOG_USEC"] = "300000"
    p, port = start(binary, env)
    try:
        seen = []
        m = wait_for(sock, "READY", 10, seen)
        if m["READY"] != "1" or f"port {port}" not in m.get("STATUS", ""):
            fail(f"READY message {m}")
        # READY means serving: the first request must be answered.
        status, body = health(port)
        if status != 200 or b'"status": "ok"' not in body:
            fail(f"/health right after READY=1: {status} {body!r}")
        # The watchdog: 100 ms apart, so at least 5 within 1.5 s even on a
        # loaded machine.
        t0, pings = time.monotonic(), 0
        while time.monotonic() - t0 < 1.5:
            m = recv(sock, 0.5)
            if m and m.get("WATCHDOG") == "1":
                pings += 1
        if pings < 5:
            fail(f"{pings} WATCHDOG=1 in 1.5 s at WATCHDOG_USEC=300000")
        # SIGHUP: RELOADING=1 with the request's time, then READY=1.
        p.send_signal(signal.SIGHUP)
        m = wait_for(sock, "RELOADING", 5)
        if m["RELOADING"] != "1" or not m.get("MONOTONIC_USEC", "").isdigit():
            fail(f"RELOADING message {m}")
        wait_for(sock, "READY", 5)
        # SIGTERM: STOPPING=1, then a clean exit.
        p.send_signal(signal.SIGTERM)
        wait_for(sock, "STOPPING", 5)
        rc = p.wait(timeout=15)
        if rc != 0:
            fail(f"exit {rc} after SIGTERM")
    finally:
        if p.poll() is None:
            p.kill()
        sock.close()
    print(f"ok notify: READY, {pings} watchdog pings in 1.5 s, RELOADING/READY, STOPPING, exit 0")


def abstract_and_foreign_watchdog(binary):
    name = f"@atmos-notify-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name[1:])
    env = base_env()
    env["NOTIFY_SOCKET"] = name
    env["WATCHDOG_USEC"] = "300000"
    env["WATCHDOG_PID"] = "1"  # not the relay: no pings
    p, port = start(binary, env)
    try:
        wait_for(sock, "READY", 10)
        health(port)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 0.8:
            m = recv(sock, 0.3)
            if m and "WATCHDOG" in m:
                fail("WATCHDOG=1 although WATCHDOG_PID names another process")
        p.send_signal(signal.SIGTERM)
        wait_for(sock, "STOPPING", 5)
        if p.wait(timeout=15) != 0:
            fail("exit status after SIGTERM")
    finally:
        if p.poll() is None:
            p.kill()
        sock.close()
    print("ok notify: abstract socket; no pings for another WATCHDOG_PID")


def without_socket(binary):
    p, port = start(binary, base_env())
    try:
        status, _ = health(port)
        if status != 200:
            fail(f"/health without NOTIFY_SOCKET: {status}")
        p.send_signal(signal.SIGTERM)
        if p.wait(timeout=15) != 0:
            fail("exit status without NOTIFY_SOCKET")
    finally:
        if p.poll() is None:
            p.kill()
    print("ok notify: runs as before without NOTIFY_SOCKET")


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory(prefix="atmos-notify-") as tmp:
        full_cycle(binary, tmp)
    abstract_and_foreign_watchdog(binary)
    without_socket(binary)


if __name__ == "__main__":
    main()
