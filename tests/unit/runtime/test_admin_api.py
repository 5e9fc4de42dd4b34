"""The runtime's admin API (``runtime.admin_api``) on an aiohttp test server, over a stand-in
runtime: the key check every endpoint shares, and dead-letter replay."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hubbub.runtime.admin_api import KEY_HEADER, add_admin_routes
from hubbub.runtime.dynamodb.checkpoints import RuntimeState
from hubbub.runtime.faults import Faults
from hubbub.runtime.lambda_.pool import InvokeResult
from hubbub.runtime.metrics import Registry

KEY = "the-runtime-key"
MAPPING = "FanOutFunction.Stream"
RECORD = {"eventID": "e1", "eventName": "INSERT", "dynamodb": {"SequenceNumber": "7"}}


@dataclass
class RecordingPool:
    """A function that records each event and answers what ``answer`` says."""

    answer: Callable[[], InvokeResult] = lambda: InvokeResult("rid", True, None, 1.0)
    events: list[Any] = field(default_factory=list)

    async def invoke(self, event: Any) -> InvokeResult:
        self.events.append(event)
        return self.answer()


@pytest.fixture
def state(tmp_path: Path) -> RuntimeState:
    state = RuntimeState(tmp_path / "runtime.sqlite3")
    state.dead_letter(MAPPING, 7, "record failed: retries exhausted", RECORD, 1_000)
    return state


@pytest.fixture
def pool() -> RecordingPool:
    return RecordingPool()


@pytest.fixture
async def client(
    tmp_path: Path, state: RuntimeState, pool: RecordingPool
) -> AsyncIterator[TestClient[web.Request, web.Application]]:
    poller = SimpleNamespace(
        mapping=SimpleNamespace(name=MAPPING, table="Table"),
        pool=pool,
        source=None,
        measure=lambda: None,
    )
    runtime: Any = SimpleNamespace(
        runtime_key=KEY,
        exposed=False,
        config=SimpleNamespace(faults=Faults(), data_dir=tmp_path),
        state=state,
        pollers=[poller],
        backing=None,
        metrics=Registry(),
        info=lambda: {"store": "sqlite"},
        stats=lambda: {"functions": {}},
    )
    app = web.Application()

    async def batch(request: web.Request) -> web.StreamResponse:
        return web.json_response({"batch": True})

    app.router.add_post("/_runtime/@connections", batch)
    add_admin_routes(app, runtime)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
    state.close()


ADMIN_ENDPOINTS = [
    ("GET", "/_runtime/info"),
    ("GET", "/_runtime/stats"),
    ("GET", "/_runtime/faults"),
    ("POST", "/_runtime/faults"),
    ("GET", "/_runtime/clock"),
    ("POST", "/_runtime/clock"),
    ("GET", "/_runtime/dead-letters"),
    ("POST", "/_runtime/dead-letters/1/replay"),
    ("POST", "/_runtime/poison"),
]


@pytest.mark.parametrize(("method", "path"), ADMIN_ENDPOINTS)
@pytest.mark.parametrize("key", [None, "a-wrong-key"])
async def test_every_admin_endpoint_refuses_a_request_without_the_key(
    client: TestClient[web.Request, web.Application], method: str, path: str, key: str | None
) -> None:
    headers = {} if key is None else {KEY_HEADER: key}
    response = await client.request(method, path, headers=headers, json={})
    assert response.status == 403
    assert await response.json() == {"message": "Forbidden"}


@pytest.mark.parametrize(("method", "path"), ADMIN_ENDPOINTS)
async def test_every_admin_endpoint_answers_with_the_key(
    client: TestClient[web.Request, web.Application], method: str, path: str
) -> None:
    response = await client.request(method, path, headers={KEY_HEADER: KEY}, json={})
    assert response.status == 200, await response.text()


async def test_metrics_and_the_batch_route_are_not_behind_the_admin_check(
    client: TestClient[web.Request, web.Application],
) -> None:
    """``/metrics`` is for scrapers (on loopback, with no key); ``/_runtime/@connections`` (main
    app) checks its own key."""
    assert (await client.get("/metrics")).status == 200
    response = await client.post("/_runtime/@connections", json={})
    assert await response.json() == {"batch": True}


async def test_a_replayed_dead_letter_reaches_its_function_and_is_marked_replayed(
    client: TestClient[web.Request, web.Application], pool: RecordingPool
) -> None:
    headers = {KEY_HEADER: KEY}
    (before,) = await (await client.get("/_runtime/dead-letters", headers=headers)).json()
    assert before["replayedMs"] is None

    response = await client.post(f"/_runtime/dead-letters/{before['id']}/replay", headers=headers)

    assert response.status == 200
    assert pool.events == [{"Records": [RECORD]}]
    (after,) = await (await client.get("/_runtime/dead-letters", headers=headers)).json()
    assert isinstance(after["replayedMs"], int)
    assert after == {**before, "replayedMs": after["replayedMs"]}
    assert await response.json() == after


@pytest.mark.parametrize(
    "answer",
    [
        InvokeResult("rid", False, {"errorType": "RuntimeError"}, 1.0),
        InvokeResult("rid", True, {"batchItemFailures": [{"itemIdentifier": "7"}]}, 1.0),
    ],
    ids=["function error", "batch item failure"],
)
async def test_a_replay_the_function_fails_again_leaves_the_letter_unreplayed(
    client: TestClient[web.Request, web.Application], pool: RecordingPool, answer: InvokeResult
) -> None:
    pool.answer = lambda: answer
    headers = {KEY_HEADER: KEY}

    response = await client.post("/_runtime/dead-letters/1/replay", headers=headers)

    assert response.status == 502
    assert "failed again" in (await response.json())["message"]
    (letter,) = await (await client.get("/_runtime/dead-letters", headers=headers)).json()
    assert letter["replayedMs"] is None


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/_runtime/dead-letters/99/replay", 404),
        ("/_runtime/dead-letters/x/replay", 400),
    ],
)
async def test_replaying_what_is_not_a_dead_letter_is_refused(
    client: TestClient[web.Request, web.Application],
    pool: RecordingPool,
    path: str,
    status: int,
) -> None:
    response = await client.post(path, headers={KEY_HEADER: KEY})
    assert response.status == status
    assert pool.events == []


async def test_a_dead_letter_is_replayed_once(
    client: TestClient[web.Request, web.Application], pool: RecordingPool
) -> None:
    headers = {KEY_HEADER: KEY}
    assert (await client.post("/_runtime/dead-letters/1/replay", headers=headers)).status == 200
    assert (await client.post("/_runtime/dead-letters/1/replay", headers=headers)).status == 409
    assert len(pool.events) == 1


async def test_a_dead_letter_of_a_mapping_gone_from_the_template_is_not_replayed(
    client: TestClient[web.Request, web.Application], state: RuntimeState, pool: RecordingPool
) -> None:
    state.dead_letter("Gone.Stream", 8, "record older than maximum age", RECORD, 2_000)
    response = await client.post("/_runtime/dead-letters/2/replay", headers={KEY_HEADER: KEY})
    assert response.status == 404
    assert pool.events == []


@pytest.mark.parametrize(
    ("exposed", "headers", "status"),
    [
        (False, {}, 200),  # loopback: only local users reach it
        (True, {}, 403),  # 0.0.0.0 or a LAN address: the network reaches it
        (True, {KEY_HEADER: "wrong"}, 403),
        (True, {"Authorization": "Bearer wrong"}, 403),
        (True, {"Authorization": f"Basic {KEY}"}, 403),
        (True, {KEY_HEADER: KEY}, 200),
        (True, {"Authorization": f"Bearer {KEY}"}, 200),  # Prometheus' credentials_file
        (True, {"Authorization": f"bearer  {KEY} "}, 200),
    ],
)
async def test_metrics_need_the_key_when_the_runtime_listens_beyond_loopback(
    exposed: bool, headers: dict[str, str], status: int
) -> None:
    runtime: Any = SimpleNamespace(runtime_key=KEY, exposed=exposed, pollers=[], metrics=Registry())
    app = web.Application()
    add_admin_routes(app, runtime)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/metrics", headers=headers)
        assert response.status == status
