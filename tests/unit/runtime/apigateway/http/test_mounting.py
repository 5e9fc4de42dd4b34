"""Where an HTTP API is mounted on the shared server (``runtime.apigateway.http.mounting``)."""

from __future__ import annotations

import pytest

from hubbub.runtime.apigateway.http.mounting import HTTP_PREFIX, REST_PREFIX, mount_plan
from hubbub.runtime.cloudformation import RestApiSpec
from tests.unit.runtime.apigateway.http.specs import api, route

TAKEN = frozenset({"", "_runtime", "_http", "ws", "static", "config.json"})


def test_plain_routes_are_served_at_their_own_paths() -> None:
    plan = mount_plan(api("GET /rooms", "GET /rooms/{room}", "POST /rooms/{room}"), TAKEN)
    assert (plan.prefix, plan.reason) == ("", None)
    assert plan.patterns == ("/rooms", "/rooms/{_p1}")


@pytest.mark.parametrize(
    ("keys", "reason"),
    [
        (("GET /rooms", "$default"), "$default"),
        (("ANY /{proxy+}",), "every top-level path"),
        (("GET /{room}",), "every top-level path"),
        (("GET /static/app.js",), "/static"),
        (("GET /",), "hide the server's own /"),
        (("GET /ws/info",), "/ws"),
    ],
)
def test_an_api_that_would_hide_the_servers_paths_moves_under_a_prefix(
    keys: tuple[str, ...], reason: str
) -> None:
    plan = mount_plan(api(*keys), TAKEN)
    assert plan.prefix == f"{HTTP_PREFIX}/Api"
    assert plan.reason is not None
    assert reason in plan.reason
    assert plan.patterns == ("/_http/Api", "/_http/Api/{_tail:.*}")


def test_a_named_stage_is_part_of_the_path() -> None:
    plan = mount_plan(api("GET /rooms/{room}", "GET /files/{proxy+}", stage="prod"), TAKEN)
    assert (plan.prefix, plan.base) == ("", "/prod")
    assert plan.patterns == ("/prod/rooms/{_p1}", "/prod/files/{_p1:.+}")


def test_below_a_named_stage_a_catch_all_hides_nothing() -> None:
    plan = mount_plan(api("$default", "ANY /{proxy+}", stage="prod"), TAKEN)
    assert (plan.prefix, plan.reason) == ("", None)
    assert plan.patterns == ("/prod", "/prod/{_tail:.*}")


def test_a_stage_named_like_a_server_path_moves_under_a_prefix() -> None:
    plan = mount_plan(api("GET /info", stage="ws"), TAKEN)
    assert plan.base == "/_http/Api/ws"
    assert plan.patterns == ("/_http/Api/ws", "/_http/Api/ws/{_tail:.*}")


def _rest_api(stage: str) -> RestApiSpec:
    routes = {k: route(k) for k in ("ANY /{proxy+}", "GET /")}
    return RestApiSpec(logical_id="ServerlessRestApi", api_id="x", stage=stage, routes=routes)


def test_a_rest_api_owns_its_stage_path() -> None:
    """A REST API is reached at ``/{stage}/...`` (AWS, "Invoke a REST API in API Gateway":
    https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-call-api.html), and every
    path below the stage is its own, so even a greedy root resource stays below it."""
    plan = mount_plan(_rest_api("Prod"), TAKEN, prefix_root=REST_PREFIX)
    assert (plan.prefix, plan.stage_path, plan.reason) == ("", "/Prod", None)
    assert plan.patterns == ("/Prod", "/Prod/{_tail:.*}")


def test_a_rest_api_whose_stage_is_taken_moves_under_the_rest_prefix() -> None:
    plan = mount_plan(_rest_api("ws"), TAKEN, prefix_root=REST_PREFIX)
    assert plan.prefix == f"{REST_PREFIX}/ServerlessRestApi"
    assert plan.base == f"{REST_PREFIX}/ServerlessRestApi/ws"
    assert plan.reason is not None
