"""Client frames (``hubbub.protocol.actions``): strict parsing, typed refusals, ``peek_ref``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from hubbub.protocol import actions as a
from hubbub.protocol.actions import ACTIONS, parse_action, peek_ref
from hubbub.protocol.errors import ErrorCode, ProtocolError


def frame(**fields: Any) -> str:
    return json.dumps(fields)


def outcome(body: str | None) -> str | ErrorCode:
    """The parsed frame's action, or the code of the refusal."""
    try:
        return parse_action(body).action
    except ProtocolError as exc:
        return exc.code


def refusal(body: str | None) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_action(body)
    return caught.value


# (body fields, expected model, expected attributes)
VALID: list[tuple[dict[str, Any], type[Any], dict[str, Any]]] = [
    ({"action": "hello"}, a.Hello, {}),
    ({"action": "ping", "ref": "r1"}, a.Ping, {"ref": "r1"}),
    ({"action": "register", "nickname": "Ann"}, a.Register, {"nickname": "Ann", "email": None}),
    (
        {"action": "register", "nickname": "Ann", "email": "ann@example.org"},
        a.Register,
        {"email": "ann@example.org"},
    ),
    ({"action": "subscribe", "topic": "room/+"}, a.Subscribe, {"topic": "room/+", "since": None}),
    ({"action": "subscribe", "topic": "room/a", "since": 7}, a.Subscribe, {"since": 7}),
    ({"action": "unsubscribe", "topic": "room/a"}, a.Unsubscribe, {"topic": "room/a"}),
    (
        {"action": "send", "topic": "room/a", "text": "hi", "clientMsgId": "c1"},
        a.Send,
        {"topic": "room/a", "text": "hi", "client_msg_id": "c1"},
    ),
    (
        {"action": "history", "topic": "room/a", "before": 10, "limit": 100},
        a.History,
        {"before": 10, "after": None, "limit": 100},
    ),
    ({"action": "history", "topic": "room/a", "after": 0}, a.History, {"after": 0}),
    ({"action": "presence", "topic": "room/a"}, a.Presence, {"topic": "room/a"}),
    ({"action": "typing", "topic": "room/a"}, a.Typing, {"topic": "room/a"}),
    ({"action": "read", "topic": "desk/v_1", "seq": 3}, a.Read, {"seq": 3}),
    ({"action": "conversations"}, a.Conversations, {"before": None, "limit": None}),
    ({"action": "conversations", "before": 1700000000000, "limit": 5}, a.Conversations, {}),
    ({"action": "refresh"}, a.Refresh, {}),
    ({"action": "refresh", "ref": "r1", "extra": 1}, a.Refresh, {"ref": "r1"}),
    (
        {"action": "edit", "topic": "room/a", "id": "m_1.3", "text": "fixed"},
        a.Edit,
        {"topic": "room/a", "id": "m_1.3", "text": "fixed"},
    ),
    ({"action": "delete", "topic": "room/a", "id": "m_1.3"}, a.Delete, {"id": "m_1.3"}),
    (
        {"action": "moderate", "topic": "room/a", "userId": "v_1", "sanction": "mute"},
        a.Moderate,
        {"user_id": "v_1", "sanction": "mute", "seconds": None},
    ),
    (
        {
            "action": "moderate",
            "topic": "room/a",
            "userId": "v_1",
            "sanction": "ban",
            "seconds": 60,
        },
        a.Moderate,
        {"seconds": 60},
    ),
    ({"action": "sanctions"}, a.Sanctions, {"topic": None}),
    ({"action": "sanctions", "topic": "room/a"}, a.Sanctions, {"topic": "room/a"}),
]


@pytest.mark.parametrize(
    ("fields", "model", "attributes"),
    [pytest.param(f, m, attrs, id=f["action"]) for f, m, attrs in VALID],
)
def test_valid_frames_parse_to_their_action_model(
    fields: dict[str, Any], model: type[Any], attributes: dict[str, Any]
) -> None:
    """A well-formed frame of each action parses to that action's model with its fields."""
    parsed = parse_action(json.dumps(fields))
    assert type(parsed) is model
    assert parsed.action == fields["action"]
    for name, value in attributes.items():
        assert getattr(parsed, name) == value


def test_every_action_of_the_protocol_has_a_valid_frame_above() -> None:
    """The table of valid frames covers every action the parser knows."""
    assert {f["action"] for f, _, _ in VALID} == set(ACTIONS)


# (fields, why) -- each is refused with bad_request
BAD_FIELDS: list[tuple[dict[str, Any], str]] = [
    ({"action": "read", "topic": "room/a", "seq": "5"}, "a numeric string for an int"),
    ({"action": "read", "topic": "room/a", "seq": True}, "a bool for an int"),
    ({"action": "read", "topic": "room/a", "seq": 5.0}, "a float for an int"),
    ({"action": "read", "topic": "room/a", "seq": -1}, "a negative seq"),
    ({"action": "read", "topic": "room/a", "seq": 2**53 + 1}, "a seq past 2**53"),
    ({"action": "read", "topic": "room/a"}, "a missing seq"),
    ({"action": "subscribe", "topic": 5}, "a number for a topic"),
    ({"action": "subscribe", "topic": ["room/a"]}, "a list for a topic"),
    ({"action": "subscribe", "topic": ""}, "an empty topic"),
    ({"action": "subscribe"}, "a missing topic"),
    ({"action": "subscribe", "topic": "room/a", "since": "3"}, "a string since"),
    ({"action": "send", "topic": "room/a", "text": "hi"}, "a missing clientMsgId"),
    ({"action": "send", "topic": "room/a", "clientMsgId": "c", "attachments": "at_1"}, "ids"),
    ({"action": "send", "topic": "room/a", "clientMsgId": "c", "attachments": [1]}, "a number id"),
    ({"action": "send", "topic": "room/a", "clientMsgId": "c", "attachments": ["a/b"]}, "bad id"),
    ({"action": "send", "topic": "room/a", "text": "x", "clientMsgId": ""}, "an empty id"),
    ({"action": "send", "topic": "room/a", "text": 1, "clientMsgId": "c"}, "a number text"),
    ({"action": "register"}, "a missing nickname"),
    ({"action": "register", "nickname": ""}, "an empty nickname"),
    ({"action": "register", "nickname": None}, "a null nickname"),
    ({"action": "history", "topic": "room/a", "limit": 0}, "a zero limit"),
    ({"action": "history", "topic": "room/a", "limit": 101}, "a limit over the page max"),
    ({"action": "history", "topic": "room/a", "limit": "10"}, "a string limit"),
    ({"action": "conversations", "limit": True}, "a bool limit"),
    ({"action": "ping", "ref": 5}, "a number ref"),
    ({"action": 5}, "a number action"),
    ({"action": None}, "a null action"),
    ({"topic": "room/a"}, "no action"),
    ({"action": "edit", "topic": "room/a", "id": "m_1.3"}, "an edit without text"),
    ({"action": "edit", "topic": "room/a", "text": "x"}, "an edit without id"),
    ({"action": "edit", "topic": "room/a", "id": "m_1.3", "text": ""}, "an empty edit"),
    ({"action": "delete", "topic": "room/a", "id": ""}, "an empty id to delete"),
    ({"action": "delete", "topic": "room/a", "id": 3}, "a number id to delete"),
    (
        {"action": "moderate", "topic": "room/a", "userId": "v_1", "sanction": "shout"},
        "an unknown sanction",
    ),
    ({"action": "moderate", "topic": "room/a", "sanction": "mute"}, "a sanction on nobody"),
    (
        {"action": "moderate", "topic": "room/a", "userId": "v/1", "sanction": "mute"},
        "a user id that is not one",
    ),
    (
        {
            "action": "moderate",
            "topic": "room/a",
            "userId": "v_1",
            "sanction": "mute",
            "seconds": 0,
        },
        "a sanction of no time",
    ),
    (
        {
            "action": "moderate",
            "topic": "room/a",
            "userId": "v_1",
            "sanction": "ban",
            "seconds": "9",
        },
        "a string of seconds",
    ),
    ({"action": "sanctions", "topic": 5}, "a number topic to list"),
]


@pytest.mark.parametrize("fields", [pytest.param(f, id=why) for f, why in BAD_FIELDS])
def test_missing_or_mistyped_fields_are_bad_requests(fields: dict[str, Any]) -> None:
    """A frame with a missing or mistyped field is refused with bad_request; nothing is guessed."""
    assert refusal(json.dumps(fields)).code is ErrorCode.BAD_REQUEST


def test_the_refusal_names_the_field_at_fault() -> None:
    """The message of a refusal says which field is wrong, so a client developer can fix it."""
    error = refusal(frame(action="send", topic="room/a", text="hi"))
    assert "clientMsgId" in error.message


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("not json", id="text"),
        pytest.param("{", id="truncated"),
        pytest.param('{"action": "ping",}', id="trailing comma"),
        pytest.param("\x00", id="nul"),
        pytest.param("", id="empty"),
        pytest.param(None, id="none"),
    ],
)
def test_invalid_json_is_a_bad_request(body: str | None) -> None:
    """A frame that is not JSON at all is refused with bad_request."""
    assert refusal(body).code is ErrorCode.BAD_REQUEST


@pytest.mark.parametrize("body", ["[]", '"ping"', "5", "null", "true", '[{"action":"ping"}]'])
def test_json_that_is_not_an_object_is_a_bad_request(body: str) -> None:
    """Valid JSON that is not an object is refused with bad_request."""
    error = refusal(body)
    assert error.code is ErrorCode.BAD_REQUEST
    assert "object" in error.message


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("[" * 100_000 + "]" * 100_000, id="top-level"),
        pytest.param(
            '{"action": "ping", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
            id="inside an ignored field",
        ),
        pytest.param('{"action": "ping", "x": ' + '{"a":' * 100_000 + "1" + "}" * 100_000 + "}"),
    ],
)
def test_deeply_nested_json_is_a_bad_request_not_a_crash(body: str) -> None:
    """Nesting deep enough to exhaust the parser's recursion becomes bad_request, not a crash."""
    assert refusal(body).code is ErrorCode.BAD_REQUEST


def test_unknown_actions_are_refused_as_unknown_action() -> None:
    """An action name the protocol does not have is refused with unknown_action."""
    error = refusal(frame(action="launch"))
    assert error.code is ErrorCode.UNKNOWN_ACTION
    assert "launch" in error.message


def test_a_huge_unknown_action_name_is_not_echoed_in_full() -> None:
    """The refusal of a megabyte-long action name quotes only its beginning."""
    error = refusal(frame(action="x" * 1_000_000))
    assert error.code is ErrorCode.UNKNOWN_ACTION
    assert len(error.message) < 200


# (fields, why) -- each is one field over its documented limit
TOO_LARGE: list[tuple[dict[str, Any], str]] = [
    ({"action": "send", "topic": "room/a", "text": "x" * 4001, "clientMsgId": "c"}, "text"),
    ({"action": "send", "topic": "room/a", "text": "x", "clientMsgId": "c" * 65}, "clientMsgId"),
    ({"action": "send", "topic": "room/" + "t" * 196, "text": "x", "clientMsgId": "c"}, "topic"),
    ({"action": "register", "nickname": "n" * 41}, "nickname"),
    ({"action": "register", "nickname": "n", "email": "e" * 255}, "email"),
    ({"action": "ping", "ref": "r" * 65}, "ref"),
]


@pytest.mark.parametrize("fields", [pytest.param(f, id=why) for f, why in TOO_LARGE])
def test_a_field_over_its_limit_is_refused_as_too_large(fields: dict[str, Any]) -> None:
    """A string over its documented limit is refused with too_large (protocol.md: a field is
    over its limit), naming the field."""
    error = refusal(json.dumps(fields))
    assert error.code is ErrorCode.TOO_LARGE
    assert error.message.startswith(("text", "clientMsgId", "topic", "nickname", "email", "ref"))


def test_a_huge_string_field_is_refused_without_echoing_it() -> None:
    """A megabyte of text is refused and the refusal does not carry the input back."""
    error = refusal(frame(action="send", topic="room/a", text="y" * 1_000_000, clientMsgId="c"))
    assert error.code in (ErrorCode.BAD_REQUEST, ErrorCode.TOO_LARGE)
    assert "yyyy" not in error.message


def test_strings_at_their_limits_are_accepted() -> None:
    """Fields exactly at their documented limits parse."""
    parsed = parse_action(
        frame(action="send", topic="room/" + "t" * 195, text="x" * 4000, clientMsgId="c" * 64)
    )
    assert isinstance(parsed, a.Send)
    assert len(parsed.text) == 4000
    register = parse_action(frame(action="register", nickname="n" * 40, ref="r" * 64))
    assert isinstance(register, a.Register)


def test_unknown_fields_are_ignored() -> None:
    """Fields a frame's action does not define are ignored, so newer clients can talk to us."""
    parsed = parse_action(frame(action="ping", flavour="new", nested={"deep": [1, 2]}))
    assert isinstance(parsed, a.Ping)
    assert not hasattr(parsed, "flavour")


def test_parsed_frames_are_immutable() -> None:
    """A parsed frame cannot be changed afterwards."""
    parsed = parse_action(frame(action="ping"))
    with pytest.raises(ValidationError, match="frozen"):
        parsed.ref = "changed"


# -- peek_ref -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(frame(action="send", ref="r1"), ("r1", "send"), id="ref and known action"),
        pytest.param(frame(action="nope", ref="r1"), ("r1", None), id="unknown action"),
        pytest.param(frame(action=5, ref="r1"), ("r1", None), id="non-string action"),
        pytest.param(frame(action="ping", ref=5), (None, "ping"), id="non-string ref"),
        pytest.param(frame(action="ping", ref="r" * 65), (None, "ping"), id="ref too long"),
        pytest.param(frame(action="ping", ref="r" * 64), ("r" * 64, "ping"), id="ref at limit"),
        pytest.param(frame(text="x"), (None, None), id="neither"),
        pytest.param("not json", (None, None), id="not json"),
        pytest.param("[1]", (None, None), id="not an object"),
        pytest.param(None, (None, None), id="no body"),
        pytest.param("[" * 100_000, (None, None), id="deep nesting"),
    ],
)
def test_peek_ref_returns_only_what_is_sane_to_echo(
    body: str | None, expected: tuple[str | None, str | None]
) -> None:
    """peek_ref gives back a string ref of at most 64 characters and a known action, else None."""
    assert peek_ref(body) == expected


# -- properties -----------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner),
    max_leaves=10,
)


@settings(max_examples=100, deadline=None)
@given(value=_json)
def test_any_json_value_either_parses_or_is_a_protocol_error(value: object) -> None:
    """No JSON value makes parse_action raise anything but ProtocolError."""
    result = outcome(json.dumps(value))
    assert result in (ErrorCode.BAD_REQUEST, ErrorCode.UNKNOWN_ACTION, *ACTIONS)


@settings(max_examples=60, deadline=None)
@given(
    action=st.sampled_from(ACTIONS),
    fields=st.dictionaries(
        st.sampled_from(
            [
                *("topic", "text", "clientMsgId", "since", "before", "after", "limit", "seq"),
                *("ref", "nickname", "email"),
            ]
        ),
        _json,
    ),
)
def test_any_fields_for_a_known_action_parse_or_are_refused(
    action: str, fields: dict[str, Any]
) -> None:
    """Whatever values a known action's fields carry, the outcome is a model or a ProtocolError."""
    result = outcome(json.dumps({**fields, "action": action}))
    assert result in (action, ErrorCode.BAD_REQUEST, ErrorCode.TOO_LARGE)


@settings(max_examples=200, deadline=None)
@given(body=st.text())
def test_any_text_either_parses_or_is_a_protocol_error(body: str) -> None:
    """No text, however broken, makes parse_action or peek_ref raise anything else."""
    result = outcome(body)
    assert result in (*ACTIONS, *ErrorCode)
    ref, action = peek_ref(body)
    assert ref is None or (isinstance(ref, str) and len(ref) <= 64)
    assert action is None or action in ACTIONS
