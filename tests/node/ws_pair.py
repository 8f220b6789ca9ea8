#!/usr/bin/python3
"""tests/node/ws_pair.py URL SESSION TEXT: two plain WebSocket clients meet
on SESSION of the relay at URL and one sends TEXT (a binary message) to the
other, unencrypted: the positive control of no_plaintext.sh (a capture that
holds the relay's traffic does show a plaintext message). Also checks the
relay forwards it unchanged. Exit 0 when the other side received TEXT."""
import asyncio
import sys

import aiohttp


async def main(url, session, text):
    data = text.encode()
    async with aiohttp.ClientSession() as http:
        a = await http.ws_connect(f"{url}/relay/{session}")
        b = await http.ws_connect(f"{url}/relay/{session}")
        await a.send_bytes(data)
        while True:
            m = await asyncio.wait_for(b.receive(), 10)
            if m.type == aiohttp.WSMsgType.BINARY:
                return m.data == data
            if m.type != aiohttp.WSMsgType.TEXT:  # the paired notice is text
                return False


if __name__ == "__main__":
    ok = asyncio.run(main(*sys.argv[1:4]))
    sys.exit(0 if ok else 1)
