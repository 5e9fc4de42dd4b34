"""The template's tables for apps that use boto3 directly (``runtime.dynamodb.tables`` and
``runtime.dynamodb.backing``): the CreateTable requests CloudFormation would make, creating them
in a DynamoDB endpoint (moto, in server mode), the embedded endpoint's refusal without moto, and
how ``hubbub serve`` picks the backing. Also where the code of ``AWS::Lambda::Function`` and of
inline functions is found, which the examples rely on."""

from __future__ import annotations

import importlib.util
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from hubbub.runtime.cloudformation import AppSpec, TableSpec, TemplateError, load_app
from hubbub.runtime.dynamodb.backing import Backing, choose_store
from hubbub.runtime.dynamodb.sources import DynamoStreamSource
from hubbub.runtime.dynamodb.tables import (
    EmbeddedDynamo,
    TablesUnavailable,
    create_table_request,
    provision,
)
from tests.unit.runtime.cloudformation.builders import fn, stream_event

KEYS = [
    {"AttributeName": "pk", "KeyType": "HASH"},
    {"AttributeName": "sk", "KeyType": "RANGE"},
]
ATTRIBUTES = [{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "g", "l")]


def write(tmp_path: Path, resources: dict[str, Any], **top: Any) -> Path:
    (tmp_path / "code").mkdir(exist_ok=True)
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump({"Resources": resources, **top}))
    return path


def table_resource(**props: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {"KeySchema": KEYS, "AttributeDefinitions": ATTRIBUTES, **props},
    }


# -- requests -----------------------------------------------------------------------------------


def test_a_table_becomes_the_create_table_request_cloudformation_makes(tmp_path: Path) -> None:
    """Keys, indexes, billing and the stream come over; PITR, SSE, tags and the like do not."""
    path = write(
        tmp_path,
        {
            "Orders": table_resource(
                TableName="orders",
                ProvisionedThroughput={"ReadCapacityUnits": "7", "WriteCapacityUnits": 3},
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": "byG",
                        "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]},
                        "ContributorInsightsSpecification": {"Enabled": True},
                    }
                ],
                LocalSecondaryIndexes=[
                    {
                        "IndexName": "byL",
                        "KeySchema": [
                            {"AttributeName": "pk", "KeyType": "HASH"},
                            {"AttributeName": "l", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    }
                ],
                StreamSpecification={"StreamViewType": "NEW_AND_OLD_IMAGES"},
                TimeToLiveSpecification={"AttributeName": "ttl", "Enabled": True},
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
                SSESpecification={"SSEEnabled": True},
                Tags=[{"Key": "team", "Value": "a"}],
            )
        },
    )
    spec = load_app(path).tables["Orders"]
    assert (spec.name, spec.ttl_attribute, spec.stream_view_type) == (
        "orders",
        "ttl",
        "NEW_AND_OLD_IMAGES",
    )
    throughput = {"ReadCapacityUnits": 7, "WriteCapacityUnits": 3}
    assert create_table_request(spec) == {
        "TableName": "orders",
        "KeySchema": KEYS,
        "AttributeDefinitions": ATTRIBUTES,
        "BillingMode": "PROVISIONED",
        "ProvisionedThroughput": throughput,
        "GlobalSecondaryIndexes": [
            {
                "IndexName": "byG",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]},
                "ProvisionedThroughput": throughput,
            }
        ],
        "LocalSecondaryIndexes": [
            {
                "IndexName": "byL",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "l", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    }


def test_on_demand_tables_carry_no_throughput(tmp_path: Path) -> None:
    spec = load_app(write(tmp_path, {"T": table_resource(BillingMode="PAY_PER_REQUEST")})).tables[
        "T"
    ]
    request = create_table_request(spec)
    assert request["BillingMode"] == "PAY_PER_REQUEST"
    assert "ProvisionedThroughput" not in request
    assert "StreamSpecification" not in request
    assert request["TableName"] == "local-T", "the name !Ref resolves to"


def test_a_simple_table_has_an_id_string_key_unless_it_says_otherwise(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "Plain": {"Type": "AWS::Serverless::SimpleTable"},
            "Keyed": {
                "Type": "AWS::Serverless::SimpleTable",
                "Properties": {
                    "TableName": "counters",
                    "PrimaryKey": {"Name": "n", "Type": "Number"},
                    "ProvisionedThroughput": {"ReadCapacityUnits": 2, "WriteCapacityUnits": 2},
                },
            },
        },
    )
    app = load_app(path)
    assert create_table_request(app.tables["Plain"]) == {
        "TableName": "local-Plain",
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    keyed = create_table_request(app.tables["Keyed"])
    assert keyed["AttributeDefinitions"] == [{"AttributeName": "n", "AttributeType": "N"}]
    assert keyed["ProvisionedThroughput"] == {"ReadCapacityUnits": 2, "WriteCapacityUnits": 2}


def test_a_table_without_keys_cannot_be_created() -> None:
    with pytest.raises(TablesUnavailable, match="KeySchema"):
        create_table_request(TableSpec("T", "t", None, None))


# -- provisioning against a DynamoDB endpoint ---------------------------------------------------


@pytest.fixture(scope="module")
def client(endpoint: str) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="AKIALOCALTEST",
        aws_secret_access_key="x",
    )


def spec_named(**props: Any) -> TableSpec:
    name = f"t{uuid.uuid4().hex[:12]}"
    stream = (props.get("StreamSpecification") or {}).get("StreamViewType")
    ttl = (props.get("TimeToLiveSpecification") or {}).get("AttributeName")
    full = {"KeySchema": KEYS, "AttributeDefinitions": ATTRIBUTES[:2], **props}
    return TableSpec(name, name, stream, ttl, properties=full)


def test_a_table_is_created_with_its_stream_and_ttl(client: Any) -> None:
    spec = spec_named(
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamViewType": "NEW_IMAGE"},
        TimeToLiveSpecification={"AttributeName": "expiresAt", "Enabled": True},
    )
    made = provision(client, spec)
    assert made.name == spec.name
    assert made.arn.endswith(f":table/{spec.name}")
    assert made.stream_arn is not None and made.stream_arn.startswith(made.arn + "/stream/")
    ttl = client.describe_time_to_live(TableName=spec.name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiresAt")


def test_an_existing_table_is_used_as_it_is(client: Any) -> None:
    spec = spec_named(
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamViewType": "NEW_IMAGE"},
        TimeToLiveSpecification={"AttributeName": "expiresAt", "Enabled": True},
    )
    first = provision(client, spec)
    client.put_item(TableName=spec.name, Item={"pk": {"S": "kept"}, "sk": {"S": "1"}})
    again = provision(client, spec)
    assert again == first
    assert client.scan(TableName=spec.name)["Count"] == 1


def test_an_existing_table_without_a_stream_gets_one(client: Any) -> None:
    bare = spec_named(BillingMode="PAY_PER_REQUEST")
    provision(client, bare)
    streamed = TableSpec(
        bare.logical_id,
        bare.name,
        "KEYS_ONLY",
        None,
        properties={**bare.properties, "StreamSpecification": {"StreamViewType": "KEYS_ONLY"}},
    )
    assert provision(client, streamed).stream_arn is not None


def test_an_existing_table_gets_the_indexes_the_template_added(client: Any) -> None:
    """As a stack update adds a global secondary index in place (and DynamoDB backfills it
    from the items that carry its key), so does the runtime to a table it finds: the items
    stored before are in the new index."""
    bare = spec_named(BillingMode="PAY_PER_REQUEST")
    provision(client, bare)
    client.put_item(
        TableName=bare.name, Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "user": {"S": "ann"}}
    )
    index = {
        "IndexName": "byUser",
        "KeySchema": [
            {"AttributeName": "user", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    indexed = TableSpec(
        bare.logical_id,
        bare.name,
        None,
        None,
        properties={
            **bare.properties,
            "AttributeDefinitions": [
                *ATTRIBUTES[:2],
                {"AttributeName": "user", "AttributeType": "S"},
            ],
            "GlobalSecondaryIndexes": [index],
        },
    )
    provision(client, indexed)
    found = client.query(
        TableName=bare.name,
        IndexName="byUser",
        KeyConditionExpression="#u = :u",
        ExpressionAttributeNames={"#u": "user"},
        ExpressionAttributeValues={":u": {"S": "ann"}},
    )
    assert [item["pk"]["S"] for item in found["Items"]] == ["a"]
    assert provision(client, indexed).name == bare.name  # nothing left to add: used as it is


def test_an_existing_table_with_other_keys_is_an_error(client: Any) -> None:
    spec = spec_named(BillingMode="PAY_PER_REQUEST")
    client.create_table(
        TableName=spec.name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(TablesUnavailable, match="another key schema"):
        provision(client, spec)


async def test_the_backing_creates_every_table_and_names_the_endpoint(
    tmp_path: Path, endpoint: str
) -> None:
    path = write(
        tmp_path,
        {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Handler": "app.handler", "CodeUri": "code"},
            },
            "Sessions": {"Type": "AWS::Serverless::SimpleTable"},
        },
    )
    app = load_app(path, stack_name=f"s{uuid.uuid4().hex[:12]}")
    backing = Backing(
        app,
        "dynamodb",
        data_dir=tmp_path,
        region="us-east-1",
        credentials={"aws_access_key_id": "AKIALOCALTEST", "aws_secret_access_key": "x"},
        endpoint=endpoint,
    )
    await backing.start()
    try:
        assert backing.embedded is None
        assert backing.tables["Sessions"].stream_arn is None
        assert backing.function_env() == {
            "HUBBUB_STORE": "dynamodb",
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB_STREAMS": endpoint,
        }
    finally:
        await backing.stop()


# -- the embedded endpoint ----------------------------------------------------------------------


async def test_without_moto_the_embedded_dynamodb_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "moto" else real(name, *args),
    )
    assert EmbeddedDynamo.missing_packages() == ["moto"]
    with pytest.raises(TablesUnavailable, match=r"pip install 'moto\[server\]'"):
        await EmbeddedDynamo().start()


async def test_the_embedded_dynamodb_serves_until_stopped() -> None:
    embedded = EmbeddedDynamo()
    endpoint = await embedded.start()
    try:
        assert endpoint.startswith("http://127.0.0.1:")
        local = boto3.client(
            "dynamodb",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="AKIALOCALTEST",
            aws_secret_access_key="x",
        )
        assert local.list_tables()["TableNames"] == []
    finally:
        await embedded.stop()
    await embedded.stop()  # stopping twice is harmless


# -- which backing ------------------------------------------------------------------------------


def app_with(tmp_path: Path, *handlers: str) -> AppSpec:
    resources = {
        f"F{i}": {
            "Type": "AWS::Serverless::Function",
            "Properties": {"Handler": handler, "CodeUri": "code"},
        }
        for i, handler in enumerate(handlers)
    }
    return load_app(write(tmp_path, resources))


@pytest.mark.parametrize(
    ("handlers", "requested", "endpoint", "chosen"),
    [
        (
            ("hubbub.handlers.connect.handler", "hubbub.handlers.stream.handler"),
            "auto",
            None,
            "sqlite",
        ),
        (("hubbub.handlers.connect.handler", "app.handler"), "auto", None, "dynamodb"),
        (("app.handler",), "auto", None, "dynamodb"),
        (("hubbub.handlersx.handler",), "auto", None, "dynamodb"),
        (("hubbub.handlers.connect.handler",), "auto", "http://127.0.0.1:8001", "dynamodb"),
        (("hubbub.handlers.connect.handler",), "dynamodb", None, "dynamodb"),
        (("app.handler",), "sqlite", None, "sqlite"),
    ],
)
def test_the_store_is_sqlite_only_for_templates_made_of_its_handlers(
    tmp_path: Path,
    handlers: tuple[str, ...],
    requested: str,
    endpoint: str | None,
    chosen: str,
) -> None:
    app = app_with(tmp_path, *handlers)
    got = choose_store(app, requested, endpoint=endpoint, sqlite_packages=("hubbub.handlers",))
    assert got == chosen


def test_the_sqlite_store_and_an_endpoint_do_not_mix(tmp_path: Path) -> None:
    app = app_with(tmp_path, "app.handler")
    with pytest.raises(ValueError, match="needs the dynamodb store"):
        choose_store(app, "sqlite", endpoint="http://127.0.0.1:8001")
    with pytest.raises(ValueError, match="store must be one of"):
        choose_store(app, "postgres")


# -- where function code comes from -------------------------------------------------------------


def lambda_function(code: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {"Handler": "index.handler", "Runtime": "python3.12", "Code": code},
    }


def test_a_cloudformation_function_takes_a_local_code_path(tmp_path: Path) -> None:
    app = load_app(write(tmp_path, {"Fn": lambda_function("./code")}))
    assert app.functions["Fn"].code_dir == (tmp_path / "code").resolve()


def test_inline_code_is_written_out_as_index_py(tmp_path: Path) -> None:
    source = "def handler(event, context):\n    return 1\n"
    resources = {
        "Zip": lambda_function({"ZipFile": source}),
        "Sam": {
            "Type": "AWS::Serverless::Function",
            "Properties": {"Handler": "index.handler", "InlineCode": source},
        },
    }
    app = load_app(write(tmp_path, resources), inline_code_dir=tmp_path / "inline")
    for logical_id in ("Zip", "Sam"):
        code_dir = app.functions[logical_id].code_dir
        assert code_dir == (tmp_path / "inline" / logical_id).resolve()
        assert (code_dir / "index.py").read_text() == source
    with pytest.raises(TemplateError, match="inline code needs a directory"):
        load_app(write(tmp_path, resources))


def test_code_in_s3_cannot_run_locally(tmp_path: Path) -> None:
    resources = {"Fn": lambda_function({"S3Bucket": "b", "S3Key": "k.zip"})}
    with pytest.raises(TemplateError, match="local path"):
        load_app(write(tmp_path, resources))


def test_routes_whose_condition_is_false_are_not_served(tmp_path: Path) -> None:
    uri = {
        "Fn::Sub": "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
        "${Fn.Arn}/invocations"
    }
    resources = {
        "Fn": lambda_function("./code"),
        "Api": {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {"ProtocolType": "WEBSOCKET"},
        },
        "Integration": {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {"ApiId": {"Ref": "Api"}, "IntegrationUri": uri},
        },
        "Kept": {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "RouteKey": "kept",
                "Target": {"Fn::Sub": "integrations/${Integration}"},
            },
        },
        "Dropped": {
            "Type": "AWS::ApiGatewayV2::Route",
            "Condition": "Never",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "RouteKey": "dropped",
                "Target": {"Fn::Sub": "integrations/${Integration}"},
            },
        },
    }
    path = write(tmp_path, resources, Conditions={"Never": {"Fn::Equals": ["a", "b"]}})
    assert list(load_app(path).websocket_apis["Api"].routes) == ["kept"]


async def test_the_streams_retention_is_judged_on_the_runtimes_clock(
    tmp_path: Path, endpoint: str
) -> None:
    """A stream keeps records 24 hours (*DynamoDB Streams*); the runtime's clock is the one
    tests move (``/_runtime/clock``), so a record is gone once that clock is a day past it,
    whatever the wall clock says."""
    wall_ms = int(time.time() * 1000)
    offset_ms = [0]
    resources = {
        "Fn": fn(
            CodeUri="code",
            Events={"S": stream_event("Items", StartingPosition="TRIM_HORIZON")},
        ),
        "Items": {
            "Type": "AWS::DynamoDB::Table",
            "Properties": {
                "KeySchema": KEYS,
                "AttributeDefinitions": ATTRIBUTES[:2],
                "StreamSpecification": {"StreamViewType": "NEW_IMAGE"},
            },
        },
    }
    app = load_app(write(tmp_path, resources), stack_name=f"s{uuid.uuid4().hex[:12]}")
    credentials = {"aws_access_key_id": "AKIALOCALTEST", "aws_secret_access_key": "x"}
    backing = Backing(
        app,
        "dynamodb",
        data_dir=tmp_path,
        region="us-east-1",
        credentials=credentials,
        endpoint=endpoint,
        now_ms=lambda: int(time.time() * 1000) + offset_ms[0],
    )
    await backing.start()
    try:
        dynamodb = boto3.client(
            "dynamodb", endpoint_url=endpoint, region_name="us-east-1", **credentials
        )
        item = {k: {"S": "1"} for k in ("pk", "sk")}
        dynamodb.put_item(TableName=backing.tables["Items"].name, Item=item)
        (mapping,) = app.mappings
        today, tomorrow = backing.feed(mapping).source, backing.feed(mapping).source
        assert isinstance(today, DynamoStreamSource) and isinstance(tomorrow, DynamoStreamSource)
        today.pull()
        assert len(today.read_after(0, 10)) == 1
        offset_ms[0] = 24 * 3600 * 1000 + (int(time.time() * 1000) - wall_ms) + 60_000
        tomorrow.pull()
        assert tomorrow.read_after(0, 10) == []
    finally:
        await backing.stop()
