#!/usr/bin/python3
"""tests/node/codes.py: edits join codes for tests/node/bad_codes.sh.

Implements the code format of docs/TOKENS.md (base64 of a JSON object whose
mac is HMAC-SHA256(HKDF(invite_key, "atmosphere v1 token mac"), canonical))
so a test can make codes the node must refuse: edited without a new mac
(tampered), edited and re-signed (expired, not yet valid), or re-signed with
a key no mesh derived (a code for another secret).

  codes.py json CODE                  the decoded JSON
  codes.py set CODE FIELD=JSON...     edit fields, keep the old mac
  codes.py resign CODE FIELD=JSON...  edit fields, recompute the mac
  codes.py forge CODE FIELD=JSON...   edit fields, a random invite_key, new mac
  codes.py urlsafe CODE               the same code in unpadded base64url
  codes.py check CODE                 exit 0 when re-signing reproduces CODE
"""
import base64
import hashlib
import hmac
import json
import os
import struct
import sys

ORDER = ["v", "mesh_id", "mesh_name", "endpoint", "public_endpoint", "ipv6_endpoints", "relay_urls", "relay_keys",
         "stun", "created_at",
         "expires_at", "node_id", "node_pub", "invite_id", "invite_key", "mac"]


def b64u_dec(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64u_enc(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def hkdf(ikm, info):
    prk = hmac.new(b"\0" * 32, ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()


def s16(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def canonical(t):
    c = bytes([1]) + s16(t["mesh_id"]) + s16(t["mesh_name"]) + s16(t["endpoint"]) + s16(t["public_endpoint"])
    c += bytes([len(t["relay_urls"])]) + b"".join(s16(u) for u in t["relay_urls"])
    c += bytes([len(t["stun"])]) + b"".join(s16(u) for u in t["stun"])
    c += struct.pack(">QQ", t["created_at"], t["expires_at"]) + s16(t["node_id"])
    c += b64u_dec(t["node_pub"]) + b64u_dec(t["invite_id"])
    # The optional members, each only when present (docs/TOKENS.md).
    if t.get("relay_keys"):
        c += bytes([len(t["relay_keys"])]) + b"".join(s16(k) for k in t["relay_keys"])
    if t.get("ipv6_endpoints"):
        c += bytes([0x36, len(t["ipv6_endpoints"])]) + b"".join(s16(e) for e in t["ipv6_endpoints"])
    return c


def mac(t):
    key = hkdf(b64u_dec(t["invite_key"]), b"atmosphere v1 token mac")
    return b64u_enc(hmac.new(key, canonical(t), hashlib.sha256).digest())


def decode(code):
    return json.loads(base64.b64decode(code.replace("-", "+").replace("_", "/") + "=" * (-len(code) % 4)))


def encode(t):
    o = {k: t[k] for k in ORDER if k in t}
    o.update({k: v for k, v in t.items() if k not in o})
    return base64.b64encode(json.dumps(o, separators=(",", ":")).encode()).decode()


def edits(t, args):
    for a in args:
        k, v = a.split("=", 1)
        t[k] = json.loads(v)
    return t


def main():
    op, code, rest = sys.argv[1], sys.argv[2], sys.argv[3:]
    t = decode(code)
    if op == "json":
        print(json.dumps(t))
    elif op == "set":
        print(encode(edits(t, rest)))
    elif op == "resign":
        t = edits(t, rest)
        t["mac"] = mac(t)
        print(encode(t))
    elif op == "forge":
        t = edits(t, rest)
        t["invite_key"] = b64u_enc(os.urandom(32))
        t["mac"] = mac(t)
        print(encode(t))
    elif op == "urlsafe":
        print(base64.urlsafe_b64encode(base64.b64decode(code)).rstrip(b"=").decode())
    elif op == "check":
        t2 = dict(t)
        t2["mac"] = mac(t)
        sys.exit(0 if encode(t2) == code.strip() else 1)
    else:
        sys.exit("unknown operation " + op)


if __name__ == "__main__":
    main()
