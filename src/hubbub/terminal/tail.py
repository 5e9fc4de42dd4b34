"""``hubbub tail TOPIC``: every message of a topic (or filter) as one JSON line, for scripts.

It resumes after a reconnect, so a pipeline fed by it sees each message once.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from hubbub.terminal.session import ChatSession

__all__ = ["run_tail"]


async def run_tail(url: str, topic: str, token: str | None = None, since: int | None = None) -> int:
    def emit(frame: dict[str, Any]) -> None:
        if frame.get("type") == "message":
            sys.stdout.write(json.dumps(frame, ensure_ascii=False) + "\n")
            sys.stdout.flush()

    session = ChatSession(url=url, topics=[topic], token=token, on_event=emit)
    if since is not None and "+" not in topic and "#" not in topic:
        session.last_seq[topic] = since
    try:
        await session.run()
    except asyncio.CancelledError:
        await session.stop()
    return 0
