"""A large topic's recipients in chunks for the push function, and the order they are sent in.

Above ``ChunkPolicy.threshold`` recipients the fan-out does not post a frame itself: it hands
chunks of connection ids, each with the frames they get, to the push function through an SQS
FIFO queue, so the time to a room's last member is one chunk's, not the whole room's.

Per-connection order rests on the message group. A connection's group is derived from its id
alone (``group_of``: a hash into a fixed number of groups), so every frame for one connection,
whatever the topic and whichever stream batch it came from, travels in the same group, and SQS
FIFO hands a group's messages to one consumer at a time, in the order they were sent. The
number of groups is fixed (``FANOUT_CHUNK_GROUPS``) for that reason: changing it on a live
stack can reorder the frames in flight at that moment, once.

A chunk is one SQS message: at most ``chunk_size`` ids, and small enough with its frames to
fit SQS's 256 KB message limit (``max_bytes``). A group's share of a room larger than one chunk
becomes several chunks of that group, sent one after the other (``send_rounds``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hubbub.ids import ConnectionId

__all__ = [
    "BadChunk",
    "Chunk",
    "ChunkPolicy",
    "decode_chunk",
    "group_of",
    "plan_chunks",
    "send_rounds",
]

SQS_MESSAGE_BYTES = 262_144
"""SQS's largest message (256 KiB), body and attributes together; a SendMessageBatch's entries
together may not exceed it either."""

_ENVELOPE_BYTES = 64
"""``{"frames":[],"connectionIds":[]}`` and a margin."""


class BadChunk(ValueError):
    """A queue message that is not a chunk: it fails, and after the queue's ``maxReceiveCount``
    receives it lands in the dead-letter queue, where an operator can read it."""


@dataclass(frozen=True, slots=True)
class ChunkPolicy:
    threshold: int = 500
    """A topic with more recipients than this goes through the queue; 0 never does."""
    chunk_size: int = 1000
    """Ids per chunk at most (hundreds to a thousand: one push invocation's worth)."""
    groups: int = 64
    """Message groups, hence push invocations a room's message can be delivered by at once."""
    max_bytes: int = SQS_MESSAGE_BYTES - 16_384
    """A chunk's body at most, under SQS's limit with room for its attributes."""

    def chunked(self, recipients: int) -> bool:
        return 0 < self.threshold < recipients


@dataclass(frozen=True, slots=True)
class Chunk:
    group: str
    """The SQS FIFO message group: the recipients' ``group_of``."""
    frames: tuple[str, ...]
    """Encoded frames, in the order each recipient gets them."""
    connection_ids: tuple[ConnectionId, ...]
    records: tuple[int, ...] = ()
    """Which records of the stream batch its frames belong to (not sent)."""

    def body(self) -> str:
        return json.dumps(
            {"frames": list(self.frames), "connectionIds": list(self.connection_ids)},
            separators=(",", ":"),
            ensure_ascii=False,
        )

    def deduplication_id(self) -> str:
        """The same chunk sent again within SQS's five-minute deduplication interval (a stream
        record retried after its chunks were accepted) is accepted and not delivered twice."""
        return hashlib.sha256(f"{self.group}\n{self.body()}".encode()).hexdigest()


def group_of(connection_id: str, groups: int) -> str:
    """The message group of a connection's frames: fixed for its life (its id and the number of
    groups), so its frames are always handled one after the other, in order."""
    digest = hashlib.blake2b(connection_id.encode(), digest_size=8).digest()
    return f"c{int.from_bytes(digest, 'big') % max(1, groups)}"


def _runs(frames: Sequence[tuple[int, str]], budget: int) -> list[list[tuple[int, str]]]:
    """Consecutive frames together while they take at most ``budget`` bytes (one frame alone
    may take more: it still goes, with fewer ids)."""
    runs: list[list[tuple[int, str]]] = []
    size = 0
    for record, frame in frames:
        cost = len(frame.encode()) + 8
        if runs and size + cost <= budget:
            runs[-1].append((record, frame))
            size += cost
        else:
            runs.append([(record, frame)])
            size = cost
    return runs


def plan_chunks(
    frames: Sequence[tuple[int, str]],
    recipients: Iterable[ConnectionId],
    policy: ChunkPolicy,
) -> list[Chunk]:
    """Every recipient gets every frame (``(record, frame)`` pairs, in record order), by
    chunks: grouped by ``group_of``, a group's frames cut into runs that leave room for ids, and
    each run's ids cut to what fits. Within a group the list is in sending order."""
    by_group: dict[str, list[ConnectionId]] = {}
    for cid in recipients:
        by_group.setdefault(group_of(cid, policy.groups), []).append(cid)
    if not frames or not by_group:
        return []
    runs = _runs(frames, policy.max_bytes // 2)
    chunks: list[Chunk] = []
    for group in sorted(by_group, key=lambda g: int(g[1:])):
        ids = by_group[group]
        for run in runs:
            run_bytes = _ENVELOPE_BYTES + sum(len(f.encode()) + 8 for _, f in run)
            per_id = max(len(c.encode()) for c in ids) + 3
            fits = max(1, (policy.max_bytes - run_bytes) // per_id)
            size = max(1, min(policy.chunk_size, fits))
            records = tuple(sorted({r for r, _ in run}))
            texts = tuple(f for _, f in run)
            for start in range(0, len(ids), size):
                chunks.append(Chunk(group, texts, tuple(ids[start : start + size]), records))
    return chunks


def send_rounds(chunks: Sequence[Chunk]) -> list[list[int]]:
    """The chunks (by index) in rounds: round k holds the k-th chunk of each group, so one
    round's chunks can be sent together (at most one per group, whatever SQS does with a batch
    that partly fails), and a group's next chunk goes only once its previous one was accepted."""
    rounds: list[list[int]] = []
    seen: dict[str, int] = {}
    for index, chunk in enumerate(chunks):
        k = seen.get(chunk.group, 0)
        seen[chunk.group] = k + 1
        if k == len(rounds):
            rounds.append([])
        rounds[k].append(index)
    return rounds


def decode_chunk(body: str) -> tuple[list[bytes], list[ConnectionId]]:
    """The frames and the recipients of a chunk's queue message; ``BadChunk`` otherwise."""
    try:
        document = json.loads(body)
        frames = document["frames"]
        ids = document["connectionIds"]
    except (TypeError, ValueError, KeyError) as exc:
        raise BadChunk(f"not a chunk: {exc}") from None
    if not isinstance(frames, list) or not all(isinstance(f, str) for f in frames):
        raise BadChunk("frames must be a list of strings")
    if not isinstance(ids, list) or not all(isinstance(c, str) and c for c in ids):
        raise BadChunk("connectionIds must be a list of non-empty strings")
    return [f.encode("utf-8") for f in frames], [ConnectionId(c) for c in ids]
