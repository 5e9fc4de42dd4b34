"""The fan-out function's own work for one stream batch: record by record, or the batch at once.

    python -m bench.batchfanout [--subscribers 100] [--records 10] [--rounds 5]

In one process, on the SQLite store, with a push that builds the runtime batch request's body
exactly as ``RuntimePush`` does but sends nothing: ``Chat.deliver`` per record (one subscriber
lookup, one request per record, the code before issue 17's proposal 2) against
``Chat.deliver_batch`` (one lookup per topic, one request per batch). CPU time (process time),
best of ``--rounds``, so a busy machine slows both sides alike rather than skewing one. The
gateway's side (one write per connection instead of one per record) is ``bench.micro``'s
``writes``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hubbub.chat.fanout import Change
from hubbub.chat.service import Chat
from hubbub.chat.tokens import TokenIssuer
from hubbub.clock import SystemClock
from hubbub.ids import ConnectionId, TopicFilter, UserId
from hubbub.push.port import FramesOutcome, Push, PushOutcome
from hubbub.store.port import Role, User
from hubbub.store.sqlite.adapter import SqliteStore

__all__ = ["measure"]


class BodyOnlyPush(Push):
    """Builds each request body as the runtime push adapter would, and counts them."""

    def __init__(self) -> None:
        self.requests = 0
        self.bytes = 0

    def post_many(self, data: bytes, connection_ids: Sequence[ConnectionId]) -> PushOutcome:
        body = json.dumps({"data": data.decode("utf-8"), "connectionIds": list(connection_ids)})
        self.requests += 1
        self.bytes += len(body.encode())
        return PushOutcome()

    def post_frames(
        self, frames: Sequence[bytes], deliveries: Mapping[ConnectionId, Sequence[int]]
    ) -> FramesOutcome:
        sends: dict[tuple[int, ...], list[ConnectionId]] = {}
        for cid, wanted in deliveries.items():
            sends.setdefault(tuple(wanted), []).append(cid)
        body = json.dumps(
            {
                "frames": [f.decode("utf-8") for f in frames],
                "sends": [{"frames": list(k), "connectionIds": v} for k, v in sends.items()],
            }
        )
        self.requests += 1
        self.bytes += len(body.encode())
        return FramesOutcome()


class CountingStore(SqliteStore):
    lookups = 0

    def subscriber_ids(self, topic_filter: TopicFilter) -> list[ConnectionId]:
        self.lookups += 1
        return super().subscriber_ids(topic_filter)


def measure(subscribers: int, records: int, rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        store = CountingStore(Path(tmp) / "chat.sqlite3")
        push = BodyOnlyPush()
        chat = Chat(store, push, SystemClock(), TokenIssuer(b"x" * 40, 3600))
        topic = "room/bench"
        for n in range(subscribers):
            cid = ConnectionId(f"c{n:06d}")
            chat.connect(cid, None)
            chat.handle(cid, _subscribe(topic))
        writer = User(UserId("v_writer"), Role.VISITOR, "Wes")
        messages = [chat.send(writer, topic, f"m{k}", f"k{k}").message for k in range(records)]
        changes: list[Change | None] = [Change(m) for m in messages]

        def one_by_one() -> float:
            start = time.process_time()
            for message in messages:
                chat.deliver(message)
            return time.process_time() - start

        def batch() -> float:
            start = time.process_time()
            chat.deliver_batch(changes)
            return time.process_time() - start

        out: dict[str, Any] = {"subscribers": subscribers, "records": records}
        for name, run in (("per_record", one_by_one), ("batch", batch)):
            store.lookups, push.requests = 0, 0
            run()
            out[f"{name}_lookups"], out[f"{name}_requests"] = store.lookups, push.requests
            best = min(run() for _ in range(rounds))
            out[f"{name}_us_per_delivery"] = round(best / (subscribers * records) * 1e6, 2)
        store.close()
    return out


def _subscribe(topic: str) -> Any:
    from hubbub.protocol.actions import parse_action

    return parse_action(json.dumps({"action": "subscribe", "topic": topic}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.batchfanout", description=__doc__)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--records", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.subscribers, args.records, args.rounds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
