"""What the stream mapping tests share: the runtime's durable state in a fresh file, and a moto
server (a real HTTP endpoint, so requests go through botocore as to DynamoDB) per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from hubbub.runtime.dynamodb.checkpoints import RuntimeState


@pytest.fixture
def state(tmp_path: Path) -> Iterator[RuntimeState]:
    runtime_state = RuntimeState(tmp_path / "runtime.sqlite3")
    yield runtime_state
    runtime_state.close()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
