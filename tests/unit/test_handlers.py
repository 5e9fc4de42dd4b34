"""The Lambda entry points, called in-process with events built from captured AWS shapes.

``hubbub.handlers.bootstrap`` builds the service; here ``build_chat`` is handed the real SQLite
store (in tmp_path), a manual clock and a recording Push, and ``use_chat`` makes that chat the
handlers', so nothing leaves the process.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import (
    APIGatewayWebSocketConnectEventModel,
    APIGatewayWebSocketDisconnectEventModel,
    APIGatewayWebSocketMessageEventModel,
    DynamoDBStreamModel,
)

from hubbub.chat.service import Chat
from hubbub.chat.tokens import TokenIssuer
from hubbub.clock import ManualClock
from hubbub.handlers import bootstrap, connect, disconnect, message, stream
from hubbub.ids import ConnectionId, Topic, UserId
from hubbub.push.port import FramesOutcome
from hubbub.store.items import message_item
from hubbub.store.port import Message, Role, User
from hubbub.store.sqlite.adapter import SqliteStore
from tests.support import aws_events
from tests.unit.fakes import FUTURE_MS, SECRET, RecordingPush


@dataclass
class Lambda:
    """The chat the handlers use, and ways to call them as API Gateway would."""

    chat: Chat
    store: SqliteStore
    push: RecordingPush
    db_path: Path

    def connect(self, cid: str, token: str | None = None, **kwargs: Any) -> dict[str, Any]:
        query = {"token": token} if token is not None else None
        return connect.handler(aws_events.connect_event(cid, query=query, **kwargs), None)

    def frame(self, cid: str, body: str | None, **kwargs: Any) -> dict[str, Any]:
        response: dict[str, Any] = message.handler(
            aws_events.message_event(cid, body, **kwargs), None
        )
        return response

    def act(self, cid: str, **fields: Any) -> dict[str, Any]:
        """Send one action; the parsed reply frame (the route response body)."""
        response = self.frame(cid, json.dumps(fields))
        assert response["statusCode"] == 200
        reply: dict[str, Any] = json.loads(response["body"])
        return reply

    def visitor(self, cid: str, nickname: str) -> None:
        assert self.connect(cid)["statusCode"] == 200
        assert self.act(cid, action="register", nickname=nickname)["type"] == "welcome"

    def messages(self, topic: str) -> list[Message]:
        return self.store.read_after(Topic(topic), 0, 100, FUTURE_MS).messages


@pytest.fixture
def lam(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lambda]:
    monkeypatch.setenv("HUBBUB_RUNTIME_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("ALLOWED_ORIGINS", raising=False)
    db_path = tmp_path / "hubbub.sqlite3"
    store = SqliteStore(db_path, busy_timeout_ms=50)
    push = RecordingPush()
    (tmp_path / "token-secret").write_bytes(SECRET)  # the local runtime's secret, read on use
    env = {"HUBBUB_RUNTIME_DATA_DIR": str(tmp_path), "TOKEN_TTL_SECONDS": "3600"}
    service = bootstrap.build_chat(env, store=store, clock=ManualClock(FUTURE_MS), push=push)
    bootstrap.use_chat(service)
    yield Lambda(service, store, push, db_path)
    bootstrap.use_chat(None)
    store.close()


# -- the events themselves ------------------------------------------------------------------


def test_the_test_events_are_valid_aws_events() -> None:
    """The builders in tests/support produce events Powertools' models accept."""
    cid = aws_events.connection_id()
    APIGatewayWebSocketConnectEventModel.model_validate(
        aws_events.connect_event(cid, query={"token": "t"})
    )
    APIGatewayWebSocketMessageEventModel.model_validate(aws_events.message_event(cid, "{}"))
    APIGatewayWebSocketDisconnectEventModel.model_validate(aws_events.disconnect_event(cid))
    record = aws_events.stream_record(
        {"pk": "T#room/a", "sk": "M#1", "n": 1}, sequence_number="100"
    )
    DynamoDBStreamModel.model_validate(aws_events.stream_event([record]))
    assert len(cid) == 16
    assert cid.endswith("=")


# -- $connect / $disconnect -----------------------------------------------------------------


def test_connect_without_a_token_admits_a_guest(lam: Lambda) -> None:
    """$connect with no token answers 200 and remembers a guest connection."""
    assert lam.connect("c1") == {"statusCode": 200}
    stored = lam.store.get_connection(ConnectionId("c1"))
    assert stored is not None
    assert stored.user.role is Role.GUEST


def test_connect_with_a_visitor_token_admits_that_visitor(lam: Lambda) -> None:
    """$connect with a valid token remembers the connection as the token's user."""
    user = User(UserId("v_abc"), Role.VISITOR, "Vera")
    token = lam.chat.tokens.issue(user, FUTURE_MS)
    assert lam.connect("c1", token)["statusCode"] == 200
    stored = lam.store.get_connection(ConnectionId("c1"))
    assert stored is not None
    assert stored.user == user


@pytest.mark.parametrize(
    "token",
    [
        pytest.param("garbage", id="garbage"),
        pytest.param(
            TokenIssuer(b"x" * 40, 3600).issue(User(UserId("v_1"), Role.VISITOR), FUTURE_MS),
            id="another secret",
        ),
        pytest.param(
            TokenIssuer(SECRET, 1).issue(User(UserId("v_1"), Role.VISITOR), FUTURE_MS - 5000),
            id="expired",
        ),
        pytest.param(
            TokenIssuer(SECRET, 3600).issue(User(UserId("o_gone"), Role.OPERATOR), FUTURE_MS),
            id="revoked operator",
        ),
    ],
)
def test_connect_with_a_bad_token_is_refused_with_401(lam: Lambda, token: str) -> None:
    """A bad, forged, expired or revoked token refuses the handshake with 401 and no connection
    is remembered."""
    response = lam.connect("c1", token)
    assert response["statusCode"] == 401
    assert lam.store.get_connection(ConnectionId("c1")) is None


def test_connect_from_an_origin_not_allowed_is_refused_with_403(
    lam: Lambda, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ALLOWED_ORIGINS set, a browser from another origin is refused; others get in."""
    monkeypatch.setenv("ALLOWED_ORIGINS", "https://good.example, https://also.example")
    evil = lam.connect("c1", headers=[("Origin", "https://evil.example")])
    good = lam.connect("c2", headers=[("Origin", "https://also.example")])
    no_origin = lam.connect("c3")
    assert evil["statusCode"] == 403
    assert good["statusCode"] == 200
    assert no_origin["statusCode"] == 200
    assert lam.store.get_connection(ConnectionId("c1")) is None


def test_disconnect_forgets_the_connection(lam: Lambda) -> None:
    """$disconnect answers 200 and the connection and its subscriptions are gone."""
    lam.connect("c1")
    lam.act("c1", action="subscribe", topic="room/a")
    response = disconnect.handler(aws_events.disconnect_event("c1"), None)
    assert response["statusCode"] == 200
    assert lam.store.get_connection(ConnectionId("c1")) is None
    assert lam.store.filters_of(ConnectionId("c1")) == []


def _operator_token(lam: Lambda, name: str) -> str:
    _, token = lam.chat.desk.add_operator(name, FUTURE_MS)
    return token


def _statuses(lam: Lambda) -> list[tuple[tuple[ConnectionId, ...], int]]:
    return [
        (p.connection_ids, p.frame["operatorsOnline"]) for p in lam.push.frames_of_type("operators")
    ]


def test_connect_and_disconnect_announce_operators_to_the_followers(lam: Lambda) -> None:
    """$connect of an operator's first connection and $disconnect of their last each push
    operators to the followers of $sys/operators; the connections between push nothing."""
    lam.connect("follower")
    lam.act("follower", action="subscribe", topic="$sys/operators")
    token = _operator_token(lam, "Olga")
    assert lam.connect("o1", token)["statusCode"] == 200
    assert lam.connect("o2", token)["statusCode"] == 200
    for cid in ("o1", "o2"):
        assert disconnect.handler(aws_events.disconnect_event(cid), None)["statusCode"] == 200
    assert _statuses(lam) == [(("follower",), 1), (("follower",), 0)]


# -- message routes -------------------------------------------------------------------------


def test_an_action_is_answered_in_the_route_response(lam: Lambda) -> None:
    """A frame's direct reply is the route response body, with status 200."""
    lam.connect("c1")
    response = lam.frame("c1", json.dumps({"action": "ping", "ref": "p1"}), route_key="ping")
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"type": "pong", "ts": FUTURE_MS, "ref": "p1"}


def test_a_binary_frame_is_answered_with_bad_request(lam: Lambda) -> None:
    """A base64-encoded (binary) frame gets a bad_request error frame, status 200."""
    lam.connect("c1")
    response = lam.frame("c1", "eyJhY3Rpb24iOiJwaW5nIn0=", is_base64=True)
    assert response["statusCode"] == 200
    reply = json.loads(response["body"])
    assert reply["type"] == "error"
    assert reply["code"] == "bad_request"


@pytest.mark.parametrize("body", ["{not json", "[]", "", None])
def test_a_malformed_frame_gets_an_error_frame_and_status_200(
    lam: Lambda, body: str | None
) -> None:
    """Bad JSON never fails the invocation: the sender gets a bad_request frame, status 200."""
    lam.connect("c1")
    response = lam.frame("c1", body)
    assert response["statusCode"] == 200
    reply = json.loads(response["body"])
    assert (reply["type"], reply["code"]) == ("error", "bad_request")
    assert "ref" not in reply


def test_an_error_frame_echoes_the_ref_and_action_it_answers(lam: Lambda) -> None:
    """A refused frame's error carries its ref and its action, so the client can match it."""
    lam.connect("c1")
    reply = lam.act("c1", action="send", topic="room/a", ref="r-9")
    assert reply["type"] == "error"
    assert reply["code"] == "bad_request"
    assert reply["ref"] == "r-9"
    assert reply["action"] == "send"


def test_an_unknown_action_gets_unknown_action(lam: Lambda) -> None:
    """An action the protocol lacks is answered unknown_action without echoing it as action."""
    lam.connect("c1")
    reply = lam.act("c1", action="dance", ref="r")
    assert reply["code"] == "unknown_action"
    assert "action" not in reply


def test_a_frame_from_an_unknown_connection_is_unauthorized(lam: Lambda) -> None:
    """A connection the store does not know is told unauthorized (reconnect)."""
    assert lam.act("ghost", action="ping")["code"] == "unauthorized"


def test_a_busy_store_is_answered_unavailable_with_retry_after(lam: Lambda) -> None:
    """When the store is locked past its busy timeout, the sender gets unavailable and a
    retryAfter, not an internal error."""
    lam.visitor("c1", "Vera")
    blocker = sqlite3.connect(str(lam.db_path), isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        reply = lam.act("c1", action="send", topic="room/a", text="hi", clientMsgId="m1", ref="s")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert reply["type"] == "error"
    assert reply["code"] == "unavailable"
    assert reply["retryAfter"] > 0
    assert reply["ref"] == "s"
    assert lam.messages("room/a") == []


def test_a_send_through_the_handler_is_stored_and_acknowledged(lam: Lambda) -> None:
    """send via the message route stores the message and acks it in the route response."""
    lam.visitor("c1", "Vera")
    ack = lam.act("c1", action="send", topic="room/a", text="hi", clientMsgId="m1")
    assert ack["type"] == "ack"
    assert ack["seq"] == 1
    assert [m.text for m in lam.messages("room/a")] == ["hi"]


# -- the stream (fan-out) handler -----------------------------------------------------------


def _record(msg: Message, number: str) -> dict[str, Any]:
    return aws_events.stream_record(message_item(msg), sequence_number=number)


def test_the_stream_handler_pushes_each_new_message_to_its_subscribers(lam: Lambda) -> None:
    """An INSERT of a message is pushed as a message frame to the topic's subscribers."""
    lam.connect("reader")
    lam.act("reader", action="subscribe", topic="room/a")
    lam.visitor("writer", "Wes")
    lam.act("writer", action="send", topic="room/a", text="hello", clientMsgId="m1")
    (msg,) = lam.messages("room/a")
    lam.push.posts.clear()

    response = stream.handler(aws_events.stream_event([_record(msg, "1000")]), None)

    assert response == {"batchItemFailures": []}
    (post,) = lam.push.frames_of_type("message")
    assert post.connection_ids == ("reader",)
    assert post.frame["text"] == "hello"
    assert post.frame["seq"] == 1


def test_the_stream_handler_reports_only_the_failing_record(lam: Lambda) -> None:
    """When one record's recipients cannot be reached, batchItemFailures names that record's
    SequenceNumber alone, and the other record is delivered."""
    lam.connect("fine")
    lam.act("fine", action="subscribe", topic="room/a")
    lam.connect("unreachable")
    lam.act("unreachable", action="subscribe", topic="room/b")
    lam.visitor("writer", "Wes")
    lam.act("writer", action="send", topic="room/a", text="to a", clientMsgId="m1")
    lam.act("writer", action="send", topic="room/b", text="to b", clientMsgId="m2")
    (to_a,), (to_b,) = lam.messages("room/a"), lam.messages("room/b")
    lam.push.failed.add("unreachable")
    lam.push.posts.clear()

    event = aws_events.stream_event([_record(to_a, "111"), _record(to_b, "222")])
    response = stream.handler(event, None)

    assert response == {"batchItemFailures": [{"itemIdentifier": "222"}]}
    delivered = [p for p in lam.push.frames_of_type("message") if p.connection_ids == ("fine",)]
    assert [p.frame["text"] for p in delivered] == ["to a"]


def test_records_after_a_failed_one_wait_for_the_retry(lam: Lambda) -> None:
    """Lambda retries from the lowest failed record, so the records after it are reported with
    it and nothing before it is. The batch goes out in one write per connection, so a later
    record's frame may already have reached its other recipients: the retry sends it again and
    clients drop the repeat by seq."""
    lam.connect("fine")
    lam.act("fine", action="subscribe", topic="room/a")
    lam.connect("unreachable")
    lam.act("unreachable", action="subscribe", topic="room/b")
    lam.visitor("writer", "Wes")
    lam.act("writer", action="send", topic="room/a", text="first", clientMsgId="m1")
    lam.act("writer", action="send", topic="room/b", text="to b", clientMsgId="m2")
    lam.act("writer", action="send", topic="room/a", text="after", clientMsgId="m3")
    first, after = lam.messages("room/a")
    (to_b,) = lam.messages("room/b")
    lam.push.failed.add("unreachable")
    lam.push.posts.clear()

    event = aws_events.stream_event(
        [_record(first, "100"), _record(to_b, "200"), _record(after, "300")]
    )
    response = stream.handler(event, None)

    assert response == {"batchItemFailures": [{"itemIdentifier": "200"}, {"itemIdentifier": "300"}]}
    to_fine = [p.frame["seq"] for p in lam.push.frames_of_type("message")
               if "fine" in p.connection_ids]  # fmt: skip
    assert to_fine == [1, 2]  # seq 2 ("after") comes again with the retry


def test_a_batch_is_one_lookup_per_topic_and_one_write_per_connection(lam: Lambda) -> None:
    """Proposal 2 of docs/benchmarks.md: a stream batch of three messages to one room and one
    to another reads each topic's subscribers once, and each connection gets all of its frames
    in one post, in seq order."""
    lam.connect("both")
    lam.act("both", action="subscribe", topic="room/a")
    lam.act("both", action="subscribe", topic="room/b")
    lam.connect("only-a")
    lam.act("only-a", action="subscribe", topic="room/a")
    lam.visitor("writer", "Wes")
    for n, topic in enumerate(("room/a", "room/b", "room/a", "room/a")):
        lam.act("writer", action="send", topic=topic, text=f"m{n}", clientMsgId=f"c{n}")
    in_a, in_b = lam.messages("room/a"), lam.messages("room/b")
    order = [in_a[0], in_b[0], in_a[1], in_a[2]]
    lookups: list[str] = []
    real = lam.store.subscriber_ids

    def counted(topic_filter: Any) -> Any:
        lookups.append(topic_filter)
        return real(topic_filter)

    batches: list[dict[ConnectionId, list[dict[str, Any]]]] = []

    def record_batch(frames: Any, deliveries: Any) -> FramesOutcome:
        batches.append({c: [json.loads(frames[i]) for i in w] for c, w in deliveries.items()})
        return FramesOutcome()

    lam.store.subscriber_ids = counted  # type: ignore[method-assign]
    lam.push.post_frames = record_batch  # type: ignore[method-assign]
    event = aws_events.stream_event([_record(m, str(100 + i)) for i, m in enumerate(order)])

    assert stream.handler(event, None) == {"batchItemFailures": []}

    assert sorted(lookups) == ["room/a", "room/b"]
    (batch,) = batches
    assert [(f["topic"], f["seq"]) for f in batch[ConnectionId("both")]] == [
        ("room/a", 1), ("room/b", 1), ("room/a", 2), ("room/a", 3)
    ]  # fmt: skip
    assert [f["seq"] for f in batch[ConnectionId("only-a")]] == [1, 2, 3]


def test_a_retried_batch_is_delivered_once_the_recipient_is_back(lam: Lambda) -> None:
    """The first failure belongs to one invocation only: the retried batch, once the recipient
    is reachable again, is delivered and nothing is reported."""
    lam.connect("flaky")
    lam.act("flaky", action="subscribe", topic="room/b")
    lam.visitor("writer", "Wes")
    lam.act("writer", action="send", topic="room/b", text="one", clientMsgId="m1")
    lam.act("writer", action="send", topic="room/b", text="two", clientMsgId="m2")
    one, two = lam.messages("room/b")
    event = aws_events.stream_event([_record(one, "1"), _record(two, "2")])

    def run() -> dict[str, Any]:
        return dict(stream.handler(event, None))

    lam.push.failed.add("flaky")
    assert run() == {"batchItemFailures": [{"itemIdentifier": "1"}, {"itemIdentifier": "2"}]}
    lam.push.failed.clear()
    lam.push.posts.clear()
    assert run() == {"batchItemFailures": []}
    assert [p.frame["text"] for p in lam.push.frames_of_type("message")] == ["one", "two"]


def test_a_batch_that_fails_entirely_is_reported_record_by_record(lam: Lambda) -> None:
    """When every record fails, each is listed in batchItemFailures rather than the invocation
    failing as a whole."""
    lam.connect("unreachable")
    lam.act("unreachable", action="subscribe", topic="room/b")
    lam.visitor("writer", "Wes")
    lam.act("writer", action="send", topic="room/b", text="one", clientMsgId="m1")
    lam.act("writer", action="send", topic="room/b", text="two", clientMsgId="m2")
    one, two = lam.messages("room/b")
    lam.push.failed.add("unreachable")

    response = stream.handler(aws_events.stream_event([_record(one, "1"), _record(two, "2")]), None)

    assert response == {"batchItemFailures": [{"itemIdentifier": "1"}, {"itemIdentifier": "2"}]}


def test_the_stream_handler_pushes_edits_and_deletes_from_modify_records(lam: Lambda) -> None:
    """A MODIFY of a message item that the store rewrote (the UpdateItem of an edit or a
    delete) is pushed as ``edited`` or ``deleted``, from the record alone. DynamoDB Streams
    reports an UpdateItem as MODIFY with the item's new image ("Change data capture for
    DynamoDB Streams", StreamViewType NEW_IMAGE)."""
    lam.connect("reader")
    lam.act("reader", action="subscribe", topic="room/a")
    lam.visitor("writer", "Wes")
    lam.act("writer", action="send", topic="room/a", text="hello", clientMsgId="m1")
    (msg,) = lam.messages("room/a")
    lam.push.posts.clear()
    edited = replace(msg, text="hello!", edited_at=msg.ts + 5)
    deleted = replace(msg, text="", deleted=True)
    records = [
        aws_events.stream_record(message_item(m), sequence_number=n, event_name="MODIFY")
        for m, n in ((edited, "1"), (deleted, "2"))
    ]

    response = stream.handler(aws_events.stream_event(records), None)

    assert response == {"batchItemFailures": []}
    assert [p.frame for p in lam.push.posts] == [
        {
            "type": "edited",
            "topic": "room/a",
            "id": msg.id,
            "seq": 1,
            "text": "hello!",
            "editedAt": msg.ts + 5,
        },
        {"type": "deleted", "topic": "room/a", "id": msg.id, "seq": 1},
    ]
    assert all(p.connection_ids == ("reader",) for p in lam.push.posts)


def test_the_stream_handler_skips_records_that_are_not_new_messages(lam: Lambda) -> None:
    """REMOVE records, items that are not messages and a MODIFY that neither edits nor deletes
    are acknowledged and not pushed."""
    lam.connect("reader")
    lam.act("reader", action="subscribe", topic="room/a")
    lam.visitor("writer", "Wes")
    lam.act("writer", action="send", topic="room/a", text="hello", clientMsgId="m1")
    (msg,) = lam.messages("room/a")
    lam.push.posts.clear()
    other = aws_events.stream_record(
        {"pk": "C#c1", "sk": "C#c1", "kind": "conn"}, sequence_number="1"
    )
    modify = aws_events.stream_record(message_item(msg), sequence_number="2", event_name="MODIFY")
    insert = _record(msg, "3")

    response = stream.handler(aws_events.stream_event([other, modify, insert]), None)

    assert response == {"batchItemFailures": []}
    assert len(lam.push.frames_of_type("message")) == 1


def _fan_out_finding_gone(lam: Lambda, gone: str, *, sequence: str) -> Any:
    """A message to room/a, fanned out by the stream handler while ``gone`` answers 410."""
    lam.visitor("writer", "Wes")
    lam.act("writer", action="send", topic="room/a", text="hello", clientMsgId="m1")
    (msg,) = lam.messages("room/a")
    lam.push.gone.add(gone)
    return stream.handler(aws_events.stream_event([_record(msg, sequence)]), None)


def test_the_stream_handler_forgets_connections_found_gone(lam: Lambda) -> None:
    """A subscriber whose post answers 410 is forgotten by the fan-out, and the record succeeds."""
    lam.connect("dead")
    lam.act("dead", action="subscribe", topic="room/a")

    response = _fan_out_finding_gone(lam, "dead", sequence="5")

    assert response == {"batchItemFailures": []}
    assert lam.store.get_connection(ConnectionId("dead")) is None


def test_the_stream_handler_announces_an_operator_it_found_gone(lam: Lambda) -> None:
    """An operator whose connection answers 410 to the fan-out is forgotten, and the fan-out
    function tells the followers that no operator is online."""
    lam.connect("follower")
    lam.act("follower", action="subscribe", topic="$sys/operators")
    assert lam.connect("o1", _operator_token(lam, "Olga"))["statusCode"] == 200
    lam.act("o1", action="subscribe", topic="room/a")

    response = _fan_out_finding_gone(lam, "o1", sequence="7")

    assert response == {"batchItemFailures": []}
    assert lam.store.get_connection(ConnectionId("o1")) is None
    assert _statuses(lam) == [(("follower",), 1), (("follower",), 0)]
