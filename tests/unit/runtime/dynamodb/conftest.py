"""What the stream mapping tests share: the runtime's durable state in a fresh file, and a moto
server (a real HTTP endpoint, so requests go through botocore as to DynamoDB) per module."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hubbub.runtime.dynamodb.checkpoints import RuntimeState
from tests.support.moto import threaded_moto
from tests.unit.runtime.dynamodb.moto_tables import Table, new_table


@pytest.fixture
def state(tmp_path: Path) -> Iterator[RuntimeState]:
    runtime_state = RuntimeState(tmp_path / "runtime.sqlite3")
    yield runtime_state
    runtime_state.close()


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with threaded_moto() as url:
        yield url


@pytest.fixture
def table(endpoint: str) -> Table:
    return new_table(endpoint)
