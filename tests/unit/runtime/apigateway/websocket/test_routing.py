"""WebSocket route selection by ``$request.body.<path>``
(``runtime.apigateway.websocket.routing``)."""

from __future__ import annotations

import pytest

from hubbub.runtime.apigateway.websocket.routing import select_route, selection_path

ROUTES = frozenset({"$connect", "$disconnect", "$default", "send", "join"})


@pytest.mark.parametrize(
    ("expression", "path"),
    [
        ("$request.body.action", ("action",)),
        ("$request.body.meta.action", ("meta", "action")),
        ("$request.header.X-Route", None),
        ("action", None),
        ("${request.body.action}", None),
    ],
)
def test_only_body_expressions_select_by_content(
    expression: str, path: tuple[str, ...] | None
) -> None:
    assert selection_path(expression) == path


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        (("action",), '{"action": "send", "text": "hi"}', "send"),
        (("action",), '{"action": "join"}', "join"),
        (("action",), '{"action": "leave"}', "$default"),  # no such route
        (("action",), '{"action": 7}', "$default"),  # not a string
        (("action",), '{"action": ["send"]}', "$default"),
        (("action",), '{"text": "hi"}', "$default"),  # no key
        (("action",), '["send"]', "$default"),  # not an object
        (("action",), '"send"', "$default"),
        (("action",), "send", "$default"),  # not JSON
        (("action",), "", "$default"),
        (("action",), "[" * 100_000, "$default"),  # nested past the parser's depth
        (("meta", "action"), '{"meta": {"action": "join"}}', "join"),
        (("meta", "action"), '{"meta": "join"}', "$default"),
        (("meta", "action"), '{"action": "join"}', "$default"),
        (None, '{"action": "send"}', "$default"),  # the expression does not read the body
    ],
)
def test_a_text_frame_goes_to_the_named_route_or_default(
    path: tuple[str, ...] | None, body: str, expected: str
) -> None:
    assert select_route(path, ROUTES, body) == expected
