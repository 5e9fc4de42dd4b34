"""The template's DynamoDB tables, created where the functions will look for them.

``AWS::DynamoDB::Table`` and ``AWS::Serverless::SimpleTable`` become CreateTable requests (keys,
attribute definitions, global and local secondary indexes, billing, stream) followed by
UpdateTimeToLive, against an endpoint: by default moto's server, started by the runtime in a
process of its own (:class:`EmbeddedDynamo`), or any DynamoDB-compatible endpoint the user names
(DynamoDB Local, LocalStack). Functions reach it through ``AWS_ENDPOINT_URL_DYNAMODB``, which boto3
reads on its own, so their code runs unchanged; table names are what ``!Ref`` resolves to.

Creating is idempotent: a table that already exists with the same key schema is used as it is
(a long-lived DynamoDB Local keeps its data across restarts), given the stream and the global
secondary indexes the template has since added, as a stack update would (CloudFormation adds
an index in place, and DynamoDB backfills it); one with another key schema is an error rather
than a silent surprise. An index the template dropped is left: deleting is the user's call.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hubbub.runtime.cloudformation import TableSpec

__all__ = [
    "EmbeddedDynamo",
    "ProvisionedTable",
    "TablesUnavailable",
    "create_table_request",
    "endpoint_client",
    "provision",
    "shared_or_own_moto",
]

log = logging.getLogger("hubbub.tables")

_SIMPLE_TYPES = {"String": "S", "Number": "N", "Binary": "B"}
_INDEX_KEYS = ("IndexName", "KeySchema", "Projection")
_DEFAULT_THROUGHPUT = {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}


def endpoint_client(
    service: str, region: str, credentials: Mapping[str, str], endpoint: str | None
) -> Any:
    """A boto3 client of the runtime's own for the endpoint the template's resources live in
    (tables, queues and topics share moto's one server): short connect and read timeouts and
    three standard retries, so a dead endpoint fails startup quickly with a clear error
    instead of hanging."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name=region, **credentials)
    return session.client(
        service,
        endpoint_url=endpoint,
        config=Config(
            connect_timeout=2, read_timeout=10, retries={"mode": "standard", "max_attempts": 3}
        ),
    )


class TablesUnavailable(RuntimeError):
    """The template's tables cannot be provided (no moto, an endpoint that refuses them...)."""


@dataclass(frozen=True, slots=True)
class ProvisionedTable:
    logical_id: str
    name: str
    arn: str
    stream_arn: str | None
    """The table's ``LatestStreamArn``, with the real stream label; None without a stream."""


# requests -------------------------------------------------------------------------------------
def create_table_request(spec: TableSpec) -> dict[str, Any]:
    """The CreateTable request for a table resource, as CloudFormation would make it."""
    props: Mapping[str, Any] = spec.properties
    if spec.kind == "AWS::Serverless::SimpleTable":
        return _simple_table_request(spec.name, props)
    if not props.get("KeySchema"):
        raise TablesUnavailable(f"{spec.logical_id}: a table needs a KeySchema")
    request: dict[str, Any] = {
        "TableName": spec.name,
        "KeySchema": [_key(k) for k in props["KeySchema"]],
        "AttributeDefinitions": [
            {"AttributeName": str(a["AttributeName"]), "AttributeType": str(a["AttributeType"])}
            for a in props.get("AttributeDefinitions") or []
        ],
    }
    provisioned = str(props.get("BillingMode", "PROVISIONED")) == "PROVISIONED"
    table_throughput = _throughput(props.get("ProvisionedThroughput"))
    if provisioned:
        request["BillingMode"] = "PROVISIONED"
        request["ProvisionedThroughput"] = table_throughput
    else:
        request["BillingMode"] = "PAY_PER_REQUEST"
    global_indexes = []
    for index in props.get("GlobalSecondaryIndexes") or []:
        shaped = _index(index)
        if provisioned:
            shaped["ProvisionedThroughput"] = _throughput(
                index.get("ProvisionedThroughput") or table_throughput
            )
        global_indexes.append(shaped)
    if global_indexes:
        request["GlobalSecondaryIndexes"] = global_indexes
    local_indexes = [_index(i) for i in props.get("LocalSecondaryIndexes") or []]
    if local_indexes:
        request["LocalSecondaryIndexes"] = local_indexes
    if spec.stream_view_type:
        request["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": spec.stream_view_type,
        }
    return request


def _simple_table_request(name: str, props: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's SimpleTable: one hash key, ``id`` of type String unless ``PrimaryKey`` says."""
    primary = props.get("PrimaryKey") or {}
    key_name = str(primary.get("Name", "id"))
    key_type = _SIMPLE_TYPES.get(str(primary.get("Type", "String")))
    if key_type is None:
        raise TablesUnavailable(f"{name}: PrimaryKey Type must be String, Number or Binary")
    request: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [{"AttributeName": key_name, "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": key_name, "AttributeType": key_type}],
    }
    if props.get("ProvisionedThroughput"):
        request["BillingMode"] = "PROVISIONED"
        request["ProvisionedThroughput"] = _throughput(props["ProvisionedThroughput"])
    else:
        request["BillingMode"] = "PAY_PER_REQUEST"
    return request


def _key(element: Mapping[str, Any]) -> dict[str, str]:
    return {"AttributeName": str(element["AttributeName"]), "KeyType": str(element["KeyType"])}


def _index(index: Mapping[str, Any]) -> dict[str, Any]:
    shaped: dict[str, Any] = {k: index[k] for k in _INDEX_KEYS if k in index}
    shaped["KeySchema"] = [_key(k) for k in shaped.get("KeySchema") or []]
    projection = dict(shaped.get("Projection") or {"ProjectionType": "ALL"})
    if "NonKeyAttributes" in projection:
        projection["NonKeyAttributes"] = [str(a) for a in projection["NonKeyAttributes"]]
    shaped["Projection"] = projection
    return shaped


def _throughput(value: Any) -> dict[str, int]:
    if not isinstance(value, Mapping):
        return dict(_DEFAULT_THROUGHPUT)
    return {
        "ReadCapacityUnits": int(value.get("ReadCapacityUnits", 5)),
        "WriteCapacityUnits": int(value.get("WriteCapacityUnits", 5)),
    }


# provisioning ---------------------------------------------------------------------------------
def provision(client: Any, spec: TableSpec, *, timeout_s: float = 30.0) -> ProvisionedTable:
    """Create the table (or take the existing one), wait until it is ACTIVE, turn TTL on.

    Blocking: the runtime calls it in a thread before it takes connections.
    """
    request = create_table_request(spec)
    try:
        client.create_table(**request)
        log.info("table %s created (%s)", spec.name, spec.logical_id)
    except client.exceptions.ResourceInUseException:
        log.info("table %s exists; using it", spec.name)
    table = _wait_active(client, spec.name, timeout_s)
    if _key_names(table.get("KeySchema")) != _key_names(request["KeySchema"]):
        raise TablesUnavailable(
            f"table {spec.name} exists with another key schema than {spec.logical_id} declares;"
            " delete it or use another endpoint"
        )
    table = _add_missing_indexes(client, table, request, timeout_s)
    stream_arn = table.get("LatestStreamArn")
    enabled = (table.get("StreamSpecification") or {}).get("StreamEnabled", False)
    if spec.stream_view_type and not (stream_arn and enabled):
        client.update_table(TableName=spec.name, StreamSpecification=request["StreamSpecification"])
        table = _wait_active(client, spec.name, timeout_s)
        stream_arn = table.get("LatestStreamArn")
    if spec.ttl_attribute:
        _enable_ttl(client, spec.name, spec.ttl_attribute)
    return ProvisionedTable(
        logical_id=spec.logical_id,
        name=spec.name,
        arn=str(table.get("TableArn", "")),
        stream_arn=str(stream_arn) if spec.stream_view_type and stream_arn else None,
    )


def _add_missing_indexes(
    client: Any, table: dict[str, Any], request: Mapping[str, Any], timeout_s: float
) -> dict[str, Any]:
    """Create, one at a time as DynamoDB requires, each global secondary index of ``request``
    that the existing ``table`` lacks; the table as it is then."""
    present = {str(i["IndexName"]) for i in table.get("GlobalSecondaryIndexes") or []}
    missing = [
        index
        for index in request.get("GlobalSecondaryIndexes") or []
        if index["IndexName"] not in present
    ]
    for index in missing:
        keys = {str(k["AttributeName"]) for k in index["KeySchema"]}
        client.update_table(
            TableName=table["TableName"],
            AttributeDefinitions=[
                a for a in request["AttributeDefinitions"] if a["AttributeName"] in keys
            ],
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
        log.info("table %s: index %s added", table["TableName"], index["IndexName"])
        table = _wait_active(client, str(table["TableName"]), timeout_s)
    return table


def _key_names(schema: Any) -> list[tuple[str, str]]:
    return sorted((str(k["KeyType"]), str(k["AttributeName"])) for k in schema or [])


def _wait_active(client: Any, name: str, timeout_s: float) -> dict[str, Any]:
    """The table once it and its global secondary indexes are ACTIVE (an index being built
    cannot be queried)."""
    deadline = time.monotonic() + timeout_s
    while True:
        table: dict[str, Any] = client.describe_table(TableName=name)["Table"]
        indexes = table.get("GlobalSecondaryIndexes") or []
        if table.get("TableStatus") == "ACTIVE" and all(
            i.get("IndexStatus", "ACTIVE") == "ACTIVE" for i in indexes
        ):
            return table
        if time.monotonic() > deadline:
            raise TablesUnavailable(f"table {name} did not become ACTIVE within {timeout_s} s")
        time.sleep(0.1)


def _enable_ttl(client: Any, name: str, attribute: str) -> None:
    current = client.describe_time_to_live(TableName=name).get("TimeToLiveDescription") or {}
    if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING"):
        return
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"AttributeName": attribute, "Enabled": True}
    )


# the embedded endpoint ------------------------------------------------------------------------
class EmbeddedDynamo:
    """moto's server (``motoserver.py``) in a child process, on ``host`` and a free port.

    Everything it holds is in memory: tables start empty on every ``hubbub serve``. For tables
    that outlive the server, run DynamoDB Local and pass ``--dynamodb-endpoint``.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.endpoint: str | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._log_task: asyncio.Task[None] | None = None

    @staticmethod
    def missing_packages() -> list[str]:
        """What ``pip install 'moto[server]'`` would add, if anything is missing."""
        return [p for p in ("moto", "flask", "werkzeug") if importlib.util.find_spec(p) is None]

    async def start(self, timeout_s: float = 60.0) -> str:
        missing = self.missing_packages()
        if missing:
            raise TablesUnavailable(
                f"the embedded DynamoDB needs moto's server (missing: {', '.join(missing)}):"
                " pip install 'moto[server]'"
            )
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hubbub.runtime.dynamodb.motoserver",
            self.host,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        stdout, stderr = self._proc.stdout, self._proc.stderr
        assert stdout is not None
        assert stderr is not None
        try:
            async with asyncio.timeout(timeout_s):
                line = await stdout.readline()
        except TimeoutError:
            await self.stop()
            raise TablesUnavailable(f"moto did not start within {timeout_s} s") from None
        if not line:
            error = (await stderr.read()).decode("utf-8", "replace").strip()
            await self.stop()
            raise TablesUnavailable(f"moto did not start: {error[-2000:]}")
        port = int(json.loads(line)["port"])
        self._log_task = asyncio.create_task(_forward_logs(stderr))
        self.endpoint = f"http://{_url_host(self.host)}:{port}"
        return self.endpoint

    async def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()  # the server exits when its stdin closes
        try:
            async with asyncio.timeout(5):
                await proc.wait()
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        task, self._log_task = self._log_task, None
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def shared_or_own_moto(
    shared_endpoint: str | None, what: str, unavailable: type[Exception]
) -> tuple[str, EmbeddedDynamo | None]:
    """The moto a service emulates its resources in: the runtime's shared one when there is one
    (one process, one start-up), else one of the service's own, which it must stop. A moto that
    can't start is ``unavailable`` naming ``what`` needed it."""
    if shared_endpoint is not None:
        return shared_endpoint, None
    embedded = EmbeddedDynamo("127.0.0.1")
    try:
        return await embedded.start(), embedded
    except TablesUnavailable as exc:
        raise unavailable(f"{what}: {exc}") from exc


async def _forward_logs(stderr: asyncio.StreamReader) -> None:
    moto_log = logging.getLogger("hubbub.tables.moto")
    while line := await stderr.readline():
        moto_log.warning("%s", line.decode("utf-8", "replace").rstrip())


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host
