"""Requests to a probe app behind an HTTP or REST API, each tagged so that the event it caused can
be found among the events the app recorded.

The tag travels as ``X-Probe-Id``: a REST API (payload 1.0) hands headers to the function as
sent, an HTTP API (payload 2.0) lower-cases them, so the HTTP tests look it up as ``x-probe-id``.
"""

from __future__ import annotations

import importlib.util
import io
import json
import queue
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from tests.conftest import TIMEOUT_FACTOR
from tests.support.server import ServerProcess

PROBE_HEADER = "X-Probe-Id"


async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    """A client that shows responses as the gateway sent them: no cookies, no decompression."""
    timeout = aiohttp.ClientTimeout(total=30 * TIMEOUT_FACTOR)
    async with aiohttp.ClientSession(
        timeout=timeout, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False
    ) as session:
        yield session


@dataclass(frozen=True)
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes
    probe_id: str

    def json(self) -> Any:
        return json.loads(self.body)


async def call(
    session: aiohttp.ClientSession,
    server: ServerProcess,
    method: str,
    path: str,
    *,
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
) -> Reply:
    """One request with a unique probe id; ``path`` is sent as written (already encoded)."""
    probe_id = str(uuid.uuid4())
    lines: CIMultiDict[str] = CIMultiDict([(PROBE_HEADER, probe_id), *(headers or [])])
    url = URL(f"{server.base_url}{path}", encoded=True)
    data = None if body is None else io.BytesIO(body)
    async with session.request(method, url, headers=lines, data=data) as response:
        return Reply(response.status, response.headers, await response.read(), probe_id)


def load_app_module(path: Path) -> ModuleType:
    """A probe app's own module, so expected responses come from the shapes it answers with
    (loaded by path: the apps import nothing from hubbub and are not a package)."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Tee(queue.Queue[str]):
    """Keeps every stdout line ``hubbub serve`` printed, including those before ``ready``."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def put(self, item: str, block: bool = True, timeout: float | None = None) -> None:
        self.seen.append(item)
        super().put(item, block, timeout)


def printed(proc: ServerProcess) -> list[str]:
    assert isinstance(proc.lines, Tee)
    return proc.lines.seen
