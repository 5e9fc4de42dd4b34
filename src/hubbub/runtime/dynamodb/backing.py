"""Where a template's tables live, and how their streams reach the stream mappings.

Two backings, chosen per ``hubbub serve`` (``--store``):

- ``sqlite``: the app's own store writes ``{data_dir}/{TableName}.sqlite3`` and appends to its
  ``stream_log`` (``hubbub/streamlog.py``); the runtime creates no table and reads the log. This is
  hubbub's durable default, and only an app written for it can use it.
- ``dynamodb``: the runtime creates every table of the template in a DynamoDB endpoint (moto's
  server, started by the runtime, or ``--dynamodb-endpoint``), hands functions that endpoint in
  ``AWS_ENDPOINT_URL_DYNAMODB`` (boto3 reads it on its own), and reads each table's stream through
  the ``dynamodbstreams`` API. Any app that talks to DynamoDB with boto3 runs unchanged.

``auto`` (the default) is ``sqlite`` when every function of the template is in one of the packages
the host names as carrying the SQLite store (``hubbub serve`` names ``hubbub.handlers``), and
``dynamodb`` otherwise, or whenever ``--dynamodb-endpoint`` is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubbub.runtime.cloudformation import AppSpec, StreamMappingSpec
from hubbub.runtime.dynamodb.sources import (
    POISON_ITEM,
    DynamoStreamSource,
    SqliteStreamSource,
    StreamSource,
)
from hubbub.runtime.dynamodb.tables import (
    EmbeddedDynamo,
    ProvisionedTable,
    TablesUnavailable,
    create_table_request,
    endpoint_client,
    provision,
)
from hubbub.runtime.dynamodb.ttl import TtlSweeper, TtlTable, never_expired
from hubbub.runtime.dynamodb.walcheckpoint import ENV as CHECKPOINTS_ENV
from hubbub.runtime.dynamodb.walcheckpoint import WalCheckpointer

__all__ = ["STORES", "Backing", "StreamFeed", "choose_store"]

log = logging.getLogger("hubbub.runtime")

STORES = ("auto", "sqlite", "dynamodb")


def choose_store(
    spec: AppSpec,
    requested: str,
    *,
    endpoint: str | None = None,
    sqlite_packages: Iterable[str] = (),
) -> str:
    """The backing ``requested`` means for this template: ``sqlite`` or ``dynamodb``."""
    if requested not in STORES:
        raise ValueError(f"store must be one of {', '.join(STORES)}, not {requested!r}")
    if requested == "sqlite" and endpoint:
        raise ValueError("--dynamodb-endpoint needs the dynamodb store, not sqlite")
    if requested != "auto":
        return requested
    if endpoint:
        return "dynamodb"
    packages = tuple(sqlite_packages)
    handlers = [f.handler for f in spec.functions.values()]

    def carries_sqlite(handler: str) -> bool:
        return any(handler.startswith(f"{package}.") for package in packages)

    if handlers and all(carries_sqlite(h) for h in handlers):
        return "sqlite"
    return "dynamodb"


@dataclass(frozen=True, slots=True)
class StreamFeed:
    """What a stream mapping reads: the source, the ARN its records carry, and an identity that
    changes when the stream does (a table created anew), so a stale checkpoint is dropped."""

    source: StreamSource
    stream_arn: str
    identity: str


class Backing:
    def __init__(
        self,
        spec: AppSpec,
        store: str,
        *,
        data_dir: Path,
        region: str,
        credentials: Mapping[str, str],
        endpoint: str | None = None,
        now_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
        ttl_sweep_s: float = 60.0,
    ) -> None:
        """``now_ms``: the clock TTL is judged by (the runtime's); ``ttl_sweep_s``: how often
        the tables with TTL are swept of expired items (``ttl.py``)."""
        self.spec = spec
        self.store = store
        self.data_dir = data_dir
        self.region = region
        self.credentials = dict(credentials)
        self.endpoint = endpoint
        self.embedded: EmbeddedDynamo | None = None
        self.tables: dict[str, ProvisionedTable] = {}
        self._streams_client: Any = None
        self._sources: list[DynamoStreamSource] = []
        self.checkpointer: WalCheckpointer | None = None
        self._now_ms = now_ms
        self.ttl: TtlSweeper | None = None
        self._ttl_sweep_s = ttl_sweep_s
        self._ttl_task: asyncio.Task[None] | None = None

    @property
    def needs_endpoint(self) -> bool:
        return self.store == "dynamodb" and bool(self.spec.tables or self.endpoint)

    async def start(self) -> None:
        """Start the embedded DynamoDB when needed and create every table in it; with the
        SQLite store, the thread that checkpoints the tables' WAL."""
        if self.store == "sqlite" and self.spec.tables:
            paths = [self.data_dir / f"{t.name}.sqlite3" for t in self.spec.tables.values()]
            self.checkpointer = WalCheckpointer(paths)
            self.checkpointer.start()
        if not self.needs_endpoint:
            return
        if self.endpoint is None:
            self.embedded = EmbeddedDynamo("127.0.0.1")
            try:
                self.endpoint = await self.embedded.start()
            except TablesUnavailable as exc:
                names = ", ".join(t.name for t in self.spec.tables.values())
                raise TablesUnavailable(
                    f"the template's tables ({names}) need a DynamoDB: {exc};"
                    " or give one with --dynamodb-endpoint URL"
                ) from exc
            log.info("embedded DynamoDB (moto) at %s", self.endpoint)
        client = self._client("dynamodb")
        self._streams_client = self._client("dynamodbstreams")
        for logical_id, table in self.spec.tables.items():
            try:
                self.tables[logical_id] = await asyncio.to_thread(provision, client, table)
            except TablesUnavailable:
                raise
            except Exception as exc:
                raise TablesUnavailable(
                    f"cannot create table {table.name} ({logical_id}) at {self.endpoint}: {exc}"
                ) from exc
        expiring = [
            TtlTable(
                self.tables[logical_id].name,
                table.ttl_attribute,
                tuple(k["AttributeName"] for k in create_table_request(table)["KeySchema"]),
            )
            for logical_id, table in self.spec.tables.items()
            if table.ttl_attribute
        ]
        if expiring:
            self.ttl = TtlSweeper(client, expiring)
            self._ttl_task = asyncio.create_task(self._sweep_every(self._ttl_sweep_s))

    async def sweep_expired(self) -> int:
        """Delete the items whose TTL has passed, now; how many went."""
        if self.ttl is None:
            return 0
        deleted = await asyncio.to_thread(self.ttl.sweep, self._now_ms() // 1000)
        if deleted:
            self.poke()
        return deleted

    async def _sweep_every(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.sweep_expired()
            except Exception as exc:  # the endpoint: try again at the next sweep
                log.warning("TTL sweep failed: %s", exc)

    def _client(self, service: str) -> Any:
        return endpoint_client(service, self.region, self.credentials, self.endpoint)

    def function_env(self) -> dict[str, str]:
        """What every function is told about the backing."""
        env = {"HUBBUB_STORE": self.store}
        if self.store == "sqlite":
            env.update(CHECKPOINTS_ENV)
        if self.store == "dynamodb" and self.endpoint:
            env["AWS_ENDPOINT_URL_DYNAMODB"] = self.endpoint
            env["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = self.endpoint
        return env

    def feed(self, mapping: StreamMappingSpec) -> StreamFeed:
        table = self.spec.tables[mapping.table]
        if self.store == "sqlite":
            return StreamFeed(
                SqliteStreamSource(self.data_dir / f"{table.name}.sqlite3"),
                f"arn:aws:dynamodb:{self.region}:{self.spec.account_id}:table/{table.name}"
                "/stream/local",
                f"sqlite:{table.name}",
            )
        stream_arn = self.tables[mapping.table].stream_arn
        if stream_arn is None:
            raise TablesUnavailable(f"{mapping.name}: table {table.name} has no stream")
        source = DynamoStreamSource(
            self._streams_client,
            stream_arn,
            now_ms=self._now_ms,  # the 24 hours' retention, on the clock tests can move
            expired_by=never_expired
            if self.ttl is None
            else self.ttl.reader(self.tables[mapping.table].name),
        )
        self._sources.append(source)
        return StreamFeed(source, stream_arn, stream_arn)

    def put_poison(self, mapping: StreamMappingSpec) -> bool:
        """Blocking: put ``POISON_ITEM`` into the mapping's table and delete it again, so its
        stream carries the poison INSERT (and a REMOVE) and the table is left as it was. False
        when the table's key is not hubbub's ``pk``/``sk`` strings."""
        request = create_table_request(self.spec.tables[mapping.table])
        types = {a["AttributeName"]: a["AttributeType"] for a in request["AttributeDefinitions"]}
        key = [(k["AttributeName"], types.get(k["AttributeName"])) for k in request["KeySchema"]]
        if key != [("pk", "S"), ("sk", "S")]:
            return False
        client = self._client("dynamodb")
        name = self.tables[mapping.table].name
        from boto3.dynamodb.types import TypeSerializer

        item = {k: TypeSerializer().serialize(v) for k, v in POISON_ITEM.items()}
        client.put_item(TableName=name, Item=item)
        client.delete_item(TableName=name, Key={"pk": item["pk"], "sk": item["sk"]})
        return True

    def poke(self) -> None:
        """Something may have been written: look at the streams now rather than at the next
        poll."""
        for source in self._sources:
            source.poke()

    async def stop(self) -> None:
        if self._ttl_task is not None:
            self._ttl_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ttl_task
        if self.checkpointer is not None:
            await asyncio.to_thread(self.checkpointer.stop)
        for source in self._sources:
            await source.stop()
        if self.embedded is not None:
            await self.embedded.stop()
