"""Reading HTTP APIs from a template, in SAM's form (``HttpApi`` events) and in CloudFormation's
(``AWS::ApiGatewayV2::*``); templates are built as data and written as YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hubbub.runtime.cloudformation import (
    IMPLICIT_HTTP_API,
    AppSpec,
    CorsSpec,
    TemplateError,
    load_app,
)
from hubbub.runtime.cloudformation.intrinsics import local_api_id


def function(handler: str = "app.handler", **events: dict[str, Any]) -> dict[str, Any]:
    props: dict[str, Any] = {"Handler": handler, "Runtime": "python3.12", "CodeUri": "."}
    if events:
        props["Events"] = events
    return {"Type": "AWS::Serverless::Function", "Properties": props}


def http_event(**props: Any) -> dict[str, Any]:
    return {"Type": "HttpApi", "Properties": props}


def load(tmp_path: Path, resources: dict[str, Any], **sections: Any) -> AppSpec:
    path = tmp_path / "template.yaml"
    path.write_text(yaml.safe_dump({"Resources": resources, **sections}))
    return load_app(path)


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


# SAM ---------------------------------------------------------------------------------------------
def test_events_without_api_id_make_the_implicit_api(tmp_path: Path) -> None:
    app = load(
        tmp_path,
        {
            "Rooms": function(
                List=http_event(Path="/rooms", Method="get"),
                Any=http_event(Path="/rooms/{room}", Method="ANY"),
            )
        },
    )
    api = app.http_apis[IMPLICIT_HTTP_API]
    assert api.stage == "$default"
    assert api.api_id == local_api_id(IMPLICIT_HTTP_API)
    assert sorted(api.routes) == ["ANY /rooms/{room}", "GET /rooms"]
    assert api.routes["GET /rooms"].function == "Rooms"
    assert api.cors is None


def test_events_with_api_id_join_the_declared_api_and_no_path_means_default(
    tmp_path: Path,
) -> None:
    app = load(
        tmp_path,
        {
            "Api": {
                "Type": "AWS::Serverless::HttpApi",
                "Properties": {
                    "StageName": "prod",
                    "CorsConfiguration": {
                        "AllowOrigins": ["https://a.example"],
                        "AllowMethods": ["get"],
                        "AllowHeaders": ["X-Custom"],
                        "MaxAge": 60,
                    },
                },
            },
            "Catch": function(Default=http_event(ApiId=ref("Api"))),
        },
    )
    assert "Api" not in dict(app.unsupported)
    api = app.http_apis["Api"]
    assert api.stage == "prod"
    assert list(api.routes) == ["$default"]
    assert api.routes["$default"].is_default
    assert api.cors == CorsSpec(
        allow_origins=("https://a.example",),
        allow_methods=("GET",),
        allow_headers=("x-custom",),
        max_age_s=60,
    )
    assert IMPLICIT_HTTP_API not in app.http_apis


def test_globals_configure_the_implicit_api(tmp_path: Path) -> None:
    app = load(
        tmp_path,
        {"Fn": function(Get=http_event(Path="/x", Method="GET"))},
        Globals={"HttpApi": {"CorsConfiguration": True}},
    )
    cors = app.http_apis[IMPLICIT_HTTP_API].cors
    assert cors is not None
    assert cors.allow_origins == ("*",)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (http_event(Path="/x"), "both Path and Method"),
        (http_event(Path="/x", Method="FETCH"), "no HTTP method"),
        (http_event(Path="x", Method="GET"), "starting with /"),
        (http_event(Path="/{proxy+}/x", Method="GET"), "last path segment"),
        (http_event(Path="/a{b}", Method="GET"), "whole {variable}"),
        (http_event(Path="/x", Method="GET", ApiId=ref("Nope")), "reference to unknown"),
    ],
)
def test_bad_events_are_refused_at_load(
    tmp_path: Path, event: dict[str, Any], message: str
) -> None:
    with pytest.raises(TemplateError, match=message):
        load(tmp_path, {"Fn": function(E=event)})


def test_a_route_defined_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="already defined"):
        load(
            tmp_path,
            {
                "A": function(E=http_event(Path="/x", Method="GET")),
                "B": function(E=http_event(Path="/x", Method="get")),
            },
        )


def test_payload_format_1_is_listed_as_not_emulated(tmp_path: Path) -> None:
    app = load(
        tmp_path,
        {"Fn": function(E=http_event(Path="/x", Method="GET", PayloadFormatVersion="1.0"))},
    )
    assert ("Fn.E", "HTTP API payload format 1.0") in app.unsupported
    assert not app.http_apis[IMPLICIT_HTTP_API].routes


# CloudFormation ----------------------------------------------------------------------------------
def v2_resources(protocol: str = "HTTP", payload_format: str = "2.0") -> dict[str, Any]:
    return {
        "Things": function(),
        "ThingsTooLong": function(),
        "Api": {
            "Type": "AWS::ApiGatewayV2::Api",
            "Properties": {
                "Name": "things",
                "ProtocolType": protocol,
                "RouteSelectionExpression": "$request.body.action",
                "CorsConfiguration": {"AllowOrigins": ["*"]},
            },
        },
        "Integration": {
            "Type": "AWS::ApiGatewayV2::Integration",
            "Properties": {
                "ApiId": ref("Api"),
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": sub(
                    "arn:aws:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/"
                    "${ThingsTooLong.Arn}/invocations"
                ),
                "PayloadFormatVersion": payload_format,
            },
        },
        "GetThing": {
            "Type": "AWS::ApiGatewayV2::Route",
            "Properties": {
                "ApiId": ref("Api"),
                "RouteKey": "GET /things/{thingId}",
                "Target": sub("integrations/${Integration}"),
            },
        },
    }


def test_an_explicit_http_api_is_read_from_its_routes_and_integrations(tmp_path: Path) -> None:
    app = load(tmp_path, v2_resources())
    api = app.http_apis["Api"]
    assert api.api_id == local_api_id("Api")
    assert api.stage == "$default"
    assert api.cors == CorsSpec(allow_origins=("*",))
    (only,) = api.routes.values()
    assert (only.key, only.method, only.path) == (
        "GET /things/{thingId}",
        "GET",
        "/things/{thingId}",
    )
    # "Things" (read first) is a prefix of "ThingsTooLong": the ARN must match whole
    assert only.function == "ThingsTooLong"
    assert not app.websocket_apis


def test_a_websocket_api_is_not_an_http_api(tmp_path: Path) -> None:
    app = load(tmp_path, v2_resources(protocol="WEBSOCKET"))
    assert not app.http_apis
    assert list(app.websocket_apis["Api"].routes) == ["GET /things/{thingId}"]


def test_a_1_0_integration_is_listed_and_its_route_skipped(tmp_path: Path) -> None:
    app = load(tmp_path, v2_resources(payload_format="1.0"))
    assert ("Integration", "HTTP API payload format 1.0") in app.unsupported
    assert not app.http_apis["Api"].routes


def test_a_named_stage_is_read(tmp_path: Path) -> None:
    resources = v2_resources()
    resources["Stage"] = {
        "Type": "AWS::ApiGatewayV2::Stage",
        "Properties": {"ApiId": ref("Api"), "StageName": "v1"},
    }
    assert load(tmp_path, resources).http_apis["Api"].stage == "v1"


# TimeoutInMillis -----------------------------------------------------------------------------
def test_an_integration_timeout_is_read_from_either_form(tmp_path: Path) -> None:
    """SAM's ``HttpApi`` event and ``AWS::ApiGatewayV2::Integration``: ``TimeoutInMillis``,
    50-30,000 ms for an HTTP API; unset, the API's 30 s."""
    sam = load(
        tmp_path,
        {
            "Fn": function(
                Quick=http_event(Path="/quick", Method="GET", TimeoutInMillis=50),
                Plain=http_event(Path="/plain", Method="GET"),
            )
        },
    )
    routes = sam.http_apis[IMPLICIT_HTTP_API].routes
    assert (routes["GET /quick"].timeout_s, routes["GET /plain"].timeout_s) == (0.05, None)
    resources = v2_resources()
    resources["Integration"]["Properties"]["TimeoutInMillis"] = 30_000
    (only,) = load(tmp_path, resources).http_apis["Api"].routes.values()
    assert only.timeout_s == 30.0


@pytest.mark.parametrize("millis", [49, 30_001, "later"])
def test_an_integration_timeout_api_gateway_refuses_refuses_the_template(
    tmp_path: Path, millis: object
) -> None:
    event = http_event(Path="/x", Method="GET", TimeoutInMillis=millis)
    with pytest.raises(TemplateError, match="TimeoutInMillis must be 50-30000"):
        load(tmp_path, {"Fn": function(X=event)})
    resources = v2_resources()
    resources["Integration"]["Properties"]["TimeoutInMillis"] = millis
    with pytest.raises(TemplateError, match="Integration: TimeoutInMillis must be 50-30000"):
        load(tmp_path, resources)
