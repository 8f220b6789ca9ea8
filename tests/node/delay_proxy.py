"""tests/node/delay_proxy.py HOST PORT DELAY_FILE SECONDS [LISTEN]: a TCP
proxy on LISTEN (default 127.0.0.1; port chosen by the kernel, printed as
"listening on PORT") to HOST:PORT that holds every chunk, each way, for the
number of milliseconds in DELAY_FILE (read per chunk: 0, empty or missing
is no delay), +-20 % of jitter, order kept. Exits after SECONDS whatever
happens (a bounded helper for tests/node/relay_rtt.sh and
overlay_lazy.sh)."""
import asyncio
import random
import sys
import time

host, port, delay_file, life = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
listen = sys.argv[5] if len(sys.argv) > 5 else "127.0.0.1"


def delay():
    try:
        with open(delay_file) as f:
            ms = float(f.read().strip() or 0)
    except (OSError, ValueError):
        ms = 0.0
    return ms / 1000.0 * random.uniform(0.8, 1.2) if ms > 0 else 0.0


async def pump(reader, writer):
    q = asyncio.Queue()

    async def out():
        try:
            while True:
                due, data = await q.get()
                if data is None:
                    break
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                writer.write(data)
                await writer.drain()
        except (OSError, ConnectionError):
            pass
        finally:
            writer.close()

    task = asyncio.ensure_future(out())
    last = 0.0
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            last = max(last, time.monotonic() + delay())
            q.put_nowait((last, data))
    except (OSError, ConnectionError):
        pass
    q.put_nowait((0.0, None))
    await task


async def handle(r, w):
    try:
        tr, tw = await asyncio.open_connection(host, port)
    except OSError:
        w.close()
        return
    await asyncio.gather(pump(r, tw), pump(tr, w), return_exceptions=True)


async def main():
    srv = await asyncio.start_server(handle, listen, 0)
    print("listening on", srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(life)


asyncio.run(main())
