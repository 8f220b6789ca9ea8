#!/usr/bin/python3
"""tests/node/doorbell_squat.py HOME URL SECONDS: a client that knows a
node's doorbell session id (as a member or the relay could) and takes it:
it connects to the relay at URL on the doorbell of the node whose state is
in HOME and never knocks. Prints how long it held the session before the
relay closed it ("dropped after N.N s"), or "held" when it was still open
after SECONDS. Exit 0 when it got paired with the node at all."""
import asyncio
import base64
import hashlib
import hmac
import json
import sys
import time

import aiohttp


def doorbell(home):
    with open(f"{home}/state.json") as f:
        st = json.load(f)
    secret = base64.b64decode(st["secret"])
    msg = f"atmosphere v1 relay doorbell {st['node_id']}".encode()
    return hmac.new(secret, msg, hashlib.sha256).hexdigest()[:40]


async def main(home, url, seconds):
    paired = False
    async with aiohttp.ClientSession() as http:
        ws = await http.ws_connect(f"{url}/relay/{doorbell(home)}")
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            try:
                m = await asyncio.wait_for(ws.receive(), seconds - (time.monotonic() - t0))
            except asyncio.TimeoutError:
                break
            if m.type == aiohttp.WSMsgType.TEXT:
                paired = paired or "paired" in m.data
                continue
            if m.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING,
                          aiohttp.WSMsgType.ERROR):
                print(f"dropped after {time.monotonic() - t0:.1f} s (paired: {paired})")
                return paired
        print(f"held for {seconds} s (paired: {paired})")
        await ws.close()
        return paired


if __name__ == "__main__":
    sys.exit(0 if asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]))) else 1)
