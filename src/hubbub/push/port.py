"""The Push port: deliver one encoded frame to many connections and say which are gone.

A fan-out encodes its frame once and hands the whole recipient list over in one call, so an adapter
can batch (the local runtime takes the list in one request) or parallelise (AWS @connections).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field

from hubbub.ids import ConnectionId

__all__ = ["Hangup", "Push", "PushOutcome"]


@dataclass(slots=True)
class PushOutcome:
    gone: set[ConnectionId] = field(default_factory=set)
    """Connections the gateway no longer knows (410): forget them."""
    failed: set[ConnectionId] = field(default_factory=set)
    """Connections not reached for another reason (timeouts, 429, open circuit): retry later."""

    def merge(self, other: PushOutcome) -> None:
        self.gone |= other.gone
        self.failed |= other.failed


class Push(ABC):
    @abstractmethod
    def post_many(self, data: bytes, connection_ids: Sequence[ConnectionId]) -> PushOutcome: ...

    def close(self) -> None:
        """Release pools and sockets; the default has none."""


class Hangup(ABC):
    """Close connections from the server side (``DELETE @connections/{id}``), as removing an
    operator does to the operator's open connections."""

    @abstractmethod
    def disconnect(self, connection_ids: Sequence[ConnectionId]) -> PushOutcome:
        """Close each; ``gone`` are those the gateway no longer knew, ``failed`` those not
        reached."""

    def close(self) -> None:
        """Release pools and sockets; the default has none."""
