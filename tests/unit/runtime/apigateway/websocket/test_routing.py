"""WebSocket route selection (``runtime.apigateway.websocket.routing``).

AWS: API Gateway developer guide, *Create routes for WebSocket APIs in API Gateway* (route
selection expressions: unwrapped ``$request.body.action`` and wrapped ``${request.body.action}``
variables, several variables with static text, a missing path resolving to ``""``, results
stringified, e.g. an array of two elements as ``"[item1, item2]"``; non-JSON messages go to
``$default``) and *WebSocket selection expressions* (``\\$`` escapes a dollar sign).
"""

from __future__ import annotations

from typing import Any

import pytest

from hubbub.runtime.apigateway.websocket.routing import (
    compile_expression,
    select_route,
    stringify,
)

ROUTES = frozenset(
    {
        "$connect",
        "$disconnect",
        "$default",
        "send",
        "join",
        "chat/join",
        "join-",
        "7",
        "1.5",
        "true",
        "false",
        "[a, b]",
        "{k=v}",
        "action",
        "x",
    }
)
GUIDE_PAYLOAD = '{"service": "chat", "action": "join", "data": {"room": "room1234"}}'


@pytest.mark.parametrize(
    ("expression", "body", "expected"),
    [
        # the guide's table, against its own example payload
        ("$request.body.action", GUIDE_PAYLOAD, "join"),
        ("${request.body.action}", GUIDE_PAYLOAD, "join"),
        ("${request.body.service}/${request.body.action}", GUIDE_PAYLOAD, "chat/join"),
        ("${request.body.action}-${request.body.invalidPath}", GUIDE_PAYLOAD, "join-"),
        ("action", GUIDE_PAYLOAD, "action"),  # a static value
        ("action", "not json at all", "action"),  # static: the body is not read
        ("\\$default", GUIDE_PAYLOAD, "$default"),
        # paths
        ("$request.body.meta.action", '{"meta": {"action": "join"}}', "join"),
        ("${request.body.meta.action}", '{"meta": {"action": "join"}}', "join"),
        ("$request.body.meta.action", '{"meta": "join"}', "$default"),
        ("$request.body.items[1]", '{"items": ["send", "join"]}', "join"),
        ("$request.body.items[5]", '{"items": ["send"]}', "$default"),
        # not a route, not JSON, not an object
        ("$request.body.action", '{"action": "leave"}', "$default"),
        ("$request.body.action", '{"text": "hi"}', "$default"),
        ("$request.body.action", '["send"]', "$default"),
        ("$request.body.action", '"send"', "$default"),
        ("$request.body.action", "send", "$default"),
        ("$request.body.action", "", "$default"),
        ("$request.body.action", "[" * 100_000, "$default"),  # past the parser's depth
        # a variable that is not the body's resolves to "" (no such route variable on AWS)
        ("$request.header.X-Route", '{"action": "send"}', "$default"),
        ("${request.header.x}x", '{"action": "send"}', "x"),
        # values that are not strings are stringified
        ("$request.body.action", '{"action": 7}', "7"),
        ("$request.body.action", '{"action": 1.5}', "1.5"),
        ("$request.body.action", '{"action": true}', "true"),
        ("${request.body.action}", '{"action": false}', "false"),
        ("$request.body.action", '{"action": ["a", "b"]}', "[a, b]"),
        ("$request.body.action", '{"action": {"k": "v"}}', "{k=v}"),
        ("$request.body.action", '{"action": null}', "$default"),
    ],
)
def test_a_text_frame_goes_to_the_route_its_expression_names(
    expression: str, body: str, expected: str
) -> None:
    assert select_route(compile_expression(expression), ROUTES, body) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("send", "send"),
        (7, "7"),
        (-2, "-2"),
        (1.5, "1.5"),
        (True, "true"),
        (False, "false"),
        (None, ""),
        (["item1", "item2"], "[item1, item2]"),  # the guide's own example
        ([1, [2, 3]], "[1, [2, 3]]"),
        ({"a": 1, "b": "x"}, "{a=1, b=x}"),
    ],
)
def test_selected_values_are_stringified(value: Any, text: str) -> None:
    assert stringify(value) == text


@pytest.mark.parametrize(
    ("expression", "reads_body"),
    [
        ("$request.body.action", True),
        ("${request.body.action}", True),
        ("action", False),
        ("\\$default", False),
    ],
)
def test_only_expressions_with_body_variables_read_the_body(
    expression: str, reads_body: bool
) -> None:
    assert compile_expression(expression).reads_body is reads_body
