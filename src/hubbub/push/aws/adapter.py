"""Push through ``@connections`` with boto3: parallel, bounded, and never hung.

Each post has short connect/read timeouts and at most ``attempts`` tries; a circuit breaker stops a
dead endpoint from eating the function's time; the whole call respects ``budget_s``.
``GoneException``
is caught before the generic ``ClientError`` it subclasses, the classic mistake that keeps stale
connections forever.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any

from hubbub.ids import ConnectionId
from hubbub.push.aws.breaker import CircuitBreaker
from hubbub.push.port import FramesOutcome, Hangup, Push, PushOutcome

__all__ = ["ApiGatewayPush"]

log = logging.getLogger(__name__)

_GONE, _OK, _FAILED = "gone", "ok", "failed"


class ApiGatewayPush(Push, Hangup):
    def __init__(
        self,
        endpoint_url: str,
        *,
        client: Any = None,
        max_workers: int = 16,
        connect_timeout_s: float = 1.0,
        read_timeout_s: float = 2.0,
        attempts: int = 2,
        budget_s: float = 10.0,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self._endpoint_url = endpoint_url
        self._client = client
        self._connect_timeout = connect_timeout_s
        self._read_timeout = read_timeout_s
        self._attempts = attempts
        self._budget = budget_s
        self._breaker = breaker or CircuitBreaker()
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="push")

    def _api(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "apigatewaymanagementapi",
                endpoint_url=self._endpoint_url,
                config=Config(
                    connect_timeout=self._connect_timeout,
                    read_timeout=self._read_timeout,
                    retries={"max_attempts": 1, "mode": "standard"},
                    max_pool_connections=64,
                ),
            )
        return self._client

    def post_many(self, data: bytes, connection_ids: Sequence[ConnectionId]) -> PushOutcome:
        outcome = PushOutcome()
        if not connection_ids:
            return outcome
        api = self._api()
        deadline = time.monotonic() + self._budget
        futures: dict[Future[str], ConnectionId] = {
            self._pool.submit(self._post_one, api, data, cid, deadline): cid
            for cid in connection_ids
        }
        pending = set(futures)
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            done, pending = wait(pending, timeout=remaining, return_when=FIRST_COMPLETED)
            for future in done:
                result = future.result()
                if result == _GONE:
                    outcome.gone.add(futures[future])
                elif result == _FAILED:
                    outcome.failed.add(futures[future])
        for future in pending:
            future.cancel()
            outcome.failed.add(futures[future])
        return outcome

    def post_frames(
        self, frames: Sequence[bytes], deliveries: Mapping[ConnectionId, Sequence[int]]
    ) -> FramesOutcome:
        """``@connections`` takes one frame per ``PostToConnection``, so a batch is still one
        post per frame and recipient; what it saves is the lookups. Each connection's frames
        are posted in order by one worker, which stops at the first it cannot deliver, so a
        connection never gets a frame after one it missed; connections run in parallel."""
        outcome = FramesOutcome()
        if not deliveries:
            return outcome
        api = self._api()
        deadline = time.monotonic() + self._budget
        futures: dict[Future[tuple[str, int]], ConnectionId] = {
            self._pool.submit(
                self._post_in_order, api, [frames[i] for i in wanted], cid, deadline
            ): cid
            for cid, wanted in deliveries.items()
        }
        done, pending = wait(set(futures), timeout=max(0.0, deadline - time.monotonic()) + 0.5)
        for future in done:
            cid = futures[future]
            result, sent = future.result()
            if result == _GONE:
                outcome.gone.add(cid)
            elif result == _FAILED:
                outcome.stopped[cid] = sent
        for future in pending:  # a worker past the budget: count it as having delivered nothing
            future.cancel()
            outcome.stopped[futures[future]] = 0
        return outcome

    def _post_in_order(
        self, api: Any, frames: Sequence[bytes], cid: ConnectionId, deadline: float
    ) -> tuple[str, int]:
        for sent, data in enumerate(frames):
            result = self._post_one(api, data, cid, deadline)
            if result != _OK:
                return result, sent
        return _OK, len(frames)

    def _post_one(self, api: Any, data: bytes, cid: ConnectionId, deadline: float) -> str:
        for attempt in range(self._attempts):
            if time.monotonic() >= deadline or not self._breaker.allow():
                return _FAILED
            try:
                api.post_to_connection(ConnectionId=cid, Data=data)
            except api.exceptions.GoneException:
                self._breaker.record_success()
                return _GONE
            except api.exceptions.LimitExceededException:
                self._breaker.record_success()
                time.sleep(min(0.05 * 2**attempt, max(0.0, deadline - time.monotonic())))
                continue
            except Exception:  # timeouts, 5xx, connection errors: the endpoint is unwell
                self._breaker.record_failure()
                continue
            self._breaker.record_success()
            return _OK
        return _FAILED

    def disconnect(self, connection_ids: Sequence[ConnectionId]) -> PushOutcome:
        outcome = PushOutcome()
        api = self._api()
        futures = {self._pool.submit(self._delete_one, api, cid): cid for cid in connection_ids}
        for future, cid in futures.items():
            result = future.result()
            if result == _GONE:
                outcome.gone.add(cid)
            elif result == _FAILED:
                outcome.failed.add(cid)
        return outcome

    def _delete_one(self, api: Any, cid: ConnectionId) -> str:
        for _ in range(self._attempts):
            try:
                api.delete_connection(ConnectionId=cid)
            except api.exceptions.GoneException:
                return _GONE
            except Exception as exc:  # timeouts, 5xx, 403 (not allowed to manage connections)
                log.warning("closing connection %s failed: %s", cid, exc)
                continue
            return _OK
        return _FAILED

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
