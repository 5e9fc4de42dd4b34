"""What the stream mapping tests share: the runtime's durable state in a fresh file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hubbub.runtime.dynamodb.checkpoints import RuntimeState


@pytest.fixture
def state(tmp_path: Path) -> Iterator[RuntimeState]:
    runtime_state = RuntimeState(tmp_path / "runtime.sqlite3")
    yield runtime_state
    runtime_state.close()
