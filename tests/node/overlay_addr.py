#!/usr/bin/python3
"""tests/node/overlay_addr.py: the tests' own copy of overlay/addr.h's
derivation (so a change to it shows in the tests too).

  overlay_addr.py grind MESH   two random node ids whose IPv4 overlay
                               addresses at counter 0 are equal in MESH:
                               "larger smaller" (a birthday search, a few
                               thousand SHA-256)
  overlay_addr.py addr MESH ID N   "v4 v6" of node ID at counter N
"""
import hashlib, ipaddress, os, sys

def h(label, mesh, node, n):
    return hashlib.sha256(label + b"\0" + mesh + b"\0" + node + b"\0" + n.to_bytes(4, "big")).digest()

def v4(mesh, node, n):
    host = int.from_bytes(h(b"atmosphere-v4", mesh, node, n)[:4], "big") & 0x3FFFFF
    host = 1 if host == 0 else host - 1 if host == 0x3FFFFF else host
    return str(ipaddress.IPv4Address(0x64400000 | host))

def v6(mesh, node, n):
    pre = b"\xfd" + hashlib.sha256(b"atmosphere-v6\0" + mesh).digest()[:5] + b"\0\0"
    iid = h(b"atmosphere-iid", mesh, node, n)[:8]
    if iid == bytes(8):
        iid = bytes(7) + b"\1"
    return str(ipaddress.IPv6Address(pre + iid))

if sys.argv[1] == "grind":
    # Two random ids with the same v4 address at counter 0: "larger smaller".
    mesh, seen = sys.argv[2].encode(), {}
    for _ in range(200000):
        node = b"node-%016x" % int.from_bytes(os.urandom(8), "big")
        a = v4(mesh, node, 0)
        if a in seen and seen[a] != node:
            x, y = sorted([seen[a], node])
            print(y.decode(), x.decode())
            sys.exit(0)
        seen[a] = node
    sys.exit(1)
m, node, n = sys.argv[2].encode(), sys.argv[3].encode(), int(sys.argv[4])
print(v4(m, node, n), v6(m, node, n))
