"""End-to-end fixtures: a real ``hubbub serve`` subprocess and real WebSocket clients."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from hubbub.client import HubbubClient
from tests.support.moto import MotoEndpoint
from tests.support.server import ServerProcess

Connect = Callable[..., Awaitable[HubbubClient]]
StoreArgs = Callable[[], tuple[str, ...]]

ON_DYNAMODB = os.environ.get("HUBBUB_E2E_STORE") == "dynamodb"
"""``HUBBUB_E2E_STORE=dynamodb`` runs the suite on ``hubbub serve --store dynamodb``."""

LOAD_SCALE = 0.2 if ON_DYNAMODB else 1.0
"""The share of a load test's full volume that the store under test serves within the suite's
deadlines. moto answers one request at a time, at about 7 ms each, where SQLite commits in well
under 1 ms: on it the load tests keep their concurrency and their checks, with fewer messages."""

_stacks = itertools.count()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Iterator[pytest.TestReport]:
    """A failed test shows the tail of each server's log it used: a refusal such as a $connect
    answered 500 says why only there, and CI keeps nothing else of a run."""
    report: pytest.TestReport = yield
    if report.when == "call" and report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, ServerProcess) and value.log_path.exists():
                tail = value.log_path.read_text(errors="replace").splitlines()[-80:]
                report.sections.append(
                    (f"hubbub serve log, last {len(tail)} lines", "\n".join(tail))
                )
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On DynamoDB, run only the tests marked ``store``: those that check behaviour the two
    stores implement separately (tests/support/store_sensitivity.py says which, and
    tests/unit/test_store_selection.py holds every test to it). The others would repeat the
    SQLite run: the contract tests already run every Store method on both adapters."""
    for item in items:
        if item.get_closest_marker("store") and "store_args" not in getattr(
            item, "fixturenames", ()
        ):
            raise pytest.UsageError(
                f"{item.nodeid} is marked store but its server does not take the store under test"
            )
    if not ON_DYNAMODB:
        return
    chosen = [item for item in items if item.get_closest_marker("store")]
    dropped = [item for item in items if not item.get_closest_marker("store")]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = chosen


@pytest.fixture(scope="session")
def dynamodb() -> Iterator[MotoEndpoint | None]:
    """With ``HUBBUB_E2E_STORE=dynamodb``: one DynamoDB endpoint for the session, outside every
    server, so that a server's restart or ``kill -9`` keeps its tables (see tests/support/moto.py).
    """
    if not ON_DYNAMODB:
        yield None
        return
    endpoint = MotoEndpoint().start()
    yield endpoint
    endpoint.stop()


@pytest.fixture(scope="session")
def store_args(dynamodb: MotoEndpoint | None) -> StoreArgs:
    """``hubbub serve`` arguments for the store under test; a stack (tables) per server."""

    def args() -> tuple[str, ...]:
        if dynamodb is None:
            return ()
        stack = f"e2e{next(_stacks)}"
        return ("--store", "dynamodb", "--dynamodb-endpoint", dynamodb.url, "--stack-name", stack)

    return args


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, store_args: StoreArgs
) -> Iterator[ServerProcess]:
    """One server per test module (cold starts are paid once); tests use distinct topics."""
    proc = ServerProcess(tmp_path_factory.mktemp("serve") / "data", *store_args()).start()
    yield proc
    proc.stop()


@pytest.fixture
def fresh_server(tmp_path: Path, store_args: StoreArgs) -> Iterator[Callable[..., ServerProcess]]:
    """A server of the test's own, with extra ``hubbub serve`` arguments."""
    started: list[ServerProcess] = []

    def start(*args: str, template: Path | None = None) -> ServerProcess:
        proc = ServerProcess(
            tmp_path / f"data{len(started)}", *store_args(), *args, template=template
        ).start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
async def connect(server: ServerProcess) -> AsyncIterator[Connect]:
    """Open clients against the module's server; all are closed after the test."""
    clients: list[HubbubClient] = []

    async def open_client(url: str | None = None, **kwargs: object) -> HubbubClient:
        client = await HubbubClient.connect(url or server.ws_url, **kwargs)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        await client.close()
