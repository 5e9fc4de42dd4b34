"""Fakes for the ports the unit tier replaces: they record what was asked of them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hubbub.ids import ConnectionId
from hubbub.push.port import Push, PushOutcome

__all__ = ["Post", "RecordingPush"]

SECRET = b"unit-test-secret-of-at-least-32-bytes!!"
"""A token secret long enough for ``TokenIssuer``."""

FUTURE_MS = 4_000_000_000_000
"""A start time for manual clocks (year 2096), so tokens issued by it are never past their
expiry by the wall clock either."""


@dataclass(frozen=True, slots=True)
class Post:
    data: bytes
    connection_ids: tuple[ConnectionId, ...]

    @property
    def frame(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.data)
        return decoded


@dataclass(slots=True)
class RecordingPush(Push):
    """Records every ``post_many`` call; reports the ids in ``gone``/``failed`` as such."""

    gone: set[str] = field(default_factory=set)
    failed: set[str] = field(default_factory=set)
    posts: list[Post] = field(default_factory=list)

    def post_many(self, data: bytes, connection_ids: Sequence[ConnectionId]) -> PushOutcome:
        self.posts.append(Post(bytes(data), tuple(connection_ids)))
        return PushOutcome(
            gone={c for c in connection_ids if c in self.gone},
            failed={c for c in connection_ids if c in self.failed},
        )

    def frames_of_type(self, kind: str) -> list[Post]:
        return [p for p in self.posts if p.frame.get("type") == kind]
