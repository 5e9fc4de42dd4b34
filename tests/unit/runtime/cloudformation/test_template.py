"""Reading a SAM template into what the runtime runs (``cloudformation.template.load_app``).

The project's own ``template.yaml`` is the main fixture; small templates written to tmp_path cover
the error cases. Only functions, WebSocket APIs, tables and stream mappings are checked here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from hubbub.runtime.cloudformation import AppSpec, TemplateError, load_app
from hubbub.runtime.cloudformation.intrinsics import local_api_id
from hubbub.runtime.cloudformation.yamltags import load_template

REPO = Path(__file__).resolve().parents[4]
TEMPLATE = REPO / "template.yaml"
REGION, ACCOUNT = "us-east-1", "123456789012"
WS_API_ID = local_api_id("WebSocketApi")


@pytest.fixture(scope="module")
def app() -> AppSpec:
    return load_app(TEMPLATE)


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return load_template(TEMPLATE)


# -- the project's template: functions ------------------------------------------------------


@pytest.mark.parametrize(
    ("logical_id", "handler"),
    [
        ("ConnectFunction", "hubbub.handlers.connect.handler"),
        ("DisconnectFunction", "hubbub.handlers.disconnect.handler"),
        ("MessageFunction", "hubbub.handlers.message.handler"),
        ("FanOutFunction", "hubbub.handlers.stream.handler"),
    ],
)
def test_each_function_has_its_handler_code_and_arn(
    app: AppSpec, logical_id: str, handler: str
) -> None:
    """Each WebSocket and stream function is read with its handler string, code dir and ARN."""
    fn = app.functions[logical_id]
    assert fn.handler == handler
    assert fn.code_dir == REPO / "src"
    assert fn.name == f"local-{logical_id}"
    assert fn.arn == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:local-{logical_id}"


def test_globals_are_merged_into_every_function(app: AppSpec, raw: dict[str, Any]) -> None:
    """Runtime, memory, timeout and environment come from Globals unless a function overrides."""
    globals_fn = raw["Globals"]["Function"]
    for fn in app.functions.values():
        assert fn.runtime == globals_fn["Runtime"]
        assert fn.memory_mb == globals_fn["MemorySize"]
        assert set(globals_fn["Environment"]["Variables"]) <= set(fn.environment)
    assert app.functions["ConnectFunction"].timeout_s == globals_fn["Timeout"]
    assert app.functions["FanOutFunction"].timeout_s == 30


def test_environment_variables_are_resolved_to_strings(app: AppSpec) -> None:
    """Refs and Subs in the environment become the strings a Lambda would see."""
    env = app.functions["MessageFunction"].environment
    assert env["TABLE_NAME"] == "local-ChatTable"
    assert env["ROOM_RETENTION_SECONDS"] == "86400"
    assert env["DESK_RETENTION_SECONDS"] == "2592000"
    assert env["CONNECTIONS_URL"] == f"https://{WS_API_ID}.execute-api.{REGION}.amazonaws.com/ws"
    assert env["POWERTOOLS_SERVICE_NAME"] == "hubbub"
    assert all(isinstance(v, str) for v in env.values())


def test_parameter_overrides_flow_into_environment_and_stage(tmp_path: Path) -> None:
    """An overridden parameter changes what depends on it: here the stage."""
    app = load_app(TEMPLATE, parameter_overrides={"Stage": "live", "RoomRetentionSeconds": "60"})
    env = app.functions["ConnectFunction"].environment
    assert env["CONNECTIONS_URL"].endswith("/live")
    assert env["ROOM_RETENTION_SECONDS"] == "60"
    assert app.websocket_apis["WebSocketApi"].stage == "live"


def test_region_and_account_shape_the_arns() -> None:
    """The region and account given end up in every ARN."""
    app = load_app(TEMPLATE, region="eu-central-1", account_id="999988887777", stack_name="s")
    assert app.functions["ConnectFunction"].arn == (
        "arn:aws:lambda:eu-central-1:999988887777:function:s-ConnectFunction"
    )


# -- the project's template: the WebSocket API ----------------------------------------------


def _declared_routes(raw: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    """Route key -> (function logical id, has a route response), read from the raw template."""
    resources = raw["Resources"]
    with_response = {
        r["Properties"]["RouteId"]["Ref"]
        for r in resources.values()
        if r["Type"] == "AWS::ApiGatewayV2::RouteResponse"
    }
    routes: dict[str, tuple[str, bool]] = {}
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::ApiGatewayV2::Route":
            continue
        props = resource["Properties"]
        if props["ApiId"] != {"Ref": "WebSocketApi"}:
            continue
        integration = re.fullmatch(r"integrations/\$\{(\w+)\}", props["Target"]["Fn::Sub"])
        assert integration is not None
        uri = resources[integration.group(1)]["Properties"]["IntegrationUri"]["Fn::Sub"]
        function = re.search(r"\$\{(\w+)\.Arn\}", uri)
        assert function is not None
        routes[props["RouteKey"]] = (function.group(1), logical_id in with_response)
    return routes


def test_the_websocket_api_is_read_with_its_stage_and_selection_expression(app: AppSpec) -> None:
    """The API keeps its local id, stage and route selection expression."""
    api = app.websocket_apis["WebSocketApi"]
    assert api.api_id == WS_API_ID
    assert api.stage == "ws"
    assert api.selection_expression == "$request.body.action"


def test_every_declared_route_maps_to_its_function(app: AppSpec, raw: dict[str, Any]) -> None:
    """Each Route of the template reaches the function its integration names, with a route
    response exactly where the template declares one."""
    declared = _declared_routes(raw)
    routes = app.websocket_apis["WebSocketApi"].routes
    assert set(routes) == set(declared)
    for key, (function, has_response) in declared.items():
        assert routes[key].function == function, key
        assert routes[key].has_route_response is has_response, key


@pytest.mark.parametrize(
    ("key", "function", "has_response"),
    [
        ("$connect", "ConnectFunction", False),
        ("$disconnect", "DisconnectFunction", False),
        ("$default", "MessageFunction", True),
        ("send", "MessageFunction", True),
        ("subscribe", "MessageFunction", True),
        ("conversations", "MessageFunction", True),
    ],
)
def test_known_routes_are_wired_as_the_protocol_needs(
    app: AppSpec, key: str, function: str, has_response: bool
) -> None:
    """$connect/$disconnect answer without a route response; actions reply through one."""
    route = app.websocket_apis["WebSocketApi"].routes[key]
    assert route.function == function
    assert route.has_route_response is has_response
    assert route.authorizer is None


# -- the project's template: table, mapping, ignored resources ------------------------------


def test_the_table_has_its_stream_and_ttl(app: AppSpec) -> None:
    """The chat table is read with its stream view type and TTL attribute."""
    table = app.tables["ChatTable"]
    assert table.name == "local-ChatTable"
    assert table.stream_view_type == "NEW_IMAGE"
    assert table.ttl_attribute == "expiresAt"


def test_the_stream_mapping_keeps_every_retry_setting(app: AppSpec) -> None:
    """The fan-out's DynamoDB event becomes a mapping with the template's batch, bisect, retry,
    age, partial-failure and on-failure settings."""
    (mapping,) = [m for m in app.mappings if m.function == "FanOutFunction"]
    assert mapping.name == "FanOutFunction.Messages"
    assert mapping.table == "ChatTable"
    assert mapping.batch_size == 100
    assert mapping.bisect_on_error is True
    assert mapping.maximum_retry_attempts == 3
    assert mapping.maximum_record_age_s == 3600
    assert mapping.report_batch_item_failures is True
    assert mapping.starting_position == "LATEST"
    assert mapping.maximum_batching_window_s == 0
    assert mapping.enabled is True
    assert mapping.on_failure == f"arn:aws:sqs:{REGION}:{ACCOUNT}:local-FanOutDeadLetterQueue"


def test_resources_without_local_effect_are_listed_not_dropped(app: AppSpec) -> None:
    """Permissions, the secret, the queue and the API Gateway wiring are listed as ignored, and
    nothing in the project's template is unsupported."""
    ignored = dict(app.ignored)
    assert ignored["ConnectPermission"] == "AWS::Lambda::Permission"
    assert ignored["TokenSecret"] == "AWS::SecretsManager::Secret"
    assert ignored["FanOutDeadLetterQueue"] == "AWS::SQS::Queue"
    assert ignored["SendRoute"] == "AWS::ApiGatewayV2::Route"
    assert app.unsupported == []


# -- small templates ------------------------------------------------------------------------


def fn(**props: Any) -> dict[str, Any]:
    return {"Type": "AWS::Serverless::Function", "Properties": {"Handler": "app.handler", **props}}


def write(tmp_path: Path, resources: dict[str, Any], **sections: Any) -> Path:
    (tmp_path / "code").mkdir(exist_ok=True)
    template = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Transform": "AWS::Serverless-2016-10-31",
        "Globals": {"Function": {"CodeUri": "code/", "Runtime": "python3.12"}},
        **sections,
        "Resources": resources,
    }
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump(template, sort_keys=False))
    return path


def test_iam_and_alarm_resources_are_listed_as_ignored(tmp_path: Path) -> None:
    """IAM roles and policies and CloudWatch alarms have no local effect and are listed so."""
    path = write(
        tmp_path,
        {
            "Fn": fn(),
            "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
            "Policy": {"Type": "AWS::IAM::Policy", "Properties": {}},
            "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {}},
        },
    )
    app = load_app(path)
    assert ("Role", "AWS::IAM::Role") in app.ignored
    assert ("Policy", "AWS::IAM::Policy") in app.ignored
    assert ("Alarm", "AWS::CloudWatch::Alarm") in app.ignored


def test_unknown_resource_types_are_listed_as_unsupported(tmp_path: Path) -> None:
    """A resource type the runtime does not know is reported, not silently dropped."""
    app = load_app(write(tmp_path, {"Box": {"Type": "AWS::EC2::Instance", "Properties": {}}}))
    assert app.unsupported == [("Box", "AWS::EC2::Instance")]


def test_a_functions_own_environment_overrides_globals(tmp_path: Path) -> None:
    """Globals' variables are kept, and a function's own variable of the same name wins."""
    path = write(
        tmp_path,
        {"Fn": fn(Environment={"Variables": {"B": "own", "C": True, "D": 5}})},
        Globals={
            "Function": {
                "CodeUri": "code/",
                "Timeout": 7,
                "Environment": {"Variables": {"A": "global", "B": "global"}},
            }
        },
    )
    spec = load_app(path).functions["Fn"]
    assert spec.environment == {"A": "global", "B": "own", "C": "true", "D": "5"}
    assert spec.timeout_s == 7
    assert spec.runtime == "python3.12"
    assert spec.memory_mb == 128


def test_a_plain_lambda_function_takes_no_globals(tmp_path: Path) -> None:
    """Globals apply to AWS::Serverless::Function only."""
    path = write(
        tmp_path,
        {
            "Plain": {
                "Type": "AWS::Lambda::Function",
                "Properties": {
                    "Handler": "app.handler",
                    "CodeUri": "code/",
                    "Runtime": "python3.11",
                },
            }
        },
        Globals={"Function": {"Timeout": 9, "MemorySize": 512}},
    )
    spec = load_app(path).functions["Plain"]
    assert spec.timeout_s == 3
    assert spec.memory_mb == 128
    assert spec.runtime == "python3.11"


def test_a_resource_whose_condition_is_false_is_left_out(tmp_path: Path) -> None:
    """A resource with a false Condition is not part of the app."""
    path = write(
        tmp_path,
        {"On": fn(), "Off": {**fn(), "Condition": "Never"}},
        Conditions={"Never": {"Fn::Equals": ["a", "b"]}},
    )
    assert set(load_app(path).functions) == {"On"}


@pytest.mark.parametrize(
    ("resources", "message"),
    [
        pytest.param(
            {"Fn": fn(Environment={"Variables": {"T": {"Ref": "Nope"}}})},
            "Nope",
            id="a reference to an unknown resource",
        ),
        pytest.param({"Fn": fn(Runtime="nodejs20.x")}, "Python", id="a non-Python runtime"),
        pytest.param({"Fn": fn(CodeUri="missing/")}, "CodeUri", id="a missing CodeUri directory"),
        pytest.param(
            {"Fn": fn(CodeUri={"Bucket": "b", "Key": "k"})}, "CodeUri", id="an S3 CodeUri"
        ),
        pytest.param({"Fn": fn(Handler="handler")}, "Handler", id="a handler without a module"),
    ],
)
def test_templates_that_cannot_run_are_refused_with_the_reason(
    tmp_path: Path, resources: dict[str, Any], message: str
) -> None:
    """A template the runtime cannot run raises TemplateError naming what is wrong."""
    with pytest.raises(TemplateError, match=message):
        load_app(write(tmp_path, resources))


def test_a_file_without_resources_is_not_a_template(tmp_path: Path) -> None:
    """A YAML file with no Resources section is refused."""
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump({"Description": "nothing"}))
    with pytest.raises(ValueError, match="Resources"):
        load_app(path)


def _ws_api(routes: dict[str, str]) -> dict[str, Any]:
    """An API with one integration per function named in ``routes`` (key -> function)."""
    resources: dict[str, Any] = {
        "Api": {"Type": "AWS::ApiGatewayV2::Api", "Properties": {"ProtocolType": "WEBSOCKET"}},
    }
    for index, (key, function) in enumerate(routes.items()):
        uri = (
            "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
            f"${{{function}.Arn}}/invocations"
        )
        resources[f"Int{index}"] = {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {"ApiId": {"Ref": "Api"}, "IntegrationUri": {"Fn::Sub": uri}},
        }
        resources[f"Route{index}"] = {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": {"Ref": "Api"},
                "RouteKey": key,
                "Target": {"Fn::Sub": f"integrations/${{Int{index}}}"},
            },
        }
    return resources


def test_a_function_whose_name_prefixes_another_is_not_confused_with_it(tmp_path: Path) -> None:
    """Routes to Fn and FnBar reach Fn and FnBar, though one ARN is a prefix of the other."""
    resources = {"Fn": fn(), "FnBar": fn(), **_ws_api({"a": "FnBar", "b": "Fn"})}
    routes = load_app(write(tmp_path, resources)).websocket_apis["Api"].routes
    assert routes["a"].function == "FnBar"
    assert routes["b"].function == "Fn"
    assert routes["a"].has_route_response is False


def test_a_websocket_api_without_a_stage_resource_uses_the_local_stage(tmp_path: Path) -> None:
    """An API with no Stage resource is served on the stage named local."""
    resources = {"Fn": fn(), **_ws_api({"$default": "Fn"})}
    assert load_app(write(tmp_path, resources)).websocket_apis["Api"].stage == "local"


def test_an_integration_naming_no_function_is_refused(tmp_path: Path) -> None:
    """A route whose integration URI names no function of the template is a TemplateError."""
    resources = {"Fn": fn(), **_ws_api({"$default": "Fn"})}
    resources["Int0"]["Properties"]["IntegrationUri"] = "arn:aws:lambda:elsewhere"
    with pytest.raises(TemplateError, match="names no function"):
        load_app(write(tmp_path, resources))


def _table(stream: bool = True) -> dict[str, Any]:
    props: dict[str, Any] = {"TableName": "t"}
    if stream:
        props["StreamSpecification"] = {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    return {"Type": "AWS::DynamoDB::Table", "Properties": props}


def test_a_stream_event_on_a_table_without_a_stream_is_refused(tmp_path: Path) -> None:
    """A DynamoDB event needs a StreamSpecification on its table."""
    event = {"Type": "DynamoDB", "Properties": {"Stream": {"Fn::GetAtt": ["T", "StreamArn"]}}}
    path = write(tmp_path, {"T": _table(stream=False), "Fn": fn(Events={"E": event})})
    with pytest.raises(TemplateError, match="StreamSpecification"):
        load_app(path)


def test_mapping_defaults_follow_lambdas(tmp_path: Path) -> None:
    """A DynamoDB event with no settings gets Lambda's defaults: 100 records, infinite retries
    and age, no bisect, whole-batch failures."""
    event = {
        "Type": "DynamoDB",
        "Properties": {"Stream": {"Fn::GetAtt": ["T", "StreamArn"]}, "StartingPosition": "LATEST"},
    }
    app = load_app(write(tmp_path, {"T": _table(), "Fn": fn(Events={"E": event})}))
    (mapping,) = app.mappings
    assert (mapping.name, mapping.function, mapping.table) == ("Fn.E", "Fn", "T")
    assert mapping.batch_size == 100
    assert mapping.maximum_retry_attempts == -1
    assert mapping.maximum_record_age_s == -1
    assert mapping.bisect_on_error is False
    assert mapping.report_batch_item_failures is False
    assert mapping.on_failure is None


def test_an_event_source_mapping_resource_is_read_too(tmp_path: Path) -> None:
    """An AWS::Lambda::EventSourceMapping on a table stream becomes a mapping as well."""
    mapping_resource = {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "FunctionName": {"Ref": "Fn"},
            "EventSourceArn": {"Fn::GetAtt": ["T", "StreamArn"]},
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 7,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    }
    app = load_app(write(tmp_path, {"T": _table(), "Fn": fn(), "Esm": mapping_resource}))
    (mapping,) = app.mappings
    assert (mapping.name, mapping.function, mapping.table) == ("Esm", "Fn", "T")
    assert mapping.batch_size == 7
    assert mapping.starting_position == "TRIM_HORIZON"
    assert mapping.report_batch_item_failures is True
