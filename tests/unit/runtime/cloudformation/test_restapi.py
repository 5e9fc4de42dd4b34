"""Reading REST APIs (``Api`` events, ``AWS::Serverless::Api``, the implicit ``ServerlessRestApi``)
and schedules (``Schedule``, ``ScheduleV2``) from a template, as AWS SAM defines them: "Api" and
"AWS::Serverless::Api" (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-api.html,
https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-api.html),
"Schedule" and "ScheduleV2"
(https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-schedule.html,
https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-schedulev2.html).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hubbub.runtime.cloudformation import RestCorsSpec, TemplateError, load_app
from hubbub.runtime.cloudformation.intrinsics import local_api_id
from tests.unit.runtime.cloudformation.builders import fn, write


def api_event(path: str, method: str, **props: Any) -> dict[str, Any]:
    return {"Type": "Api", "Properties": {"Path": path, "Method": method, **props}}


def test_api_events_without_rest_api_id_make_serverless_rest_api_on_prod(tmp_path: Path) -> None:
    app = load_app(
        write(
            tmp_path,
            {
                "Items": fn(Events={"Get": api_event("/items/{id}", "get")}),
                "Files": fn(Events={"Any": api_event("/files/{proxy+}", "any")}),
            },
        )
    )
    api = app.rest_apis["ServerlessRestApi"]
    assert api.stage == "Prod"
    assert api.api_id == local_api_id("ServerlessRestApi")
    assert sorted(api.routes) == ["ANY /files/{proxy+}", "GET /items/{id}"]
    assert api.routes["GET /items/{id}"].function == "Items"
    assert not [u for u in app.unsupported if "Api" in u[1]]


def test_a_declared_api_with_stage_variables_cors_and_binary_types(tmp_path: Path) -> None:
    app = load_app(
        write(
            tmp_path,
            {
                "Api": {
                    "Type": "AWS::Serverless::Api",
                    "Properties": {
                        "StageName": "v1",
                        "Variables": {"table": "t1"},
                        "BinaryMediaTypes": ["image~1png"],
                        "Cors": {"AllowOrigin": "'https://a.example'", "MaxAge": "'60'"},
                    },
                },
                "Items": fn(Events={"Get": api_event("/items", "GET", RestApiId={"Ref": "Api"})}),
            },
        )
    )
    api = app.rest_apis["Api"]
    assert api.stage == "v1"
    assert api.stage_variables == {"table": "t1"}
    assert api.binary_media_types == ("image/png",)
    assert api.cors == RestCorsSpec(allow_origin="https://a.example", max_age="60")
    assert list(api.routes) == ["GET /items"]


def test_globals_api_cors_string_reaches_the_implicit_api(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"Items": fn(Events={"Get": api_event("/items", "GET")})},
        Globals={
            "Function": {"CodeUri": "code/", "Runtime": "python3.12"},
            "Api": {"Cors": "'*'"},
        },
    )
    assert load_app(path).rest_apis["ServerlessRestApi"].cors == RestCorsSpec(allow_origin="*")


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"Type": "Api", "Properties": {"Path": "/x"}}, "needs a Path and a Method"),
        (api_event("/x", "FETCH"), "no HTTP method"),
        (api_event("x", "GET"), "starting with /"),
        (api_event("/{proxy+}/x", "GET"), "last path segment"),
        (api_event("/x", "GET", RestApiId="Nope"), "names no AWS::Serverless::Api"),
    ],
)
def test_bad_api_events_are_refused_at_load(
    tmp_path: Path, event: dict[str, Any], message: str
) -> None:
    with pytest.raises(TemplateError) as refused:
        load_app(write(tmp_path, {"Items": fn(Events={"E": event})}))
    assert "Items.E" in str(refused.value)
    assert message in str(refused.value)


def test_an_api_events_integration_timeout_is_read_and_bounded(tmp_path: Path) -> None:
    """SAM's ``Api`` event ``TimeoutInMillis``: 50-29,000 ms (the REST API's integration
    timeout), unset the API's 29 s; outside the range the template is refused."""
    events = {
        "Quick": api_event("/quick", "get", TimeoutInMillis=50),
        "Longest": api_event("/longest", "get", TimeoutInMillis=29_000),
        "Plain": api_event("/plain", "get"),
    }
    routes = (
        load_app(write(tmp_path, {"Fn": fn(Events=events)})).rest_apis["ServerlessRestApi"].routes
    )
    assert [routes[f"GET /{name}"].timeout_s for name in ("quick", "longest", "plain")] == [
        0.05,
        29.0,
        None,
    ]
    too_long = {"Fn": fn(Events={"X": api_event("/x", "get", TimeoutInMillis=29_001)})}
    with pytest.raises(TemplateError, match="TimeoutInMillis must be 50-29000"):
        load_app(write(tmp_path, too_long))


def test_a_duplicate_method_is_refused(tmp_path: Path) -> None:
    events = {"A": api_event("/x", "GET"), "B": api_event("/x", "get")}
    with pytest.raises(TemplateError, match="already defined"):
        load_app(write(tmp_path, {"Items": fn(Events=events)}))


def test_schedules_are_read_with_their_defaults(tmp_path: Path) -> None:
    app = load_app(
        write(
            tmp_path,
            {
                "Tick": fn(
                    Events={
                        "Every": {
                            "Type": "Schedule",
                            "Properties": {"Schedule": "rate(5 minutes)"},
                        },
                        "Off": {
                            "Type": "Schedule",
                            "Properties": {
                                "Schedule": "cron(0 10 * * ? *)",
                                "Enabled": False,
                                "Name": "nightly",
                                "Input": '{"job": "report"}',
                            },
                        },
                        "V2": {
                            "Type": "ScheduleV2",
                            "Properties": {
                                "ScheduleExpression": "at(2030-01-01T00:00:00)",
                                "ScheduleExpressionTimezone": "Europe/Paris",
                                "State": "DISABLED",
                            },
                        },
                    }
                )
            },
        )
    )
    every, off, v2 = app.schedules
    assert (every.logical_id, every.kind, every.enabled, every.name) == (
        "Tick.Every",
        "Schedule",
        True,
        "TickEvery",
    )
    assert every.input is None
    assert (off.enabled, off.name, off.input) == (False, "nightly", {"job": "report"})
    assert (v2.kind, v2.enabled, v2.timezone) == ("ScheduleV2", False, "Europe/Paris")
    assert not [u for u in app.unsupported if "Schedule" in u[1]]


@pytest.mark.parametrize(
    ("props", "kind", "message"),
    [
        ({"Schedule": "rate(1 minutes)"}, "Schedule", "singular"),
        ({"Schedule": "cron(0 10 * * * *)"}, "Schedule", "exactly one"),
        ({"Schedule": "at(2030-01-01T00:00:00)"}, "Schedule", "ScheduleV2"),
        ({}, "Schedule", "needs Schedule"),
        ({"ScheduleExpression": "rate(1 hour)", "Enabled": True}, "ScheduleV2", "State"),
        ({"ScheduleExpression": "rate(1 hour)", "State": "OFF"}, "ScheduleV2", "ENABLED"),
        (
            {"ScheduleExpression": "rate(1 hour)", "ScheduleExpressionTimezone": "Mars/Base"},
            "ScheduleV2",
            "Timezone",
        ),
        ({"Schedule": "rate(1 hour)", "Input": "{not json"}, "Schedule", "JSON"),
    ],
)
def test_bad_schedules_are_refused_at_load(
    tmp_path: Path, props: dict[str, Any], kind: str, message: str
) -> None:
    template = write(tmp_path, {"Tick": fn(Events={"E": {"Type": kind, "Properties": props}})})
    with pytest.raises(TemplateError, match=message):
        load_app(template)


def test_schedule_settings_the_runtime_does_not_honour_are_listed(tmp_path: Path) -> None:
    props = {
        "ScheduleExpression": "rate(1 hour)",
        "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5},
        "RetryPolicy": {"MaximumRetryAttempts": 2},
    }
    off = {"ScheduleExpression": "rate(1 hour)", "FlexibleTimeWindow": {"Mode": "OFF"}}
    events = {
        "E": {"Type": "ScheduleV2", "Properties": props},
        "F": {"Type": "ScheduleV2", "Properties": off},
    }
    app = load_app(write(tmp_path, {"Tick": fn(Events=events)}))
    assert app.unsupported == [
        ("Tick.E", "ScheduleV2 FlexibleTimeWindow (not honoured)"),
        ("Tick.E", "ScheduleV2 RetryPolicy (not honoured)"),
    ]
