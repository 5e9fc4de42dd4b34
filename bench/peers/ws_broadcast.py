"""The bare ``websockets`` broadcast server: the Python upper bound.

It speaks the subset of hubbub's frames the benchmark uses (``subscribe``, ``send``, ``ping``),
keeps rooms in memory, numbers messages per topic and pushes each one with ``websockets.broadcast``
(encoded once, written to every subscriber without awaiting). Nothing is stored.

    python -m bench.peers.ws_broadcast      # prints "ready PORT"
"""

from __future__ import annotations

import asyncio
import json
import signal

import websockets
from websockets.asyncio.server import ServerConnection, broadcast, serve

rooms: dict[str, set[ServerConnection]] = {}
heads: dict[str, int] = {}


async def handler(ws: ServerConnection) -> None:
    joined: set[str] = set()
    try:
        async for raw in ws:
            try:
                frame = json.loads(raw)
                action = frame["action"]
            except (ValueError, KeyError, TypeError):
                continue
            ref = frame.get("ref")
            if action == "send":
                topic = str(frame["topic"])
                seq = heads[topic] = heads.get(topic, 0) + 1
                out = {"type": "message", "topic": topic, "seq": seq, "text": frame["text"]}
                broadcast(rooms.get(topic, ()), json.dumps(out, separators=(",", ":")))
            elif action == "subscribe":
                topic = str(frame["topic"])
                rooms.setdefault(topic, set()).add(ws)
                joined.add(topic)
                reply = {"type": "subscribed", "topic": topic, "lastSeq": heads.get(topic, 0)}
                await ws.send(json.dumps({**reply, "ref": ref}))
            elif action == "ping":
                await ws.send(json.dumps({"type": "pong", "ref": ref}))
    except websockets.ConnectionClosed:
        pass
    finally:
        for topic in joined:
            rooms.get(topic, set()).discard(ws)


async def main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=2**20) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"ready {port}", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
