"""DynamoDB's Time to Live where the endpoint has none (``dynamodb.ttl``), against moto: the
sweep deletes what has expired and nothing else, and the stream's ``REMOVE`` of an expiry
carries DynamoDB's service identity (*Using DynamoDB Streams and Time to Live*)."""

from __future__ import annotations

import time
from typing import Any, cast

import pytest
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel

from hubbub.runtime.cloudformation import StreamMappingSpec, TableSpec
from hubbub.runtime.dynamodb.checkpoints import RuntimeState
from hubbub.runtime.dynamodb.poller import StreamPoller
from hubbub.runtime.dynamodb.sources import DynamoStreamSource
from hubbub.runtime.dynamodb.ttl import SERVICE_IDENTITY, TtlSweeper, TtlTable
from hubbub.runtime.lambda_.pool import FunctionPool
from tests.unit.runtime.dynamodb.moto_tables import Table, client
from tests.unit.runtime.dynamodb.test_poller import FakePool, ok

NOW_S = 1_800_000_000


@pytest.fixture
def expiring(table: Table) -> tuple[Any, str, str]:
    """The package's moto table, with TTL on ``expires``: (client, name, stream ARN)."""
    table.dynamodb.update_time_to_live(
        TableName=table.name,
        TimeToLiveSpecification={"AttributeName": "expires", "Enabled": True},
    )
    return table.dynamodb, table.name, table.stream_arn


def put(dynamodb: Any, name: str, pk: str, expires: dict[str, str] | None) -> None:
    item: dict[str, Any] = {"pk": {"S": pk}}
    if expires is not None:
        item["expires"] = expires
    dynamodb.put_item(TableName=name, Item=item)


def keys_left(dynamodb: Any, name: str) -> set[str]:
    return {i["pk"]["S"] for i in dynamodb.scan(TableName=name)["Items"]}


def test_the_sweep_deletes_what_has_expired_and_nothing_else(
    expiring: tuple[Any, str, str],
) -> None:
    """Expired at or before now: deleted. In the future, without the attribute, or with one
    that is not a Number: kept, as DynamoDB keeps them."""
    dynamodb, name, _ = expiring
    put(dynamodb, name, "past", {"N": str(NOW_S - 60)})
    put(dynamodb, name, "now", {"N": str(NOW_S)})
    put(dynamodb, name, "future", {"N": str(NOW_S + 60)})
    put(dynamodb, name, "none", None)
    put(dynamodb, name, "text", {"S": str(NOW_S - 60)})
    sweeper = TtlSweeper(dynamodb, [TtlTable(name, "expires", ("pk",))])
    assert sweeper.sweep(NOW_S) == 2
    assert keys_left(dynamodb, name) == {"future", "none", "text"}
    assert sweeper.sweep(NOW_S) == 0


def test_an_item_whose_ttl_moved_meanwhile_is_kept(expiring: tuple[Any, str, str]) -> None:
    """The delete is conditional on the item still being expired: one refreshed between the
    scan and the delete stays, and its key is not taken for an expiry."""
    dynamodb, name, _ = expiring
    put(dynamodb, name, "refreshed", {"N": str(NOW_S + 3600)})

    class StaleScan:
        """The real client, but its scan found the item before it was refreshed."""

        exceptions = dynamodb.exceptions

        def scan(self, **_: Any) -> dict[str, Any]:
            return {"Items": [{"pk": {"S": "refreshed"}}]}

        def delete_item(self, **kwargs: Any) -> Any:
            return dynamodb.delete_item(**kwargs)

    sweeper = TtlSweeper(StaleScan(), [TtlTable(name, "expires", ("pk",))])
    identity_of = sweeper.reader(name)
    assert sweeper.sweep(NOW_S) == 0
    assert keys_left(dynamodb, name) == {"refreshed"}
    assert identity_of({"pk": {"S": "refreshed"}}) is None


async def test_an_expiry_reaches_the_function_as_dynamodbs_remove(
    expiring: tuple[Any, str, str], state: RuntimeState
) -> None:
    """The stream's REMOVE of a swept item carries ``userIdentity`` (DynamoDB as a Service);
    a delete by a user carries none. Both validate as Powertools' stream event."""
    dynamodb, name, stream_arn = expiring
    put(dynamodb, name, "expired", {"N": str(NOW_S - 1)})
    put(dynamodb, name, "deleted", {"N": str(NOW_S + 3600)})
    sweeper = TtlSweeper(dynamodb, [TtlTable(name, "expires", ("pk",))])
    streams = client(cast(str, dynamodb.meta.endpoint_url), "dynamodbstreams")
    source = DynamoStreamSource(streams, stream_arn, expired_by=sweeper.reader(name))
    other = DynamoStreamSource(streams, stream_arn, expired_by=sweeper.reader(name))
    assert sweeper.sweep(NOW_S) == 1
    dynamodb.delete_item(TableName=name, Key={"pk": {"S": "deleted"}})
    other.pull()
    (other_remove,) = [e for e in other.read_after(0, 10) if e.event_name == "REMOVE"][:1]
    assert other_remove.user_identity == SERVICE_IDENTITY, "every mapping's reader is told"
    source.pull()
    pool = FakePool(lambda seqs: ok())
    poller = StreamPoller(
        StreamMappingSpec(name="M", function="Fan", table="T", starting_position="TRIM_HORIZON"),
        TableSpec("T", name, "NEW_AND_OLD_IMAGES", "expires"),
        stream_arn,
        source,
        cast(FunctionPool, pool),
        state,
        region="us-east-1",
        now_ms=lambda: int(time.time() * 1000),
    )
    poller.start()
    await poller.stop()  # stepped by hand below
    assert await poller._step() is True
    (event,) = pool.events
    DynamoDBStreamModel.model_validate(event)
    removes = {
        r["dynamodb"]["Keys"]["pk"]["S"]: r.get("userIdentity")
        for r in event["Records"]
        if r["eventName"] == "REMOVE"
    }
    assert removes == {"expired": dict(SERVICE_IDENTITY), "deleted": None}
    inserts = [r for r in event["Records"] if r["eventName"] == "INSERT"]
    assert all("userIdentity" not in r for r in inserts)
