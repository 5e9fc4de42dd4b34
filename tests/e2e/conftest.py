"""End-to-end fixtures: a real ``hubbub serve`` subprocess and real WebSocket clients."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from hubbub.client import HubbubClient
from tests.support.server import ServerProcess

Connect = Callable[..., Awaitable[HubbubClient]]

# HUBBUB_E2E_STORE=dynamodb runs the chat suites on `hubbub serve --store dynamodb` (embedded moto)
STORE_ARGS: tuple[str, ...] = (
    ("--store", "dynamodb") if os.environ.get("HUBBUB_E2E_STORE") == "dynamodb" else ()
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server per test module (cold starts are paid once); tests use distinct topics."""
    proc = ServerProcess(tmp_path_factory.mktemp("serve") / "data", *STORE_ARGS).start()
    yield proc
    proc.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Callable[..., ServerProcess]]:
    """A server of the test's own, with extra ``hubbub serve`` arguments."""
    started: list[ServerProcess] = []

    def start(*args: str, template: Path | None = None) -> ServerProcess:
        proc = ServerProcess(
            tmp_path / f"data{len(started)}", *STORE_ARGS, *args, template=template
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
