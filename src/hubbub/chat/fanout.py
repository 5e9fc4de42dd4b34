"""Deliver stored messages to every matching subscription, once per connection.

Subscribers are found by one lookup per matching filter (the exact topic plus the registered
wildcard filters that match it), never by scanning connections. The wildcard filters come from
the registry entries anchored at the topic's own prefixes, matched through a ``FilterTrie``, so a
message costs the same however many filters are anchored elsewhere. The frame is encoded once
per message.

A stream batch is delivered as a whole (``deliver_batch``): one subscriber lookup per topic per
batch, one write per connection per batch (every frame of the batch it should get, in order),
and a large topic's recipients handed to the push function in chunks (``chat/chunking.py``).
Which records are done is still decided record by record, in order (``first_undelivered``).

The MQTT broker's copy of each message (``publish_batch``) is published by another consumer of
the stream, the relay function, not here: IoT Core takes one message per request, a room's in
order, and the fan-out's next batch would otherwise wait for those round trips
(docs/benchmarks.md, finding 31). The frame is the same JSON either way.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from hubbub.chat.chunking import Chunk, ChunkPolicy, decode_chunk, plan_chunks, send_rounds
from hubbub.chat.mqtt import is_mqtt_member
from hubbub.chat.views import ShowAttachment, change_event
from hubbub.clock import Clock
from hubbub.ids import ConnectionId, Topic, TopicFilter, UserId
from hubbub.protocol.events import encode
from hubbub.protocol.filtertrie import FilterTrie
from hubbub.protocol.topics import TopicClass, topic_class
from hubbub.push.port import (
    Broadcast,
    ChunkQueue,
    FramesOutcome,
    NoBroadcast,
    Push,
    PushOutcome,
    QueuedChunk,
)
from hubbub.store.records import Message, SanctionKind
from hubbub.store.roles import Sanctions, Subscriptions

if TYPE_CHECKING:
    from hubbub.chat.revocation import OperatorCheck

__all__ = [
    "BatchReport",
    "Change",
    "FanOut",
    "FanOutReport",
    "filters_matching",
    "first_undelivered",
]

log = logging.getLogger(__name__)


def filters_matching(topic: Topic, wildcards: Iterable[TopicFilter]) -> list[TopicFilter]:
    """The filters a subscriber of ``topic`` may hold: the topic itself and each registered
    wildcard that matches it (one lookup each, never a scan)."""
    return [TopicFilter(topic), *FilterTrie(wildcards).matching(topic)]


@dataclass(slots=True)
class FanOutReport:
    delivered: int = 0
    gone: set[ConnectionId] = field(default_factory=set)
    failed: set[ConnectionId] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class Change:
    """One stream record's change of a message item: new (``inserted``), or rewritten."""

    message: Message
    inserted: bool = True


@dataclass(slots=True)
class BatchReport:
    done: int = 0
    """How many records, from the first, are done (delivered or nothing to deliver); every
    record from there on is reported failed and comes back with the retry."""
    reason: str = ""
    """Why the record at ``done`` is not, when it is not."""
    delivered: int = 0
    """Frames handed to connections on the direct path."""
    chunks: int = 0
    """Chunks handed to the push function."""
    gone: set[ConnectionId] = field(default_factory=set)


def first_undelivered(
    records: Mapping[int, tuple[int, Sequence[ConnectionId]]],
    deliveries: Mapping[ConnectionId, Sequence[int]],
    outcome: FramesOutcome,
) -> int | None:
    """The first record (by position) whose frame some recipient did not get, or None.

    ``records`` maps a record to its frame and recipients; ``deliveries`` is what each
    connection was sent (frame indexes, in order); a connection in ``outcome.stopped`` got only
    its first so many of them. Gone connections count as reached: they are forgotten."""
    if not outcome.stopped:
        return None
    missed = {cid: set(deliveries.get(cid, ())[got:]) for cid, got in outcome.stopped.items()}
    for record in sorted(records):
        frame, recipients = records[record]
        if any(frame in missed[cid] for cid in recipients if cid in missed):
            return record
    return None


class FanOut:
    def __init__(
        self,
        subscriptions: Subscriptions,
        push: Push,
        broadcast: Broadcast | None = None,
        *,
        chunks: ChunkQueue | None = None,
        policy: ChunkPolicy | None = None,
        show: ShowAttachment | None = None,
        sanctions: Sanctions | None = None,
        clock: Clock | None = None,
        operators: OperatorCheck | None = None,
    ) -> None:
        """``show`` mints attachment URLs as the frame is built (never stored: they expire).
        ``sanctions`` (with ``clock``) keep a banned user's wildcard subscriptions from
        delivering the topic they are banned from; ``operators`` (with ``clock``) keep a
        removed operator's connections from a desk topic's deliveries."""
        self._show = show
        self._sanctions = sanctions
        self._clock = clock
        self._operators = operators
        self._subscriptions = subscriptions
        self._push = push
        self._broadcast = broadcast or NoBroadcast()
        self._chunks = chunks
        self._policy = policy or ChunkPolicy()

    def filters_of_topic(self, topic: Topic) -> list[TopicFilter]:
        """The filters that match ``topic`` among those subscribed with: the topic itself and the
        registry's wildcard filters anchored at its prefixes that match it."""
        return filters_matching(topic, self._subscriptions.wildcard_filters_for(topic))

    def recipients_of(self, topic: Topic) -> list[ConnectionId]:
        """Every WebSocket connection whose filters match ``topic``, once each. MQTT members
        are subscribers too (presence counts them) but the broker delivers to them: the one
        publish to the broker reaches them, never a post to ``@connections``.

        A ban unsubscribes its user's exact subscriptions at once, but a wildcard one (``room/+``)
        also covers other topics and stays: its connections are left out here, for the banned
        topic only. That costs one read of the topic's sanctions, and only when some wildcard
        filter matches the topic."""
        exact, *wildcards = self.filters_of_topic(topic)
        operators, clock = self._operators, self._clock
        if operators is not None and clock is not None and topic_class(topic) is TopicClass.DESK:
            return self._desk_recipients(topic, exact, wildcards, operators, clock.now_ms())
        found = list(self._subscriptions.subscriber_ids(exact))
        banned = self._banned(topic) if wildcards else frozenset()
        for topic_filter in wildcards:
            if banned:
                found += (
                    s.connection_id
                    for s in self._subscriptions.subscribers(topic_filter)
                    if s.user.id not in banned
                )
            else:
                found += self._subscriptions.subscriber_ids(topic_filter)
        return list(dict.fromkeys(c for c in found if not is_mqtt_member(c)))

    def _desk_recipients(
        self,
        topic: Topic,
        exact: TopicFilter,
        wildcards: list[TopicFilter],
        operators: OperatorCheck,
        now: int,
    ) -> list[ConnectionId]:
        """A desk conversation is the visitor's and the operators': each operator among its
        subscribers is checked against the directory (``OperatorCheck``, remembered a few
        seconds), so a removed operator's connection that could not be closed gets none of it.
        Desk topics have a visitor and a few operators, so reading their users costs little."""
        banned = self._banned(topic) if wildcards else frozenset()
        found = list(self._subscriptions.subscribers(exact))
        for topic_filter in wildcards:
            found += (
                s for s in self._subscriptions.subscribers(topic_filter) if s.user.id not in banned
            )
        allowed = (s.connection_id for s in found if operators.allows(s.user, now))
        return list(dict.fromkeys(c for c in allowed if not is_mqtt_member(c)))

    def _banned(self, topic: Topic) -> frozenset[UserId]:
        if self._sanctions is None or self._clock is None:
            return frozenset()
        now = self._clock.now_ms()
        return frozenset(
            s.user_id
            for s in self._sanctions.list_sanctions(topic, now)
            if s.kind is SanctionKind.BAN and s.active(now)
        )

    def deliver(self, message: Message, *, inserted: bool = True) -> FanOutReport:
        """Push a new message (``inserted``), or the ``edited``/``deleted`` of a rewritten one."""
        report = FanOutReport()
        event = change_event(message, inserted=inserted, show=self._show)
        if event is None:
            return report
        recipients = self.recipients_of(message.topic)
        data = encode(event).encode("utf-8")
        if recipients:
            outcome: PushOutcome = self._push.post_many(data, recipients)
            report.gone = outcome.gone
            report.failed = outcome.failed
            report.delivered = len(recipients) - len(outcome.gone) - len(outcome.failed)
        return report

    # a stream batch ---------------------------------------------------------------------------
    def _frames(
        self, changes: Sequence[Change | None]
    ) -> tuple[list[bytes], dict[int, tuple[int, Topic]]]:
        """Each record's frame, encoded once, and where it is: position -> (frame, topic).
        Records with nothing to push (None, a change without an event) have no entry."""
        frames: list[bytes] = []
        plan: dict[int, tuple[int, Topic]] = {}
        for position, change in enumerate(changes):
            if change is None:
                continue
            event = change_event(change.message, inserted=change.inserted, show=self._show)
            if event is None:
                continue
            plan[position] = (len(frames), change.message.topic)
            frames.append(encode(event).encode("utf-8"))
        return frames, plan

    def deliver_batch(self, changes: Sequence[Change | None]) -> BatchReport:
        """Deliver a stream batch (None: a record with nothing to push) and say how far it got.

        Frames are encoded once, subscribers looked up once per topic; a large topic's records
        are queued in chunks, everything else goes in one ``post_frames``. The records before
        the first one not fully delivered are done; a frame that went out for a later record is
        sent again by the retry, and clients drop the repeat by ``seq``."""
        report = BatchReport(done=len(changes))
        frames, plan = self._frames(changes)
        recipients: dict[Topic, list[ConnectionId]] = {}
        for position, (_, topic) in sorted(plan.items()):
            if topic in recipients:
                continue
            try:
                recipients[topic] = self.recipients_of(topic)
            except Exception as exc:  # the store: this record and the rest wait for the retry
                log.warning("subscribers of %s not read: %s", topic, exc)
                report.done, report.reason = position, f"subscribers not read: {exc}"
                break
        plan = {position: at for position, at in plan.items() if position < report.done}
        self._queue_large(frames, plan, recipients, report)
        self._post_small(frames, plan, recipients, report)
        return report

    def publish_batch(self, changes: Sequence[Change | None]) -> BatchReport:
        """Publish each record's frame once on its topic to the MQTT broker, which fans it out
        to its subscribers itself: each topic's messages in order, the batch's topics side by
        side (``Broadcast.publish_all``). From the first record the broker refused, the records
        are retried; MQTT clients drop a repeat by ``seq``."""
        report = BatchReport(done=len(changes))
        frames, plan = self._frames(changes)
        ordered = sorted(plan.items())
        outcome = self._broadcast.publish_all([(topic, frames[f]) for _, (f, topic) in ordered])
        if outcome.failed_at is not None:
            report.done = ordered[outcome.failed_at][0]
            report.reason = f"not published to the broker: {outcome.error}"
        return report

    def _large(self, recipients: Sequence[ConnectionId]) -> bool:
        return self._chunks is not None and self._policy.chunked(len(recipients))

    def _queue_large(
        self,
        frames: Sequence[bytes],
        plan: Mapping[int, tuple[int, Topic]],
        recipients: Mapping[Topic, list[ConnectionId]],
        report: BatchReport,
    ) -> None:
        if self._chunks is None:
            return
        by_topic: dict[Topic, list[tuple[int, str]]] = {}
        for position, (frame, topic) in plan.items():
            if position < report.done and self._large(recipients[topic]):
                by_topic.setdefault(topic, []).append((position, frames[frame].decode("utf-8")))
        chunks: list[Chunk] = []
        for topic, topic_frames in by_topic.items():
            chunks += plan_chunks(topic_frames, recipients[topic], self._policy)
        if not chunks:
            return
        queued = [QueuedChunk(c.body(), c.group, c.deduplication_id()) for c in chunks]
        refused = self._chunks.enqueue(queued, send_rounds(chunks))
        report.chunks = len(chunks) - len(refused)
        if refused:
            first = min(r for i in refused for r in chunks[i].records)
            if first < report.done:
                report.done, report.reason = first, f"{len(refused)} chunks not queued"

    def _post_small(
        self,
        frames: Sequence[bytes],
        plan: Mapping[int, tuple[int, Topic]],
        recipients: Mapping[Topic, list[ConnectionId]],
        report: BatchReport,
    ) -> None:
        records: dict[int, tuple[int, Sequence[ConnectionId]]] = {}
        deliveries: dict[ConnectionId, list[int]] = {}
        for position, (frame, topic) in sorted(plan.items()):
            to = recipients[topic]
            if position >= report.done or self._large(to):
                continue
            records[position] = (frame, to)
            for cid in to:
                deliveries.setdefault(cid, []).append(frame)
        if not deliveries:
            return
        outcome = self._push.post_frames(frames, deliveries)
        report.gone |= outcome.gone
        report.delivered += sum(
            outcome.stopped.get(cid, len(wanted))
            for cid, wanted in deliveries.items()
            if cid not in outcome.gone
        )
        first = first_undelivered(records, deliveries, outcome)
        if first is not None and first < report.done:
            report.done = first
            report.reason = f"{len(outcome.stopped)} recipients not reached"

    def push_chunk(self, body: str) -> FramesOutcome:
        """The push function's part: a chunk's frames to its connections, one write each. A
        connection that missed any is in ``stopped``: the caller fails the chunk, SQS hands it
        back after the visibility timeout, and its members that were reached drop the repeat
        by ``seq`` (the group waits meanwhile, so nothing overtakes it)."""
        frames, ids = decode_chunk(body)
        every = list(range(len(frames)))
        return self._push.post_frames(frames, dict.fromkeys(ids, every))
