#!/usr/bin/env python3
"""Independent reference for docs/E2E.md and docs/TOKENS.md.

Recomputes, from the documents' descriptions and with Python's own crypto
(hashlib, hmac, json, base64 and the `cryptography` package for X25519 and
ChaCha20-Poly1305) rather than the C code under test:

  * the e2e handshake and transport test vectors (printed as C arrays for
    tests/node/test_e2e.c, and as hex for docs/E2E.md);
  * the join-code test vector (tests/node/test_token.c, docs/TOKENS.md);
  * the join-code fuzz seeds and malformed files in tests/fuzz/corpus/token/.

Run from anywhere: python3 tests/node/make_vectors.py [--write-corpus]. The
outputs are checked in; rerun only to change them."""
import base64
import hashlib
import hmac
import json
import os
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives import serialization

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "..", "fuzz", "corpus", "token")


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def hkdf(salt, ikm, info, n):
    """RFC 5869 HKDF-SHA256."""
    prk = hmac.new(salt if salt else b"\0" * 32, ikm, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


# --------------------------------------------------------------------------
# e2e (docs/E2E.md)

CONSTRUCTION = b"Noise_IKpsk2_25519_ChaChaPoly_SHA256"
IDENTIFIER = b"atmosphere e2e v1"


def pub_of(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def dh(priv, pub):
    return X25519PrivateKey.from_private_bytes(priv).exchange(X25519PublicKey.from_public_bytes(pub))


def aead(key, counter, ad, plain):
    return ChaCha20Poly1305(key).encrypt(b"\0" * 4 + struct.pack("<Q", counter), plain, ad)


def noise_kdf(ck, ikm, n):
    return [hkdf(ck, ikm, b"", 32 * n)[32 * i:32 * (i + 1)] for i in range(n)]


def mac1(receiver_pub, msg):
    key = sha256(b"mac1----", receiver_pub)
    return hmac.new(key, msg, hashlib.sha256).digest()[:16]


def tai64n(sec, nsec):
    return struct.pack(">QI", (1 << 62) + sec, nsec)


def e2e_vectors():
    s_i = bytes(range(0x01, 0x21))
    s_r = bytes(range(0x21, 0x41))
    e_i = bytes(range(0x41, 0x61))
    e_r = bytes(range(0x61, 0x81))
    psk = bytes(range(0x81, 0xa1))
    S_i, S_r, E_i, E_r = pub_of(s_i), pub_of(s_r), pub_of(e_i), pub_of(e_r)
    idx_i, idx_r = 0x11223344, 0x55667788
    ts = tai64n(1700000000, 123456789)
    app = bytes(range(0xc0, 0xe0))

    # initiation
    ck = h = sha256(CONSTRUCTION)
    h = sha256(h, IDENTIFIER)
    h = sha256(h, S_r)
    hdr = bytes([1, 0, 0, 0]) + struct.pack("<I", idx_i)
    h = sha256(h, hdr)
    h = sha256(h, E_i)
    ck, = noise_kdf(ck, E_i, 1)
    ck, k = noise_kdf(ck, dh(e_i, S_r), 2)
    enc_s = aead(k, 0, h, S_i)
    h = sha256(h, enc_s)
    ck, k = noise_kdf(ck, dh(s_i, S_r), 2)
    enc_p = aead(k, 0, h, ts + app)
    h = sha256(h, enc_p)
    init = hdr + E_i + enc_s + enc_p
    init += mac1(S_r, init)
    assert len(init) == 164

    # response
    hdr = bytes([2, 0, 0, 0]) + struct.pack("<II", idx_r, idx_i)
    h = sha256(h, hdr)
    h = sha256(h, E_r)
    ck, = noise_kdf(ck, E_r, 1)
    ck, = noise_kdf(ck, dh(e_r, E_i), 1)
    ck, = noise_kdf(ck, dh(e_r, S_i), 1)
    ck, tau, k = noise_kdf(ck, psk, 3)
    h = sha256(h, tau)
    enc_e = aead(k, 0, h, b"")
    h = sha256(h, enc_e)
    resp = hdr + E_r + enc_e
    resp += mac1(S_i, resp)
    assert len(resp) == 76
    t_i2r, t_r2i = noise_kdf(ck, b"", 2)

    def data(key, receiver, counter, plain):
        hdr = bytes([3, 0, 0, 0]) + struct.pack("<IQ", receiver, counter)
        return hdr + aead(key, counter, hdr, plain)

    d1 = data(t_i2r, idx_r, 0, b"hello")
    d2 = data(t_r2i, idx_i, 0, b"world")
    d3 = data(t_i2r, idx_r, 1, b"")
    return {
        "s_i_pub": S_i, "s_r_pub": S_r, "e_i_pub": E_i, "e_r_pub": E_r,
        "timestamp": ts, "init": init, "response": resp,
        "key_i2r": t_i2r, "key_r2i": t_r2i, "handshake_hash": h,
        "data_i2r_hello": d1, "data_r2i_world": d2, "data_i2r_keepalive": d3,
    }


# --------------------------------------------------------------------------
# join codes (docs/TOKENS.md)

def derive(ikm, label, ctx=b""):
    return hkdf(b"", ikm, label + ctx, 32)


def pstr(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def canonical(t):
    out = bytes([1]) + pstr(t["mesh_id"]) + pstr(t["mesh_name"]) + pstr(t["endpoint"])
    out += pstr(t["public_endpoint"])
    out += bytes([len(t["relay_urls"])]) + b"".join(pstr(u) for u in t["relay_urls"])
    out += bytes([len(t["stun"])]) + b"".join(pstr(u) for u in t["stun"])
    out += struct.pack(">QQ", t["created_at"], t["expires_at"])
    out += pstr(t["node_id"]) + t["node_pub"] + t["invite_id"]
    # Optional ipv6_endpoints, only when present: tag 0x36, count, strs.
    if t.get("ipv6_endpoints"):
        out += bytes([0x36, len(t["ipv6_endpoints"])]) + b"".join(pstr(e) for e in t["ipv6_endpoints"])
    return out


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def issue(t, secret):
    """Returns (invite_key, mac, json_bytes, code, short_code)."""
    ctx = pstr(t["mesh_id"]) + t["invite_id"] + struct.pack(">QQ", t["created_at"], t["expires_at"])
    invite_key = derive(secret, b"atmosphere v1 invite key", ctx)
    canon = canonical(t)
    mac = hmac.new(derive(invite_key, b"atmosphere v1 token mac"), canon, hashlib.sha256).digest()
    obj = {
        "v": 1, "mesh_id": t["mesh_id"], "mesh_name": t["mesh_name"], "endpoint": t["endpoint"],
        "public_endpoint": t["public_endpoint"],
        **({"ipv6_endpoints": t["ipv6_endpoints"]} if t.get("ipv6_endpoints") else {}),
        "relay_urls": t["relay_urls"], "stun": t["stun"],
        "created_at": t["created_at"], "expires_at": t["expires_at"], "node_id": t["node_id"],
        "node_pub": b64url(t["node_pub"]), "invite_id": b64url(t["invite_id"]),
        "invite_key": b64url(invite_key), "mac": b64url(mac),
    }
    js = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    code = base64.b64encode(js).decode()
    bits = int.from_bytes(sha256(b"atmosphere v1 short code", canon, mac)[:8], "big") >> 4
    sym = "".join(CROCKFORD[(bits >> (55 - 5 * i)) & 31] for i in range(12))
    short = "MESH-" + sym[0:4] + "-" + sym[4:8] + "-" + sym[8:12]
    return invite_key, mac, js, code, short, obj


SECRET = bytes(range(0xa0, 0xc0))
NODE_PRIV = bytes(range(0x01, 0x21))
BASE = {
    "mesh_id": "mesh-abc123",
    "mesh_name": "my-mesh",
    "endpoint": "192.168.1.100:7777",
    "public_endpoint": "203.0.113.10:7777",
    "relay_urls": ["ws://relay.atmosphere.dev:8080"],
    "stun": ["stun.l.google.com:19302", "stun.cloudflare.com:3478"],
    "created_at": 1234567890,
    "expires_at": 1234654290,
    "node_id": "rob-laptop",
    "node_pub": pub_of(NODE_PRIV),
    "invite_id": bytes(range(0xf0, 0x100)),
}
# A time inside BASE's validity (decoders of the corpus use it).
NOW = 1234600000


def token_vectors():
    invite_key, mac, js, code, short, _ = issue(BASE, SECRET)
    return {
        "secret": SECRET, "invite_key": invite_key, "mac": mac, "json": js, "code": code,
        "short": short, "mesh_psk": derive(SECRET, b"atmosphere v1 mesh psk"),
        "join_psk": derive(invite_key, b"atmosphere v1 join psk"),
    }


def b64(js):
    return base64.b64encode(js).decode()


def corpus():
    """name -> bytes. Names starting bad-<status>- must fail with that status,
    ok- must decode; json-ok-/json-bad-<status>- are the JSON inside a code."""
    out = {}
    _, _, js, code, _, obj = issue(BASE, SECRET)
    out["ok-base"] = code.encode()
    out["ok-urlsafe-unpadded"] = base64.urlsafe_b64encode(js).rstrip(b"=")
    out["ok-whitespace"] = b"  \n" + code.encode() + b"\r\n\t"
    t = dict(BASE, endpoint="", public_endpoint="[2001:db8::1]:7777", relay_urls=[], stun=[],
             mesh_name="R\u00f6b's \"mesh\" \u2603", node_id="n.1_x-2")
    out["ok-ipv6-unicode"] = issue(t, SECRET)[3].encode()
    t = dict(BASE, endpoint="", public_endpoint="", stun=["[2001:db8::2]:3478"] * 8,
             relay_urls=["wss://r%d.example.org/relay?x=1#f" % i for i in range(4)])
    out["ok-max-lists"] = issue(t, SECRET)[3].encode()
    # ipv6_endpoints (optional): the issuer's global IPv6 endpoints.
    v6 = ["[2001:db8:1::2]:7777", "[2001:db8:ffff:ffff:ffff:ffff:ffff:ffff]:65535"]
    t6 = dict(BASE, ipv6_endpoints=v6)
    _, _, js6, code6, _, _ = issue(t6, SECRET)
    out["ok-ipv6-endpoints"] = code6.encode()
    out["json-ok-ipv6-endpoints"] = js6
    out["ok-ipv6-endpoints-only"] = issue(dict(BASE, endpoint="", public_endpoint="", relay_urls=[],
                                                ipv6_endpoints=v6[:1]), SECRET)[3].encode()

    def mutate6(name, change, status):
        o = json.loads(js6)
        change(o)
        out["bad-%s-%s" % (status, name)] = b64(json.dumps(o, separators=(",", ":"), ensure_ascii=False).encode()).encode()
    mutate6("ipv6_endpoints-v4", lambda o: o.update(ipv6_endpoints=["192.0.2.1:7777"]), "bad_field")
    mutate6("ipv6_endpoints-unbracketed", lambda o: o.update(ipv6_endpoints=["2001:db8::1:7777"]), "bad_field")
    mutate6("ipv6_endpoints-mapped", lambda o: o.update(ipv6_endpoints=["[::ffff:192.0.2.1]:7777"]), "bad_field")
    mutate6("ipv6_endpoints-empty-list", lambda o: o.update(ipv6_endpoints=[]), "bad_field")
    mutate6("ipv6_endpoints-empty-item", lambda o: o.update(ipv6_endpoints=[""]), "bad_field")
    mutate6("ipv6_endpoints-5", lambda o: o.update(ipv6_endpoints=["[2001:db8::1]:1"] * 5), "bad_field")
    mutate6("ipv6_endpoints-string", lambda o: o.update(ipv6_endpoints="[2001:db8::1]:1"), "bad_field")
    mutate6("ipv6_endpoints-zone", lambda o: o.update(ipv6_endpoints=["[fe80::1%eth0]:7777"]), "bad_field")
    mutate6("mac-tampered-ipv6", lambda o: o.update(ipv6_endpoints=["[2001:db8:666::1]:7777"]), "bad_mac")
    mutate6("mac-dropped-ipv6", lambda o: o.pop("ipv6_endpoints"), "bad_mac")

    def mutate(name, change, status):
        o = json.loads(js)
        change(o)
        out["bad-%s-%s" % (status, name)] = b64(json.dumps(o, separators=(",", ":"), ensure_ascii=False).encode()).encode()

    def resign(name, changes, status):
        t = dict(BASE, **changes)
        out["bad-%s-%s" % (status, name)] = issue(t, SECRET)[3].encode()

    # length, base64, JSON
    out["bad-too_long-4097"] = b"A" * 4097
    out["bad-base64-empty"] = b""
    out["bad-base64-only-spaces"] = b"   \n"
    out["bad-base64-star"] = code[:40].encode() + b"*" + code[41:].encode()
    out["bad-base64-inner-space"] = code[:40].encode() + b" " + code[40:].encode()
    bare = code.rstrip("=")
    out["bad-base64-truncated-1mod4"] = bare[:len(bare) - (len(bare) - 1) % 4].encode()
    out["bad-base64-wrong-padding"] = base64.b64encode(b"{}x").rstrip(b"=") + b"="
    out["bad-not_json-garbage"] = b64(b"hello, world").encode()
    out["bad-not_json-array"] = b64(b"[1,2,3]").encode()
    out["ok-json-trailing-space"] = b64(js + b" \n").encode()  # RFC 8259 §2: ws around the value
    out["bad-not_json-trailing"] = b64(js + b" x").encode()
    out["bad-not_json-two-objects"] = b64(js + b"{}").encode()
    out["bad-not_json-truncated"] = b64(js[:-1]).encode()
    out["bad-not_json-deep"] = b64(js[:-1] + b',"x":[[1]]}').encode()
    out["bad-not_json-bad-utf8"] = b64(js.replace(b"my-mesh", b"my-\xc3\x28sh")).encode()
    # json-c's strict mode still takes single quotes; the mac covers values,
    # not spelling, so this is the same token.
    out["ok-json-single-quotes"] = b64(js.replace(b'"v"', b"'v'")).encode()
    out["bad-not_json-nul-byte"] = b64(js + b"\0").encode()
    # version and fields
    mutate("v2", lambda o: o.update(v=2), "version")
    mutate("v0", lambda o: o.update(v=0), "version")
    mutate("v-missing", lambda o: o.pop("v"), "missing_field")
    mutate("v-string", lambda o: o.update(v="1"), "bad_field")
    for f in ["mesh_id", "mesh_name", "endpoint", "public_endpoint", "relay_urls", "stun", "created_at",
              "expires_at", "node_id", "node_pub", "invite_id", "invite_key", "mac"]:
        mutate("no-" + f, lambda o, f=f: o.pop(f), "missing_field")
    mutate("mesh_id-int", lambda o: o.update(mesh_id=5), "bad_field")
    mutate("mesh_id-slash", lambda o: o.update(mesh_id="../etc"), "bad_field")
    mutate("mesh_id-65", lambda o: o.update(mesh_id="m" * 65), "bad_field")
    mutate("mesh_name-escape", lambda o: o.update(mesh_name="\x1b[2Jpwned"), "bad_field")
    mutate("mesh_name-csi-c1", lambda o: o.update(mesh_name="a\u009b31mred"), "bad_field")
    mutate("mesh_name-bidi", lambda o: o.update(mesh_name="abc\u202egnp.exe"), "bad_field")
    mutate("mesh_name-nul", lambda o: o.update(mesh_name="a\u0000b"), "bad_field")
    mutate("mesh_name-empty", lambda o: o.update(mesh_name=""), "bad_field")
    mutate("endpoint-no-port", lambda o: o.update(endpoint="192.168.1.100"), "bad_field")
    mutate("endpoint-port-0", lambda o: o.update(endpoint="192.168.1.100:0"), "bad_field")
    mutate("endpoint-port-65536", lambda o: o.update(endpoint="192.168.1.100:65536"), "bad_field")
    mutate("endpoint-hostname", lambda o: o.update(endpoint="example.com:7777"), "bad_field")
    mutate("endpoint-v6-unbracketed", lambda o: o.update(endpoint="2001:db8::1:7777"), "bad_field")
    mutate("endpoint-null", lambda o: o.update(endpoint=None), "bad_field")
    mutate("relay_urls-string", lambda o: o.update(relay_urls="ws://r:1"), "bad_field")
    mutate("relay_urls-http", lambda o: o.update(relay_urls=["http://relay:8080"]), "bad_field")
    mutate("relay_urls-space", lambda o: o.update(relay_urls=["ws://relay :8080"]), "bad_field")
    mutate("relay_urls-5", lambda o: o.update(relay_urls=["ws://r:1"] * 5), "bad_field")
    mutate("relay_urls-64", lambda o: o.update(relay_urls=["ws://r:1"] * 64), "bad_field")
    mutate("stun-200", lambda o: o.update(stun=["s:1"] * 200), "bad_field")
    mutate("relay_urls-int-item", lambda o: o.update(relay_urls=[1]), "bad_field")
    mutate("stun-no-port", lambda o: o.update(stun=["stun.l.google.com"]), "bad_field")
    mutate("stun-bad-label", lambda o: o.update(stun=["-stun.example.com:3478"]), "bad_field")
    mutate("stun-9", lambda o: o.update(stun=["s:1"] * 9), "bad_field")
    mutate("created_at-float", lambda o: o.update(created_at=1234567890.5), "bad_field")
    mutate("created_at-negative", lambda o: o.update(created_at=-1), "bad_field")
    mutate("created_at-string", lambda o: o.update(created_at="1234567890"), "bad_field")
    mutate("expires_at-huge", lambda o: o.update(expires_at=10 ** 20), "bad_field")
    mutate("node_pub-short", lambda o: o.update(node_pub=b64url(b"\1" * 31)), "bad_field")
    mutate("node_pub-not-b64", lambda o: o.update(node_pub="!" * 43), "bad_field")
    url_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

    def noncanonical(o):
        # 32 bytes use 256 of the 258 bits of 43 symbols: set an unused one.
        k = o["invite_key"]
        o["invite_key"] = k[:-1] + url_alphabet[url_alphabet.index(k[-1]) | 1]
    mutate("invite_key-noncanonical", noncanonical, "bad_field")
    mutate("unknown-admin", lambda o: o.update(admin=True), "unknown_field")
    mutate("unknown-escape", lambda o: o.update({"\x1b[31mx": 1}), "unknown_field")
    # cross-field rules, signed properly so only the rule fails
    resign("expires-before-created", {"expires_at": BASE["created_at"]}, "bad_field")
    resign("lifetime-31-days", {"expires_at": BASE["created_at"] + 31 * 86400}, "bad_field")
    resign("nowhere-to-connect", {"endpoint": "", "public_endpoint": "", "relay_urls": []}, "bad_field")
    resign("zero-node-pub", {"node_pub": b"\0" * 32}, "bad_field")
    resign("zero-invite-id", {"invite_id": b"\0" * 16}, "bad_field")
    # tampering: every field edited after signing
    mutate("mac-tampered-name", lambda o: o.update(mesh_name="evil-mesh"), "bad_mac")
    mutate("mac-tampered-endpoint", lambda o: o.update(public_endpoint="198.51.100.66:7777"), "bad_mac")
    mutate("mac-tampered-relay", lambda o: o.update(relay_urls=["ws://evil.example:80"]), "bad_mac")
    mutate("mac-tampered-node-pub", lambda o: o.update(node_pub=b64url(bytes(range(32)))), "bad_mac")
    mutate("mac-extended-expiry", lambda o: o.update(expires_at=o["expires_at"] + 86400), "bad_mac")
    mutate("mac-other-key", lambda o: o.update(invite_key=b64url(b"\7" * 32)), "bad_mac")
    mutate("mac-flipped", lambda o: o.update(mac=b64url(b"\0" * 32)), "bad_mac")
    mutate("mac-stun-reordered", lambda o: o.update(stun=list(reversed(o["stun"]))), "bad_mac")
    # raw JSON (fuzz_token.c and test_token.c wrap inputs starting with '{')
    out["json-ok-base"] = js
    out["json-ok-escaped-spelling"] = js.replace(b'"mesh_id"', b'"\\u006desh_id"')
    out["json-bad-bad_mac-tampered-name"] = js.replace(b"my-mesh", b"my-mess")
    out["json-bad-not_json-unterminated"] = js[:-1]
    # validity at NOW
    resign("expired", {"created_at": NOW - 7200, "expires_at": NOW}, "expired")
    resign("future", {"created_at": NOW + 301, "expires_at": NOW + 3600}, "not_yet_valid")
    return out


def c_array(name, b):
    lines = []
    for i in range(0, len(b), 12):
        lines.append("\t" + " ".join("0x%02x," % x for x in b[i:i + 12]))
    return "static const uint8_t %s[%d] = {\n%s\n};" % (name, len(b), "\n".join(lines))


def main():
    v = e2e_vectors()
    print("/* --- e2e vectors --- */")
    for k, b in v.items():
        print(c_array("v_" + k, b))
    print()
    for k, b in v.items():
        print("%-20s %s" % (k, b.hex()))
    tv = token_vectors()
    print("\n/* --- token vector --- */")
    for k, b in tv.items():
        if isinstance(b, bytes) and k != "json":
            print("%-12s %s" % (k, b.hex()))
        else:
            print("%-12s %s" % (k, b if isinstance(b, str) else b.decode()))
    if "--write-corpus" in sys.argv:
        os.makedirs(CORPUS, exist_ok=True)
        for name, data in corpus().items():
            with open(os.path.join(CORPUS, name), "wb") as f:
                f.write(data)
        print("\nwrote %d files to %s" % (len(corpus()), os.path.normpath(CORPUS)))


if __name__ == "__main__":
    main()
