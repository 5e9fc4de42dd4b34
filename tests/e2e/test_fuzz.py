"""Property-based fuzzing of frames over a real connection: every answer is a typed ``error``, a
well-formed reply, or a documented close; the connection and the server stay healthy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from hubbub.protocol.actions import ACTIONS
from hubbub.protocol.errors import ErrorCode
from tests.support.server import ServerProcess

REPLY_TYPES = {
    "token",
    "edited",
    "deleted",
    "moderated",
    "sanctions",
    "hello",
    "welcome",
    "pong",
    "subscribed",
    "unsubscribed",
    "ack",
    "history",
    "presence",
    "typing",
    "read",
    "conversations",
    "error",
    "message",
    "joined",
    "left",
}
CODES = {c.value for c in ErrorCode}

json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
json_value = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
field_names = st.sampled_from(
    [
        "topic",
        "text",
        "clientMsgId",
        "since",
        "before",
        "after",
        "limit",
        "seq",
        "nickname",
        "email",
        "ref",
        "id",
        "userId",
        "sanction",
        "seconds",
        "attachments",
        "extra",
    ]
)
topics = st.sampled_from(
    [
        "room/lobby",
        "room/+",
        "room/#",
        "#",
        "+/x",
        "desk/+",
        "user/nobody",
        "$sys/x",
        "room",
        "room//x",
        "room/" + "a" * 300,
        "room/ü",
        "room/a b",
        "",
    ]
) | st.text(max_size=30)
action_frames = st.fixed_dictionaries(
    {"action": st.sampled_from([*ACTIONS, "nope", ""]) | st.text(max_size=10)},
    optional={
        "topic": topics,
        "text": st.text(max_size=50) | st.just("x" * 4001),
        "clientMsgId": st.text(max_size=70) | json_value,
        "since": st.integers() | json_value,
        "before": st.integers(),
        "limit": st.integers(),
        "seq": st.integers(),
        "nickname": st.text(max_size=50),
        "ref": st.text(max_size=70) | json_value,
        # edit, delete, moderate: ids shaped like a message's (text.seq) or not at all
        "id": st.sampled_from(["m_0.1", "m_0.0", "x." + "9" * 20, ".", "m_0.-1"])
        | st.text(max_size=70)
        | json_value,
        "userId": st.sampled_from(["v_0", "o_1", "g_x", "v/1"]) | st.text(max_size=70),
        "sanction": st.sampled_from(["mute", "unmute", "ban", "unban", "kick", "shout"])
        | json_value,
        "seconds": st.integers() | json_value,
        "attachments": st.lists(
            st.sampled_from(["at_0", "at_" + "0" * 20, "a/b", "", "at_0"]) | st.text(max_size=70),
            max_size=25,
        )
        | json_value,
    },
).flatmap(
    lambda base: st.dictionaries(field_names, json_value, max_size=3).map(
        lambda extra: {**extra, **base}
    )
)


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


text_frames = (
    action_frames.map(json.dumps)
    | json_value.map(json.dumps)
    | st.text(max_size=200)
    | st.sampled_from([deep(10_000), '{"action": ' + deep(5000) + "}", "{" * 50, '"\\ud800"'])
)
binary_frames = st.binary(max_size=300) | st.just(b"\xff\xfe\xfd invalid utf-8 \xc3\x28")


@pytest.fixture(scope="module")
def wire(server: ServerProcess) -> Iterator[ClientConnection]:
    with connect(server.ws_url, max_size=2**20) as ws:
        ws.send(json.dumps({"action": "register", "nickname": "fuzzer"}))
        json.loads(ws.recv(timeout=10))
        yield ws


_refs = iter(range(10**9))
_PUSHED = ("joined", "left", "message", "typing", "edited", "deleted", "moderated", "read")


def roundtrip(ws: ClientConnection, frame: str | bytes) -> list[dict[str, Any]]:
    """Send ``frame`` and a ping; return the one direct reply to ``frame`` once the pong is in too.

    Frames of one connection are handled concurrently (as on API Gateway), so replies can come in
    any order: JSON objects get a ref of ours to find theirs; anything else gets one ref-less error.
    """
    ref = None
    if isinstance(frame, str):
        try:
            decoded = json.loads(frame)
        except (ValueError, RecursionError):
            decoded = None
        if isinstance(decoded, dict):
            if isinstance(decoded.get("ref"), str) and decoded["ref"].startswith("keep"):
                ref = decoded["ref"]
            else:
                ref = f"fz{next(_refs)}"
                frame = json.dumps({**decoded, "ref": ref})
    ws.send(frame)
    ws.send(json.dumps({"action": "ping", "ref": "sentinel"}))
    replies: list[dict[str, Any]] = []
    ponged = False
    while not (ponged and replies):
        reply = json.loads(ws.recv(timeout=10))
        assert isinstance(reply, dict)
        if reply.get("ref") == "sentinel":
            assert reply["type"] == "pong"
            ponged = True
        elif reply.get("type") in _PUSHED and "ref" not in reply:
            continue  # pushed by other tests' traffic, not an answer to us
        else:
            assert reply.get("ref") == ref, reply
            replies.append(reply)
    return replies


def check(frames: list[dict[str, Any]]) -> None:
    for frame in frames:
        assert frame.get("type") in REPLY_TYPES, frame
        if frame["type"] == "error":
            assert frame["code"] in CODES
            assert "Traceback" not in frame["message"]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=text_frames)
def test_text_frames_never_break_the_connection(wire: ClientConnection, frame: str) -> None:
    check(roundtrip(wire, frame))


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(frame=binary_frames)
def test_binary_frames_close_the_connection_with_1003(server: ServerProcess, frame: bytes) -> None:
    """AWS: API Gateway developer guide, *Binary media types for WebSocket APIs*: a binary frame
    is rejected and the client disconnected with code 1003."""
    with connect(server.ws_url, max_size=2**20) as ws:
        ws.send(frame)
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1003


@pytest.mark.parametrize("size", [32 * 1024 - 64, 32 * 1024])
def test_frames_at_the_quota_boundary_are_answered(wire: ClientConnection, size: int) -> None:
    """A frame of exactly 32 KB is still a frame; its oversize text gets a typed error."""
    body = json.dumps(
        {"action": "send", "topic": "room/big", "clientMsgId": "b", "ref": "keep", "text": ""}
    )
    padded = body[:-2] + "x" * (size - len(body)) + '"}'
    assert len(padded.encode()) == size
    frames = roundtrip(wire, padded)
    assert [f["code"] for f in frames] == ["too_large"]


def test_one_byte_over_the_frame_quota_closes_with_1009(server: ServerProcess) -> None:
    with connect(server.ws_url, max_size=2**20) as ws:
        ws.send("x" * (32 * 1024 + 1))
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=10)
    assert ws.close_code == 1009


def test_the_server_never_crashed_a_handler(server: ServerProcess, wire: ClientConnection) -> None:
    """Bad input is answered by the handler, not by an unhandled exception."""
    stats = server.admin("stats")["functions"]
    assert stats["MessageFunction"]["errors"] == 0
    assert stats["MessageFunction"]["invocations"] > 100
