"""A DynamoDB that does not answer costs a request its configured limits, then ``StoreUnavailable``.

The limits come from the function's environment (``DYNAMODB_*`` in bootstrap), so that a Lambda
answers ``unavailable`` well inside its own timeout instead of being killed by it.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubbub.handlers import bootstrap
from hubbub.ids import ConnectionId
from hubbub.runtime.cloudformation.yamltags import load_template
from hubbub.store.dynamodb.adapter import ClientLimits
from hubbub.store.port import StoreUnavailable


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """Accepts connections (the kernel's backlog) and never reads or answers a byte."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.fixture(autouse=True)
def dummy_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_a_silent_table_is_unavailable_within_the_limits_from_the_environment(
    silent_endpoint: str,
) -> None:
    store = bootstrap._store(
        {
            "HUBBUB_STORE": "dynamodb",
            "TABLE_NAME": "t",
            "AWS_ENDPOINT_URL_DYNAMODB": silent_endpoint,
            "DYNAMODB_READ_TIMEOUT_SECONDS": "0.3",
            "DYNAMODB_MAX_ATTEMPTS": "2",
        }
    )
    started = time.monotonic()
    with pytest.raises(StoreUnavailable):
        store.get_connection(ConnectionId("c1"))
    elapsed = time.monotonic() - started
    # two attempts of 0.3 s and botocore's backoff between them; the defaults would take 6 s
    assert 0.6 <= elapsed < 3.0, elapsed
    store.close()


def test_the_default_limits_fit_inside_the_template_s_function_timeout() -> None:
    limits = ClientLimits()
    worst_case = limits.max_attempts * (limits.connect_timeout_s + limits.read_timeout_s)
    template = load_template(Path(__file__).parents[2] / "template.yaml")
    assert worst_case < template["Globals"]["Function"]["Timeout"]
