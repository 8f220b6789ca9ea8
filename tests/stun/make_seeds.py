#!/usr/bin/env python3
"""Writes the STUN fuzz seeds (tests/fuzz/corpus/stun/) and the malformed
messages test_msg.c asserts are rejected (tests/stun/malformed/).

Run from anywhere: python3 tests/stun/make_seeds.py. The outputs are checked
in; rerun only to change them. Checksums come from zlib and hmac, independent
of the C code under test."""
import hashlib
import hmac
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "fuzz", "corpus", "stun")
MALFORMED = os.path.join(HERE, "malformed")

COOKIE = 0x2112A442
TXID = bytes.fromhex("b7e7a701bc34d686fa87dfae")
PASSWORD = b"VOkJxbRl1RmTxUk/WvJxBt"


def attr(t, value, pad=b"\0"):
    return struct.pack("!HH", t, len(value)) + value + pad * (-len(value) % 4)


def header(t, body_len, txid=TXID):
    return struct.pack("!HHI", t, body_len, COOKIE) + txid


def message(t, attrs, txid=TXID):
    body = b"".join(attrs)
    return header(t, len(body), txid) + body


def with_integrity(msg, key, sha256=False):
    t, alg, n = (0x001C, hashlib.sha256, 32) if sha256 else (0x0008, hashlib.sha1, 20)
    length = len(msg) - 20 + 4 + n
    hashed = msg[:2] + struct.pack("!H", length) + msg[4:]
    mac = hmac.new(key, hashed, alg).digest()
    return msg[:2] + struct.pack("!H", length) + msg[4:] + attr(t, mac)


def with_fingerprint(msg):
    length = len(msg) - 20 + 8
    m = msg[:2] + struct.pack("!H", length) + msg[4:]
    crc = (zlib.crc32(m) ^ 0x5354554E) & 0xFFFFFFFF
    return m + attr(0x8028, struct.pack("!I", crc))


def xor_addr_v4(ip, port):
    return struct.pack("!BBH", 0, 1, port ^ (COOKIE >> 16)) + struct.pack("!I", ip ^ COOKIE)


def xor_addr_v6(ip16, port, txid=TXID):
    """RFC 8489 section 14.2: X-Address is the address XOR the cookie || txid."""
    mask = struct.pack("!I", COOKIE) + txid
    return struct.pack("!BBH", 0, 2, port ^ (COOKIE >> 16)) + bytes(a ^ b for a, b in zip(ip16, mask))


def addr_v6(ip16, port):
    return struct.pack("!BBH", 0, 2, port) + ip16


RFC5769 = {
    "rfc5769_2_1_request.bin": "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e20746573742063"
    "6c69656e74002400046e0001ff80290008932ff9b151263b36000600096576746a3a68"
    "36765920202000080014"
    "9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf",
    "rfc5769_2_2_ipv4_response.bin": "0101003c2112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f"
    "7220002000080001a147e112a643000800142b91f599fd9e90c38c7489f92af9ba53f06be7d7"
    "80280004c07d4c96",
    "rfc5769_2_3_ipv6_response.bin": "010100482112a442b7e7a701bc34d686fa87dfae8022000b7465737420766563746f"
    "7220002000140002a1470113a9faa5d3f179bc25f4b5bed2b9d900080014a382954e4be67bf1"
    "1784c97c8292c275bfe3ed4180280004c8fb0b4c",
    "rfc5769_2_4_long_term.bin": "000100602112a44278ad3433c6ad72c029da412e00060012e3839ee38388e383aae3"
    "8383e382afe382b90000001500"
    "1c662f2f343939"
    "6b39353464364f4c33346f4c39465354767936347341001400"
    "0b6578616d706c652e6f726700000800"
    "14f67024656dd64a3e02b8e0712e85c9a28ca89666",
}


def check_rfc5769(vectors):
    """The hex above is retyped from RFC 5769: recompute its checksums."""
    for name in ("rfc5769_2_1_request.bin", "rfc5769_2_2_ipv4_response.bin", "rfc5769_2_3_ipv6_response.bin"):
        v = vectors[name]
        assert with_fingerprint(with_integrity(v[:-32], PASSWORD)) == v, name
    v = vectors["rfc5769_2_4_long_term.bin"]
    key = hashlib.md5("\u30de\u30c8\u30ea\u30c3\u30af\u30b9:example.org:TheMatrIX".encode()).digest()
    assert with_integrity(v[:-24], key) == v, "2.4"


def seeds():
    out = {name: bytes.fromhex(h) for name, h in RFC5769.items()}
    check_rfc5769(out)
    out["binding_request_empty.bin"] = header(0x0001, 0)
    out["binding_indication_fingerprint.bin"] = with_fingerprint(header(0x0011, 0))
    out["binding_success_sha256.bin"] = with_fingerprint(
        with_integrity(
            with_integrity(message(0x0101, [attr(0x0020, xor_addr_v4(0xC0000201, 32853))]), PASSWORD),
            PASSWORD,
            sha256=True,
        )
    )
    out["error_420_unknown.bin"] = with_fingerprint(
        message(
            0x0111,
            [
                attr(0x0009, b"\0\0\x04\x14Unknown Attribute"),
                attr(0x000A, struct.pack("!HH", 0x0024, 0x7FFF)),
                attr(0x8022, b"atmosphere"),
            ],
        )
    )
    out["rfc5780_request.bin"] = message(
        0x0001,
        [
            attr(0x0003, struct.pack("!I", 6)),
            attr(0x0027, struct.pack("!HH", 40000, 0)),
            attr(0x0026, b"\0" * 64),
            attr(0x0006, b"user:frag"),
            attr(0x0014, b"example.org"),
            attr(0x0015, b"nonce-123"),
        ],
    )
    out["rfc5780_response.bin"] = with_fingerprint(
        message(
            0x0101,
            [
                attr(0x0001, struct.pack("!BBH", 0, 1, 3478) + bytes([192, 0, 2, 7])),
                attr(0x802B, struct.pack("!BBH", 0, 1, 3479) + bytes([198, 51, 100, 1])),
                attr(0x802C, struct.pack("!BBH", 0, 2, 3480) + bytes.fromhex("20010db8000000000000000000000001")),
                attr(0x8023, struct.pack("!BBH", 0, 1, 3481) + bytes([203, 0, 113, 9])),
            ],
        )
    )
    # IPv6 everywhere an address goes: what our server answers a v6 client
    # in RFC 5780 mode (XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS),
    # plus the MAPPED-ADDRESS of older servers.
    v6 = bytes.fromhex
    out["rfc5780_response_v6.bin"] = with_fingerprint(
        message(
            0x0101,
            [
                attr(0x0020, xor_addr_v6(v6("20010db8000100020000000000000042"), 50123)),
                attr(0x0001, addr_v6(v6("20010db8000100020000000000000042"), 50123)),
                attr(0x802B, addr_v6(v6("20010db8ffff00000000000000000001"), 3478)),
                attr(0x802C, addr_v6(v6("20010db8ffff00000000000000000002"), 3479)),
                attr(0x8022, b"atmosphere"),
            ],
        )
    )
    out["binding_success_v6_loopback.bin"] = with_fingerprint(
        message(0x0101, [attr(0x0020, xor_addr_v6(v6("00000000000000000000000000000001"), 1))])
    )
    return out


def malformed():
    req = bytes.fromhex(RFC5769["rfc5769_2_1_request.bin"])
    out = {}
    out["truncated_header.bin"] = req[:10]
    out["truncated_body.bin"] = req[:-4]
    out["bad_cookie.bin"] = req[:4] + b"\x21\x12\xa4\x43" + req[8:]
    out["leading_bits_rtp.bin"] = b"\x80" + req[1:]
    out["odd_length.bin"] = req[:2] + struct.pack("!H", len(req) - 20 - 2) + req[4:-2]
    out["trailing_bytes.bin"] = req + b"\0\0\0\0"
    out["attr_overrun.bin"] = header(0x0001, 8) + struct.pack("!HH", 0x8022, 0x0100) + b"abcd"
    out["attr_missing_padding.bin"] = header(0x0001, 8) + struct.pack("!HH", 0x8022, 5) + b"abcd"
    # A valid FINGERPRINT, then one more attribute (length fixed up).
    body = with_fingerprint(header(0x0001, 0))[20:] + attr(0x8022, b"late")
    out["fingerprint_not_last.bin"] = header(0x0001, len(body)) + body
    # RFC 8489 section 14.1: family 0x02 carries exactly 16 address bytes, 0x01 exactly 4.
    ip6 = bytes.fromhex("20010db8000000000000000000000001")
    out["xor_addr_v6_short.bin"] = message(0x0101, [attr(0x0020, xor_addr_v6(ip6, 3478)[:12])])
    out["mapped_addr_v6_long.bin"] = message(0x0101, [attr(0x0001, addr_v6(ip6, 3478) + b"\0\0\0\0")])
    out["other_addr_v4_family_v6_length.bin"] = message(0x0101, [attr(0x802C, struct.pack("!BBH", 0, 1, 3479) + ip6)])
    out["response_origin_v6_19_bytes.bin"] = message(0x0101, [attr(0x802B, addr_v6(ip6, 3478)[:19])])
    out["xor_addr_bad_family.bin"] = message(0x0101, [attr(0x0020, b"\0\x03\xa1\x47\xe1\x12\xa6\x43")])
    out["error_code_class_7.bin"] = message(0x0111, [attr(0x0009, b"\0\0\x07\x00oops")])
    out["integrity_short.bin"] = message(0x0001, [attr(0x0008, b"\0" * 16)])
    out["too_many_attrs.bin"] = message(0x0001, [attr(0x8022, b"")] * 33)
    return out


def write(dirname, files):
    os.makedirs(dirname, exist_ok=True)
    for name, data in files.items():
        with open(os.path.join(dirname, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    write(CORPUS, seeds())
    write(MALFORMED, malformed())
