"""Push through ``@connections`` (``hubbub.push.aws.adapter.ApiGatewayPush``) with a fake client."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from hubbub.ids import ConnectionId
from hubbub.push.aws.adapter import ApiGatewayPush
from hubbub.push.aws.breaker import CircuitBreaker
from tests.conftest import TIMEOUT_FACTOR


class FakeClientError(Exception):
    """Stands in for botocore's ClientError, which the service exceptions subclass."""


class GoneException(FakeClientError):
    pass


class LimitExceededException(FakeClientError):
    pass


Behaviour = Callable[[], None]


def gone() -> None:
    raise GoneException("410")


def throttled() -> None:
    raise LimitExceededException("429")


def broken() -> None:
    raise FakeClientError("500")


class FakeManagementApi:
    """The slice of boto3's apigatewaymanagementapi client the adapter uses."""

    def __init__(self, behaviours: dict[str, Behaviour] | None = None) -> None:
        self.behaviours: dict[str, Behaviour | list[Behaviour]] = dict(behaviours or {})
        self.exceptions = SimpleNamespace(
            GoneException=GoneException, LimitExceededException=LimitExceededException
        )
        self.calls: list[tuple[str, bytes]] = []
        self._lock = threading.Lock()

    def then(self, cid: str, *behaviours: Behaviour) -> None:
        """Answer successive posts to ``cid`` with these behaviours, then succeed."""
        self.behaviours[cid] = list(behaviours)

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, object]:
        with self._lock:
            self.calls.append((ConnectionId, Data))
            behaviour = self.behaviours.get(ConnectionId)
            if isinstance(behaviour, list):
                behaviour = behaviour.pop(0) if behaviour else None
        if behaviour is not None:
            behaviour()
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}

    def delete_connection(self, *, ConnectionId: str) -> dict[str, object]:
        with self._lock:
            self.calls.append((ConnectionId, b"DELETE"))
            behaviour = self.behaviours.get(ConnectionId)
            if isinstance(behaviour, list):
                behaviour = behaviour.pop(0) if behaviour else None
        if behaviour is not None:
            behaviour()
        return {"ResponseMetadata": {"HTTPStatusCode": 204}}

    def count(self) -> Counter[str]:
        return Counter(cid for cid, _ in self.calls)


@pytest.fixture
def pushes() -> Iterator[list[ApiGatewayPush]]:
    made: list[ApiGatewayPush] = []
    yield made
    for push in made:
        push.close()


@pytest.fixture
def make(pushes: list[ApiGatewayPush]) -> Callable[..., ApiGatewayPush]:
    def build(api: FakeManagementApi, **options: Any) -> ApiGatewayPush:
        push = ApiGatewayPush(
            "https://abc.execute-api.us-east-1.amazonaws.com/ws", client=api, **options
        )
        pushes.append(push)
        return push

    return build


def ids(*names: str) -> list[ConnectionId]:
    return [ConnectionId(n) for n in names]


def test_every_connection_is_posted_the_same_data_once(make: Callable[..., ApiGatewayPush]) -> None:
    """A healthy fan-out posts the one encoded frame to each connection exactly once."""
    api = FakeManagementApi()
    outcome = make(api).post_many(b'{"type":"message"}', ids("a", "b", "c"))
    assert outcome.gone == set()
    assert outcome.failed == set()
    assert sorted(api.calls) == [(c, b'{"type":"message"}') for c in ("a", "b", "c")]


def test_nothing_to_post_makes_no_call(make: Callable[..., ApiGatewayPush]) -> None:
    """An empty recipient list returns an empty outcome without touching the API."""
    api = FakeManagementApi()
    outcome = make(api).post_many(b"x", [])
    assert (outcome.gone, outcome.failed, api.calls) == (set(), set(), [])


def test_gone_and_failed_connections_are_told_apart(make: Callable[..., ApiGatewayPush]) -> None:
    """410 Gone is reported as gone (forget it); throttling and errors as failed (retry later),
    though GoneException is itself a client error."""
    api = FakeManagementApi({"left": gone, "busy": throttled, "sick": broken})
    outcome = make(api, attempts=1).post_many(b"x", ids("ok", "left", "busy", "sick"))
    assert outcome.gone == {"left"}
    assert outcome.failed == {"busy", "sick"}


def test_a_gone_connection_is_not_retried(make: Callable[..., ApiGatewayPush]) -> None:
    """A post answered 410 is final: it is made once."""
    api = FakeManagementApi({"left": gone})
    make(api, attempts=3).post_many(b"x", ids("left"))
    assert api.count()["left"] == 1


def test_a_failing_post_is_tried_at_most_attempts_times(
    make: Callable[..., ApiGatewayPush],
) -> None:
    """An erroring connection is retried up to ``attempts`` posts in all, then reported failed."""
    api = FakeManagementApi({"sick": broken})
    outcome = make(api, attempts=3).post_many(b"x", ids("sick"))
    assert api.count()["sick"] == 3
    assert outcome.failed == {"sick"}


def test_a_post_that_fails_once_then_succeeds_is_delivered(
    make: Callable[..., ApiGatewayPush],
) -> None:
    """A transient error or throttle followed by success counts as delivered."""
    api = FakeManagementApi()
    api.then("flaky", broken)
    api.then("throttled", throttled)
    outcome = make(api, attempts=2).post_many(b"x", ids("flaky", "throttled"))
    assert outcome.failed == set()
    assert api.count() == Counter({"flaky": 2, "throttled": 2})


def test_a_hanging_post_does_not_outlast_the_budget(make: Callable[..., ApiGatewayPush]) -> None:
    """A post that never returns is reported failed when the budget runs out, and the rest of
    the fan-out is delivered meanwhile."""
    release = threading.Event()

    def hang() -> None:
        release.wait(30)

    api = FakeManagementApi({"stuck": hang})
    push = make(api, budget_s=0.3)
    started = time.monotonic()
    try:
        outcome = push.post_many(b"x", ids("stuck", "a", "b"))
        elapsed = time.monotonic() - started
    finally:
        release.set()
    assert outcome.failed == {"stuck"}
    assert outcome.gone == set()
    assert elapsed < 0.3 + 1.5 * TIMEOUT_FACTOR
    assert api.count()["a"] == api.count()["b"] == 1


def test_repeated_failures_open_the_breaker_and_stop_the_calls(
    make: Callable[..., ApiGatewayPush],
) -> None:
    """After ``threshold`` failures in a row no more posts are made; the rest fail at once."""
    api = FakeManagementApi({f"c{i}": broken for i in range(10)})
    breaker = CircuitBreaker(threshold=3, cooldown_s=60.0)
    push = make(api, attempts=1, max_workers=1, breaker=breaker)
    outcome = push.post_many(b"x", ids(*(f"c{i}" for i in range(10))))
    assert len(api.calls) == 3
    assert outcome.failed == {f"c{i}" for i in range(10)}
    assert breaker.is_open


def test_gone_answers_do_not_open_the_breaker(make: Callable[..., ApiGatewayPush]) -> None:
    """410s mean the endpoint is healthy: many of them never trip the breaker."""
    api = FakeManagementApi({f"c{i}": gone for i in range(6)})
    breaker = CircuitBreaker(threshold=2, cooldown_s=60.0)
    outcome = make(api, max_workers=1, breaker=breaker).post_many(
        b"x", ids(*(f"c{i}" for i in range(6)))
    )
    assert len(outcome.gone) == 6
    assert not breaker.is_open


def test_disconnect_closes_each_connection_and_tells_gone_from_failed(
    make: Callable[..., ApiGatewayPush],
) -> None:
    """DELETE @connections/{id} per connection (how removing an operator closes their
    connections): 410 is reported gone, an endpoint that keeps failing is reported failed after
    ``attempts`` tries, and the rest are closed."""
    api = FakeManagementApi({"b": gone, "c": broken})
    outcome = make(api, attempts=2).disconnect(ids("a", "b", "c"))
    assert outcome.gone == {"b"}
    assert outcome.failed == {"c"}
    assert api.count() == Counter({"a": 1, "b": 1, "c": 2})
    assert {data for _, data in api.calls} == {b"DELETE"}
