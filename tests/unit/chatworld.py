"""A chat service on the real SQLite store, a recording Push and a manual clock, driven by
client frames: the harness of the chat tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hubbub.chat.service import Chat
from hubbub.chat.settings import ChatSettings
from hubbub.chat.tokens import TokenIssuer
from hubbub.clock import ManualClock
from hubbub.files.port import Files
from hubbub.ids import ConnectionId, Topic
from hubbub.protocol.actions import parse_action
from hubbub.protocol.errors import ProtocolError
from hubbub.store.port import Message, Operator, Role, User
from hubbub.store.sqlite.adapter import SqliteStore
from tests.unit.fakes import FUTURE_MS, SECRET, RecordingPush

__all__ = ["MESSAGE_FIELDS", "World", "make_world", "world_in"]


MESSAGE_FIELDS = {"topic", "id", "seq", "ts", "from", "nickname", "role", "text", "clientMsgId"}


@dataclass
class World:
    chat: Chat
    store: SqliteStore
    push: RecordingPush
    clock: ManualClock

    def connect(self, cid: str, user: User | None = None) -> ConnectionId:
        """A connection of ``user`` (a guest when None). An operator is put in the directory
        first, as only an operator there gets through ``$connect``."""
        if (
            user is not None
            and user.role is Role.OPERATOR
            and self.store.get_operator(user.id) is None
        ):
            self.store.put_operator(Operator(user.id, user.nickname or "op", 0))
        connection_id = ConnectionId(cid)
        self.chat.connect(connection_id, user)
        return connection_id

    def act(self, cid: str, **fields: Any) -> dict[str, Any] | None:
        return self.chat.handle(ConnectionId(cid), parse_action(json.dumps(fields)))

    def reply(self, cid: str, **fields: Any) -> dict[str, Any]:
        answer = self.act(cid, **fields)
        assert answer is not None
        return answer

    def refusal(self, cid: str, **fields: Any) -> ProtocolError:
        with pytest.raises(ProtocolError) as caught:
            self.act(cid, **fields)
        return caught.value

    def visitor(self, cid: str, nickname: str = "Vera") -> dict[str, Any]:
        """A connected guest that registered: the welcome's user."""
        self.connect(cid)
        user: dict[str, Any] = self.reply(cid, action="register", nickname=nickname)["user"]
        return user

    def send(self, cid: str, topic: str, text: str, cmid: str) -> dict[str, Any]:
        return self.reply(cid, action="send", topic=topic, text=text, clientMsgId=cmid)

    def stored(self, topic: str) -> list[Message]:
        return self.store.read_after(Topic(topic), 0, 1000, self.clock.now_ms()).messages


def make_world(
    tmp_path: Path, settings: ChatSettings | None = None, files: Files | None = None
) -> World:
    store = SqliteStore(tmp_path / "chat.sqlite3")
    push = RecordingPush()
    clock = ManualClock(FUTURE_MS)
    tokens = TokenIssuer(SECRET, 3600)
    chat = Chat(store, push, clock, tokens, settings, files=files)
    return World(chat, store, push, clock)


@contextmanager
def world_in(
    tmp_path: Path, settings: ChatSettings | None = None, files: Files | None = None
) -> Iterator[World]:
    """A world whose store is closed again when the block ends."""
    w = make_world(tmp_path, settings, files)
    try:
        yield w
    finally:
        w.store.close()
