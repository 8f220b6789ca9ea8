#!/usr/bin/env python3
"""Writes tests/fuzz/corpus/pcp/: PCP responses (RFC 6887 sections 7, 11)
laid out with struct, independently of portmap/pcp.c. ok-* must parse;
bad-<status>-* must be refused with that status (tests/portmap/test_pcp.c
checks both; the fuzz replay runs them all)."""
import os
import struct
import sys

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus", "pcp")


def hdr(op=0x81, result=0, lifetime=3600, epoch=42, ver=2):
    return bytes([ver, op, 0, result]) + struct.pack(">II", lifetime, epoch) + bytes(12)


def v4(a):
    return bytes(10) + b"\xff\xff" + bytes(a)


NONCE = bytes(range(1, 13))


def body(proto=17, iport=7777, eport=7777, ip=(198, 51, 100, 10)):
    return NONCE + bytes([proto, 0, 0, 0]) + struct.pack(">HH", iport, eport) + v4(ip)


FILES = {
    "ok-map-success": hdr() + body(),
    "ok-map-success-other-port": hdr(lifetime=120) + body(eport=40123),
    "ok-map-deleted": hdr(lifetime=0) + body(eport=0, ip=(0, 0, 0, 0)),
    "ok-map-not-authorized": hdr(result=2, lifetime=1800) + body(),
    "ok-map-malformed-header-only": hdr(result=3, lifetime=1800),
    "ok-map-no-resources": hdr(result=8, lifetime=30) + body(),
    "ok-map-options": hdr() + body() + bytes([2, 0, 0, 0]) + bytes([0x80, 0, 0, 3, 0xAA, 0xBB, 0xCC, 0]),
    "ok-map-third-party": hdr() + body() + bytes([1, 0, 0, 16]) + v4((10, 1, 0, 7)),
    "ok-announce": hdr(op=0x80, lifetime=0),
    "ok-announce-unsupp-version": hdr(op=0x80, result=1, lifetime=0),
    "ok-map-v6-external": hdr() + NONCE + bytes([17, 0, 0, 0]) + struct.pack(">HH", 7777, 7777)
    + bytes([0x20, 0x01, 0x0D, 0xB8]) + bytes(11) + b"\x01",
    "bad-version-natpmp-answer": bytes([0, 129, 0, 1]) + struct.pack(">I", 1234) + bytes(8),
    "bad-version-natpmp-unsupported": bytes([0, 0x81, 0, 1]) + bytes(4),
    "bad-version-v1": hdr(ver=1) + body(),
    "bad-version-v3": hdr(ver=3) + body(),
    "bad-truncated-empty": b"",
    "bad-truncated-header": hdr()[:20],
    "bad-truncated-success-no-body": hdr(),
    "bad-truncated-short-body": hdr() + body()[:32],
    "bad-length-odd": hdr() + body() + b"\x00\x00",
    "bad-length-over-1100": hdr() + body() + bytes(1044),
    "bad-not_response-request": bytes([2, 1, 0, 0]) + struct.pack(">I", 7200) + v4((10, 1, 0, 2)) + body(),
    "bad-opcode-peer": hdr(op=0x82) + body() + bytes(20),
    "bad-opcode-unassigned": hdr(op=0xFF) + body(),
    "bad-option-overrun": hdr() + body() + bytes([2, 0, 0, 8, 0, 0, 0, 0]),
    "bad-option-length-ffff": hdr() + body() + bytes([0x80, 0, 0xFF, 0xFF]),
    "bad-too_many_options-zero-padding": hdr() + body() + bytes(17 * 4),
}

os.makedirs(out, exist_ok=True)
for name, data in FILES.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
print(f"{len(FILES)} files in {out}", file=sys.stderr)
