"""The relay binary as a child process, for the Python test drivers
(tests/relay/interop.py, tests/attack/). Standard library only."""
import os
import re
import select
import signal
import subprocess
import time


class Relay:
    """`BINARY relay --port 0 --host 127.0.0.1 ARGS...`, stopped on exit.

    stderr (the relay's log) goes to a file the test can read."""

    def opt_size(self, name, default):
        """The value of a size option (64K, 1M...) the relay was given."""
        if name not in self.args:
            return default
        v = self.args[self.args.index(name) + 1]
        mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(v[-1:].upper(), 1)
        return int(v.rstrip("KkMmGg")) * mult

    def __init__(self, binary, *args, log_path=None):
        self.args = list(args)
        self.log_path = log_path or f"/tmp/atmos-attack-{os.getpid()}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [binary, "relay", "--port", "0", "--host", "127.0.0.1", *args],
            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, stderr=self.log)
        line = b""
        deadline = time.monotonic() + 10
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise AssertionError("relay did not print its port within 10 s")
            c = os.read(self.proc.stdout.fileno(), 1)
            if not c:
                raise AssertionError(f"relay exited: {self.proc.wait()}")
            line += c
        m = re.fullmatch(rb"relay listening on 127\.0\.0\.1:(\d+)\n", line)
        assert m, f"unexpected first line {line!r}"
        self.port = int(m.group(1))
        self.pid = self.proc.pid
        self.url = f"ws://127.0.0.1:{self.port}/relay/"

    def __enter__(self):
        return self

    def stop(self):
        """SIGTERM; returns the exit status (the relay exits 0 after a
        graceful stop; a sanitizer report makes it non-zero)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __exit__(self, *exc):
        self.stop()
        self.log.close()
        if exc[0] is None:
            os.unlink(self.log_path)

    # ---- what the relay spends, read from /proc
    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return -1

    def num_fds(self):
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def log_lines(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace").splitlines()

    def alive(self):
        return self.proc.poll() is None
