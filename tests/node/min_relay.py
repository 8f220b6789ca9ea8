#!/usr/bin/python3
"""tests/node/min_relay.py HOST PORT: the seed's relay protocol and nothing
else, in Python with aiohttp (PORT 0: any, printed).

GET /relay/{session_id} upgrades to a WebSocket. The first client of an id
waits; the second is paired with it; a third is turned away. Every message
of one is forwarded to the other as it is (binary stays binary, text stays
text). There is no paired notice, nothing is held for a peer that has not
arrived (it is dropped), and when either client leaves the other is closed.
Prints "min relay listening on HOST:PORT" when ready and one line per
session end with the messages forwarded each way.

tests/node/aiohttp_relay.sh runs the node through it: proof that the node
needs nothing beyond the seed's protocol from a relay.
"""
import asyncio
import sys

from aiohttp import WSMsgType, web

sessions = {}


async def relay(request):
    sid = request.match_info["session_id"]
    peers = sessions.setdefault(sid, [])
    if len(peers) >= 2:
        raise web.HTTPConflict(text="session full")
    ws = web.WebSocketResponse(max_msg_size=1 << 20)
    await ws.prepare(request)
    peers.append(ws)
    forwarded = 0
    try:
        async for msg in ws:
            other = [p for p in peers if p is not ws]
            if not other or other[0].closed:
                continue
            if msg.type == WSMsgType.BINARY:
                await other[0].send_bytes(msg.data)
            elif msg.type == WSMsgType.TEXT:
                await other[0].send_str(msg.data)
            else:
                continue
            forwarded += 1
    finally:
        peers.remove(ws)
        for p in peers:
            await p.close()
        if not peers:
            sessions.pop(sid, None)
        # The code of the client's Close frame (1006: it sent none, the
        # connection just ended): tests/node/shutdown.sh reads it.
        print(f"session {sid} client left: {forwarded} messages forwarded from it (close code {ws.close_code})",
              flush=True)
    return ws


async def main(host, port):
    app = web.Application()
    app.router.add_get("/relay/{session_id}", relay)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    port = runner.addresses[0][1]  # PORT 0: the one the kernel chose
    print(f"min relay listening on {host}:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1], int(sys.argv[2])))
    except KeyboardInterrupt:
        pass
