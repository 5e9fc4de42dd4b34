"""The Push port: deliver one encoded frame to many connections and say which are gone.

A fan-out encodes its frame once and hands the whole recipient list over in one call, so an adapter
can batch (the local runtime takes the list in one request) or parallelise (AWS @connections).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hubbub.ids import ConnectionId

__all__ = [
    "Broadcast",
    "ChunkQueue",
    "FramesOutcome",
    "Hangup",
    "MqttHangup",
    "NoBroadcast",
    "NoMqttHangup",
    "Published",
    "Push",
    "PushOutcome",
    "QueuedChunk",
]


@dataclass(slots=True)
class PushOutcome:
    gone: set[ConnectionId] = field(default_factory=set)
    """Connections the gateway no longer knows (410): forget them."""
    failed: set[ConnectionId] = field(default_factory=set)
    """Connections not reached for another reason (timeouts, 429, open circuit): retry later."""

    def merge(self, other: PushOutcome) -> None:
        self.gone |= other.gone
        self.failed |= other.failed


@dataclass(slots=True)
class FramesOutcome:
    """What became of several frames posted to several connections, each in its own order."""

    gone: set[ConnectionId] = field(default_factory=set)
    """Connections the gateway no longer knows (410): forget them."""
    stopped: dict[ConnectionId, int] = field(default_factory=dict)
    """Connections that did not get all their frames: how many of them (their first ones, in
    order) they did get. A connection is never handed a frame after one it missed, so what it
    lacks is always a tail, and the retry that re-sends it keeps its order."""


class Push(ABC):
    @abstractmethod
    def post_many(self, data: bytes, connection_ids: Sequence[ConnectionId]) -> PushOutcome: ...

    def post_frames(
        self, frames: Sequence[bytes], deliveries: Mapping[ConnectionId, Sequence[int]]
    ) -> FramesOutcome:
        """Each connection of ``deliveries`` gets the frames it lists (indexes into ``frames``),
        in that order. A stream batch is posted this way: one write per connection however many
        messages the batch holds. This default posts frame by frame through ``post_many``,
        leaving out a connection once it has missed one; adapters that can do better (one
        request to the local runtime) override it."""
        outcome = FramesOutcome()
        got: dict[ConnectionId, int] = {}
        for index, data in enumerate(frames):
            to = [
                cid
                for cid, wanted in deliveries.items()
                if index in wanted and cid not in outcome.gone and cid not in outcome.stopped
            ]
            if not to:
                continue
            result = self.post_many(data, to)
            outcome.gone |= result.gone
            for cid in to:
                if cid in result.failed:
                    outcome.stopped[cid] = got.get(cid, 0)
                elif cid not in result.gone:
                    got[cid] = got.get(cid, 0) + 1
        return outcome

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


class MqttHangup(ABC):
    """Close MQTT clients' connections from the server side (IoT Core's ``DeleteConnection``),
    as a ban or a kick does to the user's MQTT members: the broker knows nothing of sanctions,
    and would keep delivering the topic to a connection nobody closed."""

    @abstractmethod
    def disconnect_clients(self, client_ids: Sequence[str]) -> set[str]:
        """Close each, its session cleaned and its will message not sent; returns the client
        ids not reached (refused, timed out). A client no longer connected counts as closed."""

    def close(self) -> None:
        """Release pools and sockets; the default has none."""


class NoMqttHangup(MqttHangup):
    """A stack without the MQTT edge: no MQTT client to close."""

    def disconnect_clients(self, client_ids: Sequence[str]) -> set[str]:
        return set()


@dataclass(frozen=True, slots=True)
class Published:
    """How far a run of publishes got: every message before ``failed_at`` was taken (None:
    all of them); ``error`` says why the one at ``failed_at`` was not."""

    failed_at: int | None = None
    error: str = ""


class Broadcast(ABC):
    """Publish one frame once on a topic to a broker that fans it out itself (IoT Core), beside
    the per-connection ``Push``: MQTT subscribers get each stored message from the broker (the
    relay function publishes it)."""

    enabled: bool = True
    """False for a stack without a broker: there is nothing to publish to."""

    @abstractmethod
    def publish(self, topic: str, data: bytes) -> None:
        """Raises when the broker did not take it: the stream record is retried."""

    def publish_all(self, messages: Sequence[tuple[str, bytes]]) -> Published:
        """Each message once on its topic, each topic's in the given order. An adapter may
        publish different topics side by side; messages after ``failed_at`` may have been
        taken too (a retry publishes them again, and subscribers drop the repeat by ``seq``).
        The default publishes one after another and stops at the first refusal."""
        for index, (topic, data) in enumerate(messages):
            try:
                self.publish(topic, data)
            except Exception as exc:
                return Published(index, str(exc))
        return Published()

    def close(self) -> None:
        """Release pools and sockets; the default has none."""


class NoBroadcast(Broadcast):
    """A stack without the MQTT edge: there is no broker to publish to."""

    enabled = False

    def publish(self, topic: str, data: bytes) -> None:
        return None


@dataclass(frozen=True, slots=True)
class QueuedChunk:
    """One message for the push function: its body, its FIFO message group and its
    deduplication id."""

    body: str
    group: str
    deduplication_id: str


class ChunkQueue(ABC):
    """Where the fan-out hands a large topic's chunks to the push function (SQS FIFO)."""

    @abstractmethod
    def enqueue(self, chunks: Sequence[QueuedChunk], rounds: Sequence[Sequence[int]]) -> set[int]:
        """Send ``chunks`` round by round (``rounds`` lists their indexes; one round holds at
        most one chunk per group); a group whose chunk was refused sends nothing more. Returns
        the indexes of the chunks not accepted."""

    def close(self) -> None:
        """Release pools and sockets; the default has none."""
