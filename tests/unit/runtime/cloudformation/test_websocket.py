"""Reading WebSocket APIs (``cloudformation.websocket``): the project's API, its stage and every
route, and small templates for what it does not show."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from hubbub.runtime.cloudformation import AppSpec, TemplateError, load_app
from tests.unit.runtime.cloudformation.builders import WS_API_ID, fn, write

# -- the project's template -----------------------------------------------------------------


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


# -- small templates ------------------------------------------------------------------------


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


def test_an_integrations_timeout_is_read_in_seconds(tmp_path: Path) -> None:
    """*AWS::ApiGatewayV2::Integration*: ``TimeoutInMillis``, 50-29,000 for a WebSocket API;
    without it the API's default (29 s) holds."""
    resources = {"Fn": fn(), **_ws_api({"quick": "Fn", "slowest": "Fn", "plain": "Fn"})}
    resources["Int0"]["Properties"]["TimeoutInMillis"] = 50
    resources["Int1"]["Properties"]["TimeoutInMillis"] = "29000"
    routes = load_app(write(tmp_path, resources)).websocket_apis["Api"].routes
    assert {key: route.timeout_s for key, route in routes.items()} == {
        "quick": 0.05,
        "slowest": 29.0,
        "plain": None,
    }


@pytest.mark.parametrize("millis", [49, 29_001, 0, "soon"])
def test_an_integration_timeout_api_gateway_refuses_refuses_the_template(
    tmp_path: Path, millis: object
) -> None:
    resources = {"Fn": fn(), **_ws_api({"$default": "Fn"})}
    resources["Int0"]["Properties"]["TimeoutInMillis"] = millis
    with pytest.raises(TemplateError, match="Int0: TimeoutInMillis must be 50-29000"):
        load_app(write(tmp_path, resources))
