#!/usr/bin/env python3
"""tests/portmap/fake_gateway.py LAN_IP: a gateway that answers every
port-mapping protocol with garbage, for tests/portmap/lab.sh.

- UDP 5351 (PCP and NAT-PMP): each request gets the next answer of a list of
  bad ones: random bytes, truncated and oversized messages, PCP answers with
  another nonce, "successful" mappings to 0.0.0.0, 127.0.0.1 and port 0,
  NAT-PMP answers too short to hold their fields, a public address of 0.0.0.0.
- SSDP: answers M-SEARCH with two devices, one on another host (must be
  ignored) and one here whose description is an IGD whose SOAP answers are
  garbage (GetExternalIPAddress says "not-an-address").
Prints what it answered to stdout."""
import os
import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

lan = sys.argv[1]
lock = threading.Lock()


def log(msg):
    with lock:
        print(msg, flush=True)


def pcp_bad(req, i):
    """The i-th bad answer to a PCP request."""
    op = req[1] & 0x7F if len(req) > 1 else 1
    nonce = req[24:36] if len(req) >= 36 else bytes(12)
    proto_port = req[36:42] if len(req) >= 42 else bytes(6)

    def hdr(result=0, lifetime=3600):
        return bytes([2, 0x80 | op, 0, result]) + struct.pack(">II", lifetime, 7) + bytes(12)

    def v4(a):
        return bytes(10) + b"\xff\xff" + bytes(a)

    body = lambda n, port, ip: n + proto_port[:1] + bytes(3) + proto_port[4:6] + struct.pack(">H", port) + v4(ip)
    answers = [
        os.urandom(60),
        hdr()[:10],
        hdr() + body(nonce, 7777, (198, 51, 100, 1)) + bytes(1100),
        hdr() + body(bytes(reversed(nonce)), 7777, (198, 51, 100, 1)),
        hdr() + body(nonce, 7777, (0, 0, 0, 0)),
        hdr() + body(nonce, 7777, (127, 0, 0, 1)),
        hdr() + body(nonce, 0, (198, 51, 100, 1)),
        hdr(lifetime=0) + body(nonce, 7777, (198, 51, 100, 1)),
        hdr() + body(nonce, 7777, (198, 51, 100, 1)) + bytes([0x80, 0, 0xFF, 0xFF]),
        bytes([2, 0x81, 0, 0]) + bytes(21),
    ]
    return answers[i % len(answers)]


def natpmp_bad(req, i):
    op = req[1] if len(req) > 1 else 0
    answers = [
        bytes([0, 128 + op]),
        bytes([0, 128 + op, 0, 0]) + struct.pack(">I", 5),
        bytes([0, 128 + op, 0, 0]) + struct.pack(">I", 5) + bytes(4),   # public address 0.0.0.0
        os.urandom(16),
        bytes([0, 128 + op, 0, 0]) + struct.pack(">I", 5) + bytes([224, 0, 0, 1]),
        bytes([0, 128 + op, 0, 0]) + struct.pack(">I", 5) + struct.pack(">HHI", 7777, 0, 0),
    ]
    return answers[i % len(answers)]


def udp_5351():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((lan, 5351))
    i = 0
    while True:
        req, peer = s.recvfrom(2048)
        kind = "pcp" if req[:1] == b"\x02" else "natpmp"
        ans = pcp_bad(req, i) if kind == "pcp" else natpmp_bad(req, i)
        s.sendto(ans, peer)
        log(f"5351 {kind} #{i}: {len(ans)} bytes")
        i += 1


DESC = """<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>0</minor></specVersion>
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><controlURL>/ctl</controlURL>
<eventSubURL>/evt</eventSubURL><SCPDURL>/scpd.xml</SCPDURL></service></serviceList>
</device></deviceList></device></deviceList></device></root>"""

SOAP = """<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body>
<u:{0}Response xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1">{1}</u:{0}Response></s:Body></s:Envelope>"""


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, body):
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        log(f"http GET {self.path}")
        self.reply(DESC if self.path == "/desc.xml" else "<<<not xml")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0") or 0)
        self.rfile.read(min(n, 65536))
        action = self.headers.get("SOAPAction", "").strip('"').split("#")[-1]
        log(f"http POST {action}")
        if action == "GetStatusInfo":
            self.reply(SOAP.format(action, "<NewConnectionStatus>Connected</NewConnectionStatus>"))
        elif action == "GetExternalIPAddress":
            self.reply(SOAP.format(action, "<NewExternalIPAddress>not-an-address</NewExternalIPAddress>"))
        else:
            self.reply("<garbage")


def ssdp(http_port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("239.255.255.250", 1900))
    mreq = socket.inet_aton("239.255.255.250") + socket.inet_aton(lan)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    while True:
        data, peer = s.recvfrom(2048)
        if not data.startswith(b"M-SEARCH"):
            continue
        for loc in (f"http://203.0.113.99:{http_port}/desc.xml", f"http://{lan}:{http_port}/desc.xml"):
            ans = ("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\n"
                   "ST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\n"
                   f"USN: uuid:fake::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nLOCATION: {loc}\r\n\r\n")
            s.sendto(ans.encode(), peer)
        log(f"ssdp answered {peer[0]}")


httpd = HTTPServer((lan, 0), Handler)
threading.Thread(target=udp_5351, daemon=True).start()
threading.Thread(target=ssdp, args=(httpd.server_address[1],), daemon=True).start()
log(f"fake gateway on {lan}, http port {httpd.server_address[1]}")
httpd.serve_forever()
