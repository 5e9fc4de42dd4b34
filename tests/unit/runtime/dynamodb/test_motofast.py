"""``dynamodb.motofast``: a cancelled transaction leaves moto's table exactly as it was, cheaply.

moto runs in process here (``mock_aws``): the patch works on its backend objects, below HTTP.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

from hubbub.runtime.dynamodb.motofast import faster_moto, forget_tracked_models

TABLE = "motofast"


@pytest.fixture
def client() -> Iterator[Any]:
    with mock_aws(), faster_moto():
        ddb = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        ddb.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        )
        yield ddb


def _table() -> Any:
    return dynamodb_backends["123456789012"]["us-east-1"].tables[TABLE]


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def _everything(ddb: Any) -> list[dict[str, Any]]:
    pages = ddb.get_paginator("scan").paginate(TableName=TABLE, ConsistentRead=True)
    return sorted(
        (item for page in pages for item in page["Items"]),
        key=lambda item: (item["pk"]["S"], item["sk"]["S"]),
    )


def _seed(ddb: Any) -> None:
    ddb.put_item(TableName=TABLE, Item={**_key("a", "1"), "m": {"M": {"n": {"N": "1"}}}})
    ddb.put_item(TableName=TABLE, Item={**_key("a", "2"), "v": {"S": "kept"}})
    ddb.put_item(TableName=TABLE, Item={**_key("b", "1"), "v": {"S": "doomed"}})


def test_a_cancelled_transaction_undoes_every_kind_of_write(client: Any) -> None:
    _seed(client)
    before = _everything(client)
    stream_before = len(_table().stream_shard.items)

    with pytest.raises(ClientError) as caught:
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**_key("c", "1"), "v": {"S": "new"}}}},
                {"Put": {"TableName": TABLE, "Item": {**_key("z", "9"), "v": {"S": "new"}}}},
                {  # a nested update: moto changes the stored map in place
                    "Update": {
                        "TableName": TABLE,
                        "Key": _key("a", "1"),
                        "UpdateExpression": "SET m.n = :two, extra = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}},
                    }
                },
                {"Delete": {"TableName": TABLE, "Key": _key("b", "1")}},
                {  # the last one fails, after moto has applied the three before it
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": _key("a", "2"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    assert caught.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert _everything(client) == before
    assert len(_table().stream_shard.items) == stream_before
    assert "z" not in {str(key.value) for key in _table().items}


def test_a_committed_transaction_stays(client: Any) -> None:
    _seed(client)
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {**_key("c", "1"), "v": {"S": "new"}}}},
            {"Delete": {"TableName": TABLE, "Key": _key("b", "1")}},
        ]
    )
    keys = [(item["pk"]["S"], item["sk"]["S"]) for item in _everything(client)]
    assert keys == [("a", "1"), ("a", "2"), ("c", "1")]


def test_a_rollback_copies_the_items_named_not_the_table(client: Any) -> None:
    for n in range(300):
        client.put_item(TableName=TABLE, Item={**_key("room", f"{n:04}"), "v": {"S": "x"}})
    forget_tracked_models()

    with pytest.raises(ClientError):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**_key("room", "9999"), "v": {"S": "y"}}}},
                {
                    "ConditionCheck": {
                        "TableName": TABLE,
                        "Key": _key("room", "0000"),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
            ]
        )

    made = len(Item.instances_tracked)  # type: ignore[attr-defined]
    assert made < 20, f"{made} items were made for a 2-item transaction on a 300-item table"
    assert len(_everything(client)) == 300


def test_outside_a_transaction_a_table_copy_is_still_deep(client: Any) -> None:
    _seed(client)
    table = _table()
    clone = copy.deepcopy(table)
    assert clone is not table
    client.delete_item(TableName=TABLE, Key=_key("a", "1"))
    partition = DynamoType({"S": "a"})
    assert len(clone.items[partition]) == 2
    assert len(table.items[partition]) == 1


def _page_through(ddb: Any, **query: Any) -> list[str]:
    pages = ddb.get_paginator("query").paginate(TableName=TABLE, **query)
    return [item["sk"]["S"] for page in pages for item in page["Items"]]


def test_a_key_query_reads_its_partition_only_and_answers_as_before(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(40):
        client.put_item(TableName=TABLE, Item={**_key("p" if n % 2 else "q", f"{n:03}")})
    walked: list[int] = []
    real_all_items = Table.all_items

    def counting_all_items(self: Any) -> list[Any]:
        items = real_all_items(self)
        walked.append(len(items))
        return items

    monkeypatch.setattr(Table, "all_items", counting_all_items)
    newest_first = _page_through(
        client,
        KeyConditionExpression="pk = :p AND sk > :after",
        ExpressionAttributeValues={":p": {"S": "p"}, ":after": {"S": "010"}},
        ScanIndexForward=False,
        PaginationConfig={"PageSize": 3},
    )

    assert newest_first == [f"{n:03}" for n in range(39, 10, -2)]
    assert walked and set(walked) == {20}, f"candidates per page: {walked}, the table holds 40"


def test_nested_patches_do_not_stack(client: Any) -> None:
    """The contract suite and the capacity tool may both patch one process: still one patch."""
    for n in range(3):
        client.put_item(TableName=TABLE, Item={**_key(f"n{n}", "1")})
    patched = Table.query
    with faster_moto():
        assert Table.query is patched, "a second patch wrapped the first"
        everything = _everything(client)
        only_n1 = _page_through(
            client,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "n1"}},
        )
    assert len(everything) == 3
    assert only_n1 == ["1"]
    assert Table.query is patched
