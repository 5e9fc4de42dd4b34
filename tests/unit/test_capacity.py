"""The capacity accounting (``tools/capacity``): DynamoDB's billing rules, the meter that applies
them to real requests (against moto on 127.0.0.1), the pricing arithmetic, and the IAM check that
keeps template.yaml's grants equal to what each function's paths use."""

from __future__ import annotations

import math
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools.capacity.backend import client, moto_server
from tools.capacity.billing import (
    IndexSpec,
    batch_get_units,
    get_units,
    index_write_units,
    item_size,
    query_units,
    write_units,
)
from tools.capacity.connections import CountingConnections
from tools.capacity.meter import CapacityMeter
from tools.capacity.permissions import compare, granted_by_template, used_by_paths
from tools.capacity.pricing import PRICES, Workload, hubbub_message, sample_message
from tools.capacity.scenarios import (
    Measured,
    PathCost,
    RoomCosts,
    measure_hubbub_room,
    measure_sample_room,
)

REPO = Path(__file__).resolve().parents[2]
KB = 1024


def s(text: str) -> dict[str, str]:
    return {"S": text}


def sized(name: str, total: int) -> dict[str, Any]:
    """An item ``{"pk": name, "pad": "x" * n}`` of exactly ``total`` bytes."""
    overhead = len("pk") + len(name) + len("pad")
    return {"pk": s(name), "pad": s("x" * (total - overhead))}


# -- item sizes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("item", "size"),
    [
        pytest.param({"pk": s("abc")}, 5, id="string: name + UTF-8 bytes"),
        pytest.param({"pk": s("é")}, 4, id="string: multi-byte UTF-8"),
        pytest.param({"n": {"N": "123.45"}}, 1 + 4, id="number: 5 digits -> 3 bytes + 1"),
        pytest.param({"n": {"N": "1000"}}, 1 + 2, id="number: trailing zeroes trimmed"),
        pytest.param({"n": {"N": "0.001"}}, 1 + 2, id="number: leading zeroes trimmed"),
        pytest.param({"b": {"B": b"\x00\x01\x02"}}, 1 + 3, id="binary: raw bytes"),
        pytest.param({"t": {"BOOL": True}, "z": {"NULL": True}}, 4, id="boolean and null: 1 byte"),
        pytest.param({"l": {"L": []}}, 1 + 3, id="empty list: 3 bytes"),
        pytest.param(
            {"l": {"L": [s("a"), {"N": "1"}]}}, 1 + 3 + (1 + 1) + (2 + 1), id="list: +1 per element"
        ),
        pytest.param(
            {"m": {"M": {"k": s("v")}}}, 1 + 3 + (1 + 1 + 1), id="map: names count, +1 per element"
        ),
        pytest.param({"ss": {"SS": ["ab", "c"]}}, 2 + 3, id="string set: its strings"),
    ],
)
def test_item_size_follows_dynamodbs_rules(item: dict[str, Any], size: int) -> None:
    """Attribute names count; values are sized as DynamoDB's developer guide says."""
    assert item_size(item) == size


def test_no_item_has_no_size() -> None:
    assert item_size(None) == 0


# -- read and write units -----------------------------------------------------------------------


def test_a_read_is_rounded_up_to_4_kb_and_eventual_consistency_halves_it() -> None:
    """1 unit up to 4 KB, 2 just past it; an eventually consistent read costs half."""
    assert get_units(sized("a", 4 * KB), consistent=True) == 1
    assert get_units(sized("a", 4 * KB + 1), consistent=True) == 2
    assert get_units(sized("a", 4 * KB + 1), consistent=False) == 1


def test_reading_a_missing_item_still_costs_the_minimum() -> None:
    assert get_units(None, consistent=True) == 1
    assert get_units(None, consistent=False) == 0.5


def test_batch_get_rounds_each_item_while_query_rounds_the_total() -> None:
    """The developer guide's example: 1.5 KB + 6.5 KB is 4 KB + 8 KB in a BatchGetItem (3 units)
    but 8 KB in a Query (2 units). Keys not found cost the minimum each."""
    items = [sized("a", 1536), sized("b", 6656)]
    assert batch_get_units(items, 0, consistent=True) == 3
    assert batch_get_units(items, 2, consistent=False) == 1.5 + 1
    assert query_units(items, consistent=True) == 2
    assert query_units([], consistent=False) == 0.5


def test_a_write_bills_the_larger_image_in_1_kb_units() -> None:
    """PutItem/UpdateItem bill max(before, after); a delete the deleted item; at least 1."""
    assert write_units(None, sized("a", KB)) == 1
    assert write_units(None, sized("a", KB + 1)) == 2
    assert write_units(sized("a", 3 * KB), sized("a", 10)) == 3
    assert write_units(sized("a", 10), None) == 1
    assert write_units(None, None) == 1


def test_a_transactional_write_costs_double() -> None:
    assert write_units(None, sized("a", KB + 1), transactional=True) == 4


GSI = IndexSpec("gsi1", ("gsi1pk", "gsi1sk"))


def indexed(sk: str, pad: int = 10) -> dict[str, Any]:
    return {"pk": s("a"), "gsi1pk": s("RECENT"), "gsi1sk": s(sk), "pad": s("x" * pad)}


@pytest.mark.parametrize(
    ("before", "after", "units"),
    [
        pytest.param(None, {"pk": s("a")}, 0, id="never in the index: nothing"),
        pytest.param(None, indexed("1"), 1, id="enters the index: a put"),
        pytest.param(indexed("1"), {"pk": s("a")}, 1, id="leaves the index: a delete"),
        pytest.param(indexed("1"), indexed("2"), 2, id="its index key changes: delete + put"),
        pytest.param(indexed("1"), indexed("1", pad=20), 1, id="changes inside: an update"),
        pytest.param(indexed("1"), indexed("1"), 0, id="unchanged: nothing"),
        pytest.param(indexed("1", pad=2000), indexed("2"), 3, id="rounded per index write"),
    ],
)
def test_index_upkeep(before: Any, after: Any, units: float) -> None:
    """What a write costs in a global secondary index depends on both images."""
    assert index_write_units(before, after, GSI) == units


# -- the meter, on real requests ----------------------------------------------------------------


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_server() as url:
        yield url


@pytest.fixture
def table(endpoint: str) -> Iterator[tuple[CapacityMeter, Any, str]]:
    """A table with a GSI, a metered client on it and a plain one."""
    probe, metered = client(endpoint), client(endpoint)
    name = f"meter-{secrets.token_hex(3)}"
    probe.create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": "S"} for n in ("pk", "gsi1pk", "gsi1sk")
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "gsi1",
                "KeySchema": [
                    {"AttributeName": "gsi1pk", "KeyType": "HASH"},
                    {"AttributeName": "gsi1sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    yield CapacityMeter(metered, probe), metered, name
    probe.delete_table(TableName=name)
    probe.close()
    metered.close()


def test_the_meter_bills_writes_by_their_images(table: tuple[CapacityMeter, Any, str]) -> None:
    """A put of 1.5 KB is 2 units; rewriting it smaller still bills the larger image; a refused
    condition bills the item it found; a delete bills the item deleted."""
    meter, db, name = table
    with meter.measure() as put:
        db.put_item(TableName=name, Item=sized("a", 1536))
    assert (put.write_units, put.index_write_units) == (2, 0)
    with meter.measure() as shrink:
        db.put_item(TableName=name, Item=sized("a", 100))
    assert shrink.write_units == 2
    refusal = pytest.raises(db.exceptions.ConditionalCheckFailedException)
    with meter.measure() as refused, refusal:
        db.put_item(
            TableName=name, Item=sized("a", 100), ConditionExpression="attribute_not_exists(pk)"
        )
    assert refused.write_units == 1
    with meter.measure() as delete:
        db.delete_item(TableName=name, Key={"pk": s("a")})
    assert delete.write_units == 1
    assert delete.iam == {("dynamodb:DeleteItem", "table")}


def test_the_meter_counts_index_upkeep_and_transactions(
    table: tuple[CapacityMeter, Any, str],
) -> None:
    """An update that moves an item's index key costs 2 index writes; a transaction of two
    items costs double for each, and is authorised item by item."""
    meter, db, name = table
    db.put_item(TableName=name, Item={**indexed("1"), "pk": s("h")})
    with meter.measure() as update:
        db.update_item(
            TableName=name,
            Key={"pk": s("h")},
            UpdateExpression="SET gsi1sk = :v",
            ExpressionAttributeValues={":v": s("2")},
        )
    assert (update.write_units, update.index_write_units) == (1, 2)
    with meter.measure() as transaction:
        db.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": name, "Item": sized("t1", 1500)}},
                {"Delete": {"TableName": name, "Key": {"pk": s("h")}}},
            ]
        )
    assert transaction.write_units == 2 * 2 + 2 * 1
    assert transaction.index_write_units == 1  # h left the index
    assert transaction.iam == {("dynamodb:PutItem", "table"), ("dynamodb:DeleteItem", "table")}


def test_the_meter_bills_what_a_query_read_not_what_it_returned(
    table: tuple[CapacityMeter, Any, str],
) -> None:
    """A filter that drops every item, or a projection of one attribute, bills the whole items
    read; an index query is eventually consistent; a missing GetItem costs the minimum."""
    meter, db, name = table
    items = [{**indexed(str(n), pad=3000), "pk": s(f"q{n}")} for n in range(3)]
    for item in items:
        db.put_item(TableName=name, Item=item)
    read = sum(item_size(item) for item in items)  # 3 x ~3 KB
    with meter.measure() as filtered:
        page = db.query(
            TableName=name,
            IndexName="gsi1",
            KeyConditionExpression="gsi1pk = :p",
            FilterExpression="#pad = :nothing",
            ExpressionAttributeNames={"#pad": "pad"},
            ExpressionAttributeValues={":p": s("RECENT"), ":nothing": s("")},
        )
    assert page["Items"] == []
    assert filtered.read_units == math.ceil(read / 4096) / 2  # eventually consistent
    assert filtered.iam == {("dynamodb:Query", "index/gsi1")}
    with meter.measure() as projected:
        db.scan(TableName=name, ProjectionExpression="pk", ConsistentRead=True)
    assert projected.read_units == math.ceil(read / 4096)
    with meter.measure() as missing:
        db.get_item(TableName=name, Key={"pk": s("nobody")}, ConsistentRead=True)
        db.batch_get_item(RequestItems={name: {"Keys": [{"pk": s("q0")}, {"pk": s("nobody")}]}})
    assert missing.read_units == 1 + (0.5 + 0.5)
    assert missing.calls == {"GetItem": 1, "BatchGetItem": 1}


def test_the_counting_connections_bill_per_32_kb_and_not_the_gone() -> None:
    api = CountingConnections(gone={"gone"})
    api.post_to_connection(ConnectionId="a", Data=b"x" * (32 * KB + 1))
    with pytest.raises(api.exceptions.GoneException):
        api.post_to_connection(ConnectionId="gone", Data=b"x")
    assert api.snapshot() == (2, 2, 32 * KB + 1)


# -- hubbub's paths and the samples', measured -------------------------------------------------


def test_hubbubs_paths_in_a_small_room(endpoint: str) -> None:
    """A send is one conditional transaction and needs no Scan; the fan-out is three Queries
    (the wildcard registry's partitions of the topic's two prefixes, then the topic's
    subscribers) and one post per subscriber, whatever the size of the room."""
    room = measure_hubbub_room(endpoint, 4, sends=2)
    for name, path in room.paths.items():
        assert all("Scan" not in run.tally.calls for run in path.runs), name
    send, fanout = room.paths["send"], room.paths["fanout"]
    assert send.calls["TransactWriteItems"] == 1
    assert send.posts == 0
    assert fanout.calls == {"Query": 3}
    assert fanout.posts == fanout.billed_messages == 4
    assert room.paths["join"].posts == room.paths["leave"].posts == 3  # joined / left


def test_the_samples_design_scans_the_whole_table(endpoint: str) -> None:
    """With other rooms' connections in the table, the Scan reads all of them."""
    alone = measure_sample_room(endpoint, 5, sends=1)
    crowded = measure_sample_room(endpoint, 5, sends=1, other_connections=400)
    assert alone.paths["send"].calls == {"Scan": 1}
    assert alone.paths["send"].posts == crowded.paths["send"].posts == 5
    assert crowded.paths["send"].read_units > alone.paths["send"].read_units


# -- pricing ------------------------------------------------------------------------------------


def path(function: str, rru: float = 0, wru: float = 0, requests: int = 0, posts: int = 0) -> Any:
    run = Measured(posts=posts, billed_messages=posts)
    run.tally.read_units, run.tally.write_units = rru, wru
    if requests:
        run.tally.calls["Query"] = requests
    return PathCost(function, [run])


def test_hubbub_message_pricing() -> None:
    """Units, invocations, messages in and out, keepalive and connection minutes add up."""
    room = RoomCosts(
        "hubbub",
        100,
        {
            "send": path("MessageFunction", rru=3, wru=9, requests=4),
            "fanout": path("FanOutFunction", rru=5, requests=2, posts=100),
            "ping": path("MessageFunction", rru=1, requests=1),
        },
    )
    workload = Workload(memory_mb=1024, invocation_ms=0, dynamodb_request_ms=10, post_ms=100)
    cost = hubbub_message(room, workload)
    assert cost.dynamodb == pytest.approx(8 * PRICES.read_request_unit + 9 * 0.625e-6)
    # send: 40 ms; fan-out: 20 ms + ceil(100 / 16) = 7 waves of 100 ms; at 1 GB
    gb_seconds = 0.040 + 0.720
    assert cost.lambda_ == pytest.approx(2 * 0.2e-6 + gb_seconds * PRICES.lambda_gb_second)
    assert cost.api_messages == pytest.approx((2 + 100) * 1e-6)
    assert cost.connection_minutes == pytest.approx(10 * 0.25e-6)
    pings = 10 * 60 / 300  # a ping every 5 minutes, as hello.limits asks on AWS
    per_ping = 2e-6 + 0.2e-6 + 0.010 * PRICES.lambda_gb_second + 1 * 0.125e-6
    assert cost.keepalive == pytest.approx(pings * per_ping)
    assert cost.total == pytest.approx(
        cost.dynamodb + cost.lambda_ + cost.api_messages + cost.connection_minutes + cost.keepalive
    )


def test_sample_message_pricing() -> None:
    room = RoomCosts(
        "sample", 10, {"send": path("SendMessageFunction", rru=0.5, requests=1, posts=10)}
    )
    cost = sample_message(room, Workload(memory_mb=256))
    assert cost.api_messages == pytest.approx(11e-6)  # the frame in and ten posts; no reply
    assert cost.keepalive == 0
    assert cost.dynamodb == pytest.approx(0.5 * 0.125e-6)


# -- least privilege ----------------------------------------------------------------------------


def test_the_template_grants_each_function_exactly_what_its_paths_use(endpoint: str) -> None:
    """Nothing a path needs is missing from template.yaml, and nothing granted goes unused."""
    reports = compare(used_by_paths(endpoint), granted_by_template(REPO / "template.yaml"))
    for report in reports:
        assert not report.missing, (report.function, sorted(report.missing))
        assert not report.unused, (report.function, sorted(report.unused))
    granted = {report.function: report.granted for report in reports}
    assert all(not action.endswith(":Scan") for grants in granted.values() for action, _ in grants)
    pushers = {
        f for f, g in granted.items() if ("execute-api:ManageConnections", "connections") in g
    }
    # $connect announces an operator's arrival to the followers of $sys/operators; a ban or
    # kick over REST tells the ejected connections and the room; an MQTT client's presence and
    # typing reach the room's WebSocket members; the push function delivers a large topic's
    # chunks
    assert pushers == {
        "ConnectFunction",
        "DisconnectFunction",
        "MessageFunction",
        "FanOutFunction",
        "HttpFunction",
        "PushFunction",
        "MqttIngestFunction",
        "MqttPresenceFunction",
    }
    senders = {f for f, g in granted.items() if any(a.startswith("ses:") for a, _ in g)}
    assert senders == {"MailSendFunction"}  # only the scheduled sender may email anyone
    # only the functions that moderate (WebSocket and REST) close MQTT clients, any client id
    hangers = {f for f, g in granted.items() if any(a == "iot:DeleteConnection" for a, _ in g)}
    assert hangers == {"MessageFunction", "HttpFunction"}
    assert all(
        r == "client/*" for g in granted.values() for a, r in g if a == "iot:DeleteConnection"
    )


def test_wildcard_grants_cover_and_surplus_is_reported() -> None:
    """``index/*`` covers a query of ``index/gsi1``; a grant nobody needs is reported."""
    used = {"HttpFunction": {("dynamodb:Query", "index/gsi1")}}
    granted = {"HttpFunction": {("dynamodb:Query", "index/*"), ("dynamodb:Scan", "table")}}
    (http,) = [r for r in compare(used, granted, configured={}) if r.function == "HttpFunction"]
    assert http.missing == set()
    assert http.unused == {("dynamodb:Scan", "table")}
