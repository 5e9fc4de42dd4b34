"""``hubbub chat``: an interactive terminal chat on prompt_toolkit.

Incoming messages print above the input line (``patch_stdout``); a few slash commands cover what a
room needs. It talks only the public protocol, so it works against ``hubbub serve`` and against a
deployed stack's ``wss://`` URL alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from prompt_toolkit import PromptSession
from prompt_toolkit.patch_stdout import patch_stdout

from hubbub.client import ClientError
from hubbub.terminal.session import ChatSession

__all__ = ["run_chat"]

HELP = "commands: /who  /history [n]  /join ROOM  /quit  (anything else is sent to the room)"


def _line(frame: dict[str, Any]) -> str | None:
    kind = frame.get("type")
    if kind == "message":
        stamp = time.strftime("%H:%M", time.localtime(int(frame["ts"]) / 1000))
        who = frame.get("nickname") or frame.get("from")
        return f"[{stamp}] <{who}> {frame['text']}"
    if kind in ("joined", "left"):
        user = frame["user"]
        return f"* {user.get('nickname') or user['id']} {kind} {frame['topic']}"
    if kind == "error":
        return f"! {frame.get('code')}: {frame.get('message')}"
    return None


async def run_chat(url: str, room: str, nickname: str, token: str | None = None) -> int:
    topic = room if "/" in room else f"room/{room}"

    def show(frame: dict[str, Any]) -> None:
        text = _line(frame)
        if text is not None:
            print(text, flush=True)

    session = ChatSession(
        url=url,
        topics=[topic],
        nickname=nickname,
        token=token,
        on_event=show,
        on_status=lambda s: print(f"-- {s}", flush=True),
    )
    runner = asyncio.create_task(session.run())
    prompt: PromptSession[str] = PromptSession(f"{topic}> ")
    print(HELP, flush=True)
    try:
        with patch_stdout():
            while True:
                try:
                    text = (await prompt.prompt_async()).strip()
                except (EOFError, KeyboardInterrupt):
                    break
                if not text:
                    continue
                if text in ("/quit", "/exit"):
                    break
                try:
                    topic = await _command(session, topic, text)
                except ClientError as exc:
                    print(f"! {exc.code}: {exc.frame.get('message')}", flush=True)
                except TimeoutError:
                    print("! not connected; try again", flush=True)
    finally:
        await session.stop()
        runner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    return 0


async def _command(session: ChatSession, topic: str, text: str) -> str:
    if text == "/who":
        members = (await session.request("presence", topic=topic))["members"]
        names = ", ".join(m.get("nickname") or m["id"] for m in members) or "nobody"
        print(f"* here: {names}", flush=True)
        return topic
    if text.startswith("/history"):
        parts = text.split()
        limit = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 20
        page = await session.request("history", topic=topic, limit=min(limit, 100))
        for message in page["messages"]:
            line = _line({"type": "message", **message})
            print(line, flush=True)
        return topic
    if text.startswith("/join "):
        name = text.split(maxsplit=1)[1].strip()
        new = name if "/" in name else f"room/{name}"
        reply = await session.request("subscribe", topic=new, since=0)
        session.topics.append(new)
        for message in reply.get("messages", []):
            print(_line({"type": "message", **message}), flush=True)
        return new
    if text.startswith("/"):
        print(HELP, flush=True)
        return topic
    await session.send(topic, text)
    return topic
