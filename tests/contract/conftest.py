"""Contract fixtures: one ``store`` fixture, backed by SQLite and by DynamoDB (moto in server mode).

moto runs as a real HTTP server so the DynamoDB adapter goes through botocore exactly as on AWS
(serialisation, error parsing, ``CancellationReasons``), not through an in-process patch.
"""

from __future__ import annotations

import itertools
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from hubbub import streamlog
from hubbub.runtime.dynamodb.motofast import faster_moto
from hubbub.store.dynamodb.adapter import DynamoStore
from hubbub.store.dynamodb.schema import create_table
from hubbub.store.items import message_sk, topic_pk
from hubbub.store.port import Store
from hubbub.store.sqlite.adapter import SqliteStore

_DUMMY_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}
_table_names = itertools.count()

STRESS_APPEND_ATTEMPTS = 100
"""Retry budget for tests that keep 8 writers racing for one topic head without pause.

Under that saturation every round has one winner among up to 8, so a few appends in 200 lose
more than the default 8 races (they would surface ``StoreUnavailable`` and the client would resend
with the same clientMsgId). The stress test checks that retrying loses and doubles nothing,
so it gives the loop room; the default budget is covered by the deterministic race tests.
"""


class _OneAtATime:
    """moto is not thread-safe, so the server handles one request at a time.

    TransactWriteItems evaluates conditions and applies writes with no lock; DynamoDB itself
    serialises conflicting writes, and this restores that guarantee. Clients still interleave
    freely *between* requests, which is where the adapter's races (read head, then write) live,
    so the concurrency tests keep their teeth. Rollbacks are made cheap by
    ``hubbub.runtime.dynamodb.motofast`` (the same patch the runtime's embedded moto uses).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def serialised(self, app: Callable[..., Iterable[bytes]]) -> Callable[..., list[bytes]]:
        def one_at_a_time(
            environ: dict[str, Any], start_response: Callable[..., Any]
        ) -> list[bytes]:
            with self._lock:
                return list(app(environ, start_response))

        return one_at_a_time


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One moto server for the whole session, on an ephemeral port, with dummy credentials."""
    with pytest.MonkeyPatch.context() as patch, faster_moto():
        patch.delenv("AWS_PROFILE", raising=False)
        for name, value in _DUMMY_AWS_ENV.items():
            patch.setenv(name, value)
        # A default session made earlier in the run may have cached other credentials.
        patch.setattr(boto3, "DEFAULT_SESSION", None)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        wsgi_server = server._server
        assert wsgi_server is not None
        wsgi_server.app = _OneAtATime().serialised(wsgi_server.app)
        host, port = server.get_host_and_port()
        try:
            yield f"http://{host}:{port}"
        finally:
            server.stop()


@pytest.fixture(scope="session")
def moto_client(moto_endpoint: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=moto_endpoint)


class RecordingClient:
    """Passes every call to the real client and remembers the operation names used."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.operations: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if callable(attribute) and not name.startswith(("_", "get_waiter", "close")):
            self.operations.append(name)
        return attribute


@dataclass
class Backend:
    """One store backend: how to open more stores on the same data, and test-only surgery."""

    name: str
    open_store: Callable[[], Store]
    open_stress_store: Callable[[], Store]
    drop_message: Callable[[str, int], None]
    read_changes: Callable[[], list[tuple[str, dict[str, Any]]]]
    """The table's change stream so far: (event name, NewImage in DynamoDB JSON) per record,
    read from the SQLite outbox or from DynamoDB Streams."""
    _opened: list[Store] = field(default_factory=list)

    def store(self, *, stress: bool = False) -> Store:
        """Another store on the same data, as another process would open it.

        ``stress`` is for tests that overload one topic on purpose (see STRESS_APPEND_ATTEMPTS).
        """
        opened = self.open_stress_store() if stress else self.open_store()
        self._opened.append(opened)
        return opened

    def close_all(self) -> None:
        for opened in self._opened:
            opened.close()


@dataclass
class DynamoTable:
    name: str
    endpoint: str
    client: Any
    recorders: list[RecordingClient] = field(default_factory=list)

    def recorded_store(self, **kwargs: Any) -> DynamoStore:
        """A store whose every request is recorded (to prove there is never a Scan)."""
        recorder = RecordingClient(self.client)
        self.recorders.append(recorder)
        return DynamoStore(self.name, client=recorder, **kwargs)

    def independent_store(self, **kwargs: Any) -> DynamoStore:
        """A store with a client of its own, built lazily, as each Lambda environment has."""
        return DynamoStore(self.name, endpoint_url=self.endpoint, **kwargs)

    def read_changes(self) -> list[tuple[str, dict[str, Any]]]:
        """Every record of the table's stream, from the start, through the Streams API."""
        arn = self.client.describe_table(TableName=self.name)["Table"]["LatestStreamArn"]
        streams = boto3.client("dynamodbstreams", endpoint_url=self.endpoint)
        shards = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        changes: list[tuple[str, dict[str, Any]]] = []
        for shard in shards:
            iterator = streams.get_shard_iterator(
                StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
            for record in streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]:
                image = record["dynamodb"].get("NewImage", {})
                changes.append((record["eventName"], image))
        streams.close()
        return changes

    def drop_message(self, topic: str, seq: int) -> None:
        """What a TTL deletion does to a message."""
        self.client.delete_item(
            TableName=self.name,
            Key={"pk": {"S": topic_pk(topic)}, "sk": {"S": message_sk(seq)}},
        )


@pytest.fixture
def dynamo_table(moto_endpoint: str, moto_client: Any) -> Iterator[DynamoTable]:
    """A fresh table with the template's schema, deleted after the test."""
    name = f"chat-{os.getpid()}-{next(_table_names)}"
    create_table(moto_client, name)
    table = DynamoTable(name, moto_endpoint, moto_client)
    yield table
    moto_client.delete_table(TableName=name)
    for recorder in table.recorders:
        assert "scan" not in recorder.operations, "the DynamoDB adapter must never Scan"


def _sqlite_backend(path: Path) -> Backend:
    def drop_message(topic: str, seq: int) -> None:
        with sqlite3.connect(path) as db:
            db.execute("DELETE FROM messages WHERE topic = ? AND seq = ?", (topic, seq))
        db.close()

    def read_changes() -> list[tuple[str, dict[str, Any]]]:
        with sqlite3.connect(path) as db:
            entries = streamlog.read_after(db, 0, 100_000)
        db.close()
        return [(e.event_name, e.new_image or {}) for e in entries]

    return Backend(
        "sqlite",
        lambda: SqliteStore(path),
        lambda: SqliteStore(path),
        drop_message,
        read_changes,
    )


@pytest.fixture(params=["sqlite", "dynamodb"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        chosen = _sqlite_backend(tmp_path / "t.sqlite3")
    else:
        table: DynamoTable = request.getfixturevalue("dynamo_table")
        chosen = Backend(
            "dynamodb",
            table.recorded_store,
            lambda: table.independent_store(max_append_attempts=STRESS_APPEND_ATTEMPTS),
            table.drop_message,
            table.read_changes,
        )
    yield chosen
    chosen.close_all()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.store()
