"""Fakes for the ports the unit tier replaces: they record what was asked of them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubbub.ids import ConnectionId
from hubbub.push.port import Push, PushOutcome
from hubbub.runtime.cloudformation import FunctionSpec

__all__ = ["Post", "RecordingPush", "fan_out_spec"]

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


def fan_out_spec() -> FunctionSpec:
    """The spec a fake function pool reports: a stream-mapped function named like the runtime's."""
    return FunctionSpec(
        logical_id="Fan",
        name="local-Fan",
        arn="arn:aws:lambda:us-east-1:123456789012:function:local-Fan",
        handler="app.handler",
        code_dir=Path(),
        runtime="python3.12",
        timeout_s=3.0,
        memory_mb=128,
        environment={},
        reserved_concurrency=None,
    )
