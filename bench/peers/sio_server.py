"""python-socketio on uvicorn: the common pick for real-time Python.

Same behaviour as the other peers: ``subscribe`` joins a room (acknowledged), ``send`` numbers the
message per topic and emits it to the room; nothing is stored.

    python -m bench.peers.sio_server        # prints "ready PORT"
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi", cors_allowed_origins="*")
app = socketio.ASGIApp(sio)
heads: dict[str, int] = {}


@sio.event
async def subscribe(sid: str, data: dict[str, Any]) -> dict[str, Any]:
    topic = str(data["topic"])
    await sio.enter_room(sid, topic)
    return {"topic": topic, "lastSeq": heads.get(topic, 0)}


@sio.event
async def send(sid: str, data: dict[str, Any]) -> None:
    topic = str(data["topic"])
    seq = heads[topic] = heads.get(topic, 0) + 1
    await sio.emit("message", {"topic": topic, "seq": seq, "text": data["text"]}, room=topic)


@sio.event
async def ping(sid: str) -> None:
    return None


async def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started and not serving.done():  # noqa: ASYNC110  (uvicorn has no started event)
        await asyncio.sleep(0.05)
    print(f"ready {sock.getsockname()[1]}", flush=True)
    await serving


if __name__ == "__main__":
    asyncio.run(main())
