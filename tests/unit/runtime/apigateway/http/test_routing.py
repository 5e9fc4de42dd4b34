"""HTTP API route precedence and path parameters (``runtime.apigateway.http.routing``), checked
without a server."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hubbub.runtime.apigateway.http.routing import RouteTable, is_variable
from tests.unit.runtime.apigateway.http.specs import route

PRECEDENCE_ROUTES = (
    "GET /pets/dog/1",
    "GET /pets/dog/{id}",
    "ANY /pets/dog/{id}",
    "GET /pets/{proxy+}",
    "GET /pets/dog/{proxy+}",
    "ANY /{proxy+}",
    "$default",
)


def selected(keys: Sequence[str], method: str, path: str) -> str | None:
    match = RouteTable(route(k) for k in keys).match(method, path)
    return None if match is None else match.route.key


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/pets/dog/1", "GET /pets/dog/1"),
        ("GET", "/pets/dog/2", "GET /pets/dog/{id}"),
        ("DELETE", "/pets/dog/2", "ANY /pets/dog/{id}"),
        ("GET", "/pets/dog/2/toys", "GET /pets/dog/{proxy+}"),
        ("GET", "/pets/cat/1", "GET /pets/{proxy+}"),
        ("POST", "/pets/cat/1", "ANY /{proxy+}"),
        ("GET", "/", "$default"),
        ("get", "/pets/dog/1", "GET /pets/dog/1"),
    ],
)
def test_the_most_specific_route_wins(method: str, path: str, expected: str) -> None:
    assert selected(PRECEDENCE_ROUTES, method, path) == expected


@given(st.permutations(PRECEDENCE_ROUTES))
def test_precedence_does_not_depend_on_template_order(keys: list[str]) -> None:
    assert selected(keys, "GET", "/pets/dog/2") == "GET /pets/dog/{id}"
    assert selected(keys, "POST", "/pets/cat/1") == "ANY /{proxy+}"


def test_a_literal_segment_beats_a_variable_one_left_to_right() -> None:
    keys = ("GET /{a}/b", "GET /a/{b}")
    assert selected(keys, "GET", "/a/b") == "GET /a/{b}"


def test_path_parameters_are_bound_and_greedy_ones_keep_their_slashes() -> None:
    table = RouteTable([route("GET /users/{userId}/files/{path+}")])
    match = table.match("GET", "/users/u1/files/a/b/c.txt")
    assert match is not None
    assert match.path_parameters == {"userId": "u1", "path": "a/b/c.txt"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/files"),  # a greedy variable needs at least one segment
        ("GET", "/files/"),
        ("GET", "/items//x"),  # a variable is never empty
        ("PUT", "/items/1/x"),  # no route for the method
        ("GET", "/items/1/x/y"),
    ],
)
def test_no_route_and_no_default_means_no_match(method: str, path: str) -> None:
    assert selected(("GET /files/{proxy+}", "GET /items/{id}/x"), method, path) is None


def test_default_takes_what_nothing_else_does_and_has_no_parameters() -> None:
    match = RouteTable([route("$default"), route("GET /a")]).match("DELETE", "/zzz")
    assert match is not None
    assert (match.route.key, match.path_parameters) == ("$default", {})


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        ("{id}", True),
        ("{proxy+}", True),
        ("id", False),
        ("{id", False),
        ("id}", False),
        ("", False),
    ],
)
def test_a_variable_segment_is_braced(segment: str, expected: bool) -> None:
    assert is_variable(segment) is expected


def test_a_rest_api_picks_the_resource_before_the_method() -> None:
    """A REST API selects the most specific resource, then its method: a method the resource
    lacks is not passed on to a greedy resource (the client gets 403), where an HTTP API would
    fall through to the greedy route. AWS, "Set up a proxy integration with a proxy resource":
    https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-set-up-simple-proxy.html
    """
    table = RouteTable([route("GET /items/{id}"), route("ANY /{proxy+}"), route("GET /")])
    get = table.match_resource("GET", "/items/7")
    assert get is not None
    assert get.route.key == "GET /items/{id}"
    assert table.match_resource("POST", "/items/7") is None
    assert table.match("POST", "/items/7") is not None  # the HTTP API's choice
    anything = table.match_resource("DELETE", "/a/b")
    assert anything is not None
    assert anything.path_parameters == {"proxy": "a/b"}
    root = table.match_resource("GET", "/")
    assert root is not None
    assert root.route.key == "GET /"
    found = table.resource("/items/7")
    assert found is not None
    assert found[0] == "/items/{id}"
    assert set(found[1]) == {"GET"}
