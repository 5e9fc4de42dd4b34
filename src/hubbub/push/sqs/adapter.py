"""Send a large topic's chunks to the push function's SQS FIFO queue.

Each round (at most one chunk per message group) goes out in ``SendMessageBatch`` calls of at
most 10 entries and 256 KB together, SQS's limits for one batch; the calls of one round run in
parallel, since their groups are distinct. A chunk SQS refuses (an entry in ``Failed``, or a
call that raised) stops its group: the group's later chunks are not sent this time, so the
retry of the stream record cannot put them ahead of it. The endpoint is the standard
configuration (``AWS_ENDPOINT_URL_SQS`` locally).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from hubbub.push.port import ChunkQueue, QueuedChunk

__all__ = ["SqsChunkQueue", "pack_calls"]

log = logging.getLogger(__name__)

_ENTRIES_PER_CALL = 10
_BYTES_PER_CALL = 262_144


def pack_calls(sizes: Sequence[tuple[int, int]]) -> list[list[int]]:
    """``(index, bytes)`` of one round's chunks into calls: in order, at most 10 entries and
    256 KB per call."""
    calls: list[list[int]] = []
    total = 0
    for index, size in sizes:
        if calls and len(calls[-1]) < _ENTRIES_PER_CALL and total + size <= _BYTES_PER_CALL:
            calls[-1].append(index)
            total += size
        else:
            calls.append([index])
            total = size
    return calls


class SqsChunkQueue(ChunkQueue):
    def __init__(
        self,
        queue_url: str,
        *,
        client: Any = None,
        max_workers: int = 8,
        connect_timeout_s: float = 1.0,
        read_timeout_s: float = 3.0,
    ) -> None:
        self._url = queue_url
        self._client = client
        self._connect_timeout = connect_timeout_s
        self._read_timeout = read_timeout_s
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="chunks")

    def _api(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "sqs",
                config=Config(
                    connect_timeout=self._connect_timeout,
                    read_timeout=self._read_timeout,
                    retries={"max_attempts": 2, "mode": "standard"},
                    max_pool_connections=32,
                ),
            )
        return self._client

    def enqueue(self, chunks: Sequence[QueuedChunk], rounds: Sequence[Sequence[int]]) -> set[int]:
        refused: set[int] = set()
        stopped: set[str] = set()
        api = self._api()
        for round_ in rounds:
            live = [i for i in round_ if chunks[i].group not in stopped]
            refused.update(i for i in round_ if chunks[i].group in stopped)
            sizes = [(i, len(chunks[i].body.encode()) + 200) for i in live]
            calls = pack_calls(sizes)
            for failed in self._pool.map(lambda call: self._send(api, chunks, call), calls):
                refused |= failed
                stopped.update(chunks[i].group for i in failed)
        return refused

    def _send(self, api: Any, chunks: Sequence[QueuedChunk], call: list[int]) -> set[int]:
        entries = [
            {
                "Id": str(i),
                "MessageBody": chunks[i].body,
                "MessageGroupId": chunks[i].group,
                "MessageDeduplicationId": chunks[i].deduplication_id,
            }
            for i in call
        ]
        try:
            answer = api.send_message_batch(QueueUrl=self._url, Entries=entries)
        except Exception as exc:  # timeouts, throttling past the retries, 5xx
            log.warning("chunks not queued: %s", exc)
            return set(call)
        failed = {int(f["Id"]) for f in answer.get("Failed") or []}
        for failure in answer.get("Failed") or []:
            log.warning("chunk not queued: %s", failure)
        return failed

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
