"""The chat service (``hubbub.chat.service.Chat``) on the real SQLite store and a recording Push."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest

from hubbub.chat.settings import ChatSettings
from hubbub.ids import ConnectionId, TopicFilter
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.events import encode
from hubbub.protocol.limits import DEFAULT_LIMITS, Limits
from hubbub.store.port import Message, Role, User
from tests.unit.chatworld import MESSAGE_FIELDS, World, world_in
from tests.unit.fakes import FUTURE_MS


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with world_in(tmp_path) as w:
        yield w


@pytest.fixture
def tight(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[World]:
    """A world with the Limits the test passes as its indirect parameter."""
    limits: Limits = request.param
    with world_in(tmp_path, ChatSettings(limits=limits)) as w:
        yield w


# -- identity -------------------------------------------------------------------------------


def test_a_guest_that_registers_becomes_a_visitor_with_a_token_naming_it(world: World) -> None:
    """register turns a guest into a visitor with a fresh id, and its token verifies to that
    visitor."""
    world.connect("c1")
    welcome = world.reply("c1", action="register", nickname="  Vera ")
    assert welcome["type"] == "welcome"
    user = welcome["user"]
    assert user["role"] == "visitor"
    assert user["nickname"] == "Vera"
    assert user["id"].startswith("v_")
    verified = world.chat.authenticate(welcome["token"])
    assert verified == User(user["id"], Role.VISITOR, "Vera")


def test_registering_again_keeps_the_id_and_changes_the_nickname(world: World) -> None:
    """A visitor that registers again keeps its id; only the nickname changes."""
    first = world.visitor("c1", "Vera")
    again = world.reply("c1", action="register", nickname="Vee")["user"]
    assert again["id"] == first["id"]
    assert again["nickname"] == "Vee"
    assert world.reply("c1", action="hello")["user"] == again


def test_a_blank_nickname_is_refused(world: World) -> None:
    """A nickname of spaces only is refused with bad_request and the guest stays a guest."""
    world.connect("c1")
    assert world.refusal("c1", action="register", nickname="   ").code is ErrorCode.BAD_REQUEST
    assert world.reply("c1", action="hello")["user"]["role"] == "guest"


def test_a_connection_without_a_token_is_a_guest(world: World) -> None:
    """authenticate(None) means guest; connect then records a guest user for the connection."""
    assert world.chat.authenticate(None) is None
    user = world.chat.connect(ConnectionId("c1"), None)
    assert user.role is Role.GUEST
    assert world.store.get_connection(ConnectionId("c1")) is not None


def test_a_bad_token_is_unauthorized(world: World) -> None:
    """authenticate refuses a token that does not verify with unauthorized."""
    with pytest.raises(ProtocolError) as caught:
        world.chat.authenticate("not-a-token")
    assert caught.value.code is ErrorCode.UNAUTHORIZED


def test_hello_tells_the_connection_who_it_is_and_the_limits(world: World) -> None:
    """hello answers with the connection id, the user and the public limits."""
    world.connect("c1")
    hello = world.reply("c1", action="hello")
    assert hello["type"] == "hello"
    assert hello["connectionId"] == "c1"
    assert hello["user"]["role"] == "guest"
    assert hello["limits"] == {**DEFAULT_LIMITS.public(), "pingIntervalMs": 300_000}
    assert hello["limits"]["maxTextChars"] == 4000


def test_ping_answers_with_the_clock_time(world: World) -> None:
    """ping answers pong with the service clock's time."""
    world.connect("c1")
    world.clock.advance(1234)
    assert world.reply("c1", action="ping") == {"type": "pong", "ts": FUTURE_MS + 1234}


def test_a_direct_reply_echoes_the_frames_ref(world: World) -> None:
    """A frame that carries ref gets it back on its direct reply."""
    world.connect("c1")
    assert world.reply("c1", action="ping", ref="abc")["ref"] == "abc"
    assert "ref" not in world.reply("c1", action="ping")


def test_an_unknown_connection_is_unauthorized(world: World) -> None:
    """Any action from a connection the store does not know is refused with unauthorized."""
    assert world.refusal("ghost", action="ping").code is ErrorCode.UNAUTHORIZED


def test_a_disconnected_connection_is_unknown_afterwards(world: World) -> None:
    """After disconnect, the connection's actions are unauthorized and its subscriptions gone."""
    world.connect("c1")
    world.reply("c1", action="subscribe", topic="room/lobby")
    world.chat.disconnect(ConnectionId("c1"))
    assert world.refusal("c1", action="ping").code is ErrorCode.UNAUTHORIZED
    assert world.store.subscribers(TopicFilter("room/lobby")) == []


# -- send -----------------------------------------------------------------------------------


def test_sends_are_acknowledged_with_gapless_per_topic_seqs(world: World) -> None:
    """Each send to a topic gets the next seq, 1, 2, 3, counted per topic."""
    world.visitor("c1")
    seqs = [world.send("c1", "room/a", f"m{i}", f"a{i}")["seq"] for i in range(3)]
    other = world.send("c1", "room/b", "x", "b0")
    assert seqs == [1, 2, 3]
    assert other["seq"] == 1


def test_an_ack_describes_the_stored_message(world: World) -> None:
    """The ack carries the clientMsgId, topic, id, seq and ts of the stored message."""
    world.visitor("c1")
    world.clock.advance(5)
    ack = world.send("c1", "room/a", "hello", "c-1")
    (stored,) = world.stored("room/a")
    assert ack == {
        "type": "ack",
        "clientMsgId": "c-1",
        "topic": "room/a",
        "id": stored.id,
        "seq": 1,
        "ts": FUTURE_MS + 5,
        "duplicate": False,
    }
    assert stored.text == "hello"
    assert stored.nickname == "Vera"


def test_a_resend_with_the_same_client_msg_id_is_a_duplicate_stored_once(world: World) -> None:
    """A resend with the same clientMsgId is acknowledged as a duplicate and stored once."""
    world.visitor("c1")
    first = world.send("c1", "room/a", "hello", "same")
    world.clock.advance(1000)
    again = world.send("c1", "room/a", "hello again", "same")
    assert again["duplicate"] is True
    assert {k: again[k] for k in ("id", "seq", "ts")} == {k: first[k] for k in ("id", "seq", "ts")}
    assert [m.text for m in world.stored("room/a")] == ["hello"]


def test_the_same_client_msg_id_from_another_sender_is_a_new_message(world: World) -> None:
    """Deduplication is per sender: two visitors using one clientMsgId store two messages."""
    world.visitor("c1", "Ann")
    world.visitor("c2", "Bob")
    assert world.send("c1", "room/a", "a", "same")["duplicate"] is False
    assert world.send("c2", "room/a", "b", "same")["duplicate"] is False
    assert [m.seq for m in world.stored("room/a")] == [1, 2]


def test_a_guest_may_not_send(world: World) -> None:
    """A guest's send is refused with forbidden and nothing is stored."""
    world.connect("c1")
    error = world.refusal("c1", action="send", topic="room/a", text="hi", clientMsgId="c")
    assert error.code is ErrorCode.FORBIDDEN
    assert world.stored("room/a") == []


def test_a_send_to_a_malformed_topic_is_a_bad_request(world: World) -> None:
    """A send whose topic breaks the naming rules is refused with bad_request."""
    world.visitor("c1")
    error = world.refusal("c1", action="send", topic="room/a/b", text="hi", clientMsgId="c")
    assert error.code is ErrorCode.BAD_REQUEST


def test_sending_faster_than_the_send_rate_is_rate_limited(tmp_path: Path) -> None:
    """Past its send burst a connection is refused with rate_limited and a retryAfter, and the
    refused message is not stored."""
    with world_in(tmp_path, ChatSettings(send_per_s=1.0, send_burst=2)) as w:
        w.visitor("c1")
        w.send("c1", "room/a", "one", "1")
        w.send("c1", "room/a", "two", "2")
        error = w.refusal("c1", action="send", topic="room/a", text="three", clientMsgId="3")
        assert error.code is ErrorCode.RATE_LIMITED
        assert error.retry_after is not None
        assert error.retry_after > 0
        assert [m.text for m in w.stored("room/a")] == ["one", "two"]
        w.clock.advance(1000)
        assert w.send("c1", "room/a", "three", "3")["seq"] == 3


# -- subscribe ------------------------------------------------------------------------------


def test_subscribing_to_a_topic_reports_its_last_seq(world: World) -> None:
    """subscribed carries the topic's lastSeq so a client knows where it stands."""
    world.visitor("c1")
    world.send("c1", "room/a", "one", "1")
    world.send("c1", "room/a", "two", "2")
    world.connect("c2")
    reply = world.reply("c2", action="subscribe", topic="room/a")
    assert reply["type"] == "subscribed"
    assert reply["topic"] == "room/a"
    assert reply["lastSeq"] == 2
    assert "messages" not in reply


def test_subscribing_with_a_wildcard_has_no_last_seq(world: World) -> None:
    """A wildcard subscription is acknowledged without lastSeq: it names no single topic."""
    world.connect("c1")
    reply = world.reply("c1", action="subscribe", topic="room/+")
    assert reply == {"type": "subscribed", "topic": "room/+"}


def test_subscribing_with_since_returns_what_was_missed(world: World) -> None:
    """subscribe with since returns the messages after that seq, oldest first."""
    world.visitor("c1")
    for i in range(1, 5):
        world.send("c1", "room/a", f"m{i}", f"c{i}")
    world.connect("c2")
    reply = world.reply("c2", action="subscribe", topic="room/a", since=2)
    assert [m["seq"] for m in reply["messages"]] == [3, 4]
    assert [m["text"] for m in reply["messages"]] == ["m3", "m4"]
    assert set(reply["messages"][0]) == MESSAGE_FIELDS
    assert reply["hasMore"] is False


@pytest.mark.parametrize("tight", [Limits(resume_max_messages=2)], indirect=True)
def test_a_resume_over_its_message_limit_says_there_is_more(tight: World) -> None:
    """A resume returns at most resume_max_messages, the oldest first, with hasMore."""
    tight.visitor("c1")
    for i in range(1, 6):
        tight.send("c1", "room/a", f"m{i}", f"c{i}")
    tight.connect("c2")
    reply = tight.reply("c2", action="subscribe", topic="room/a", since=1)
    assert [m["seq"] for m in reply["messages"]] == [2, 3]
    assert reply["hasMore"] is True


@pytest.mark.parametrize(
    ("topic", "code"),
    [
        ("desk/+", ErrorCode.FORBIDDEN),
        ("$sys/#", ErrorCode.FORBIDDEN),
        ("#", ErrorCode.FORBIDDEN),
        ("room/#/x", ErrorCode.BAD_REQUEST),
    ],
)
def test_a_guest_cannot_subscribe_beyond_its_rights(
    world: World, topic: str, code: ErrorCode
) -> None:
    """A guest's subscription to what it may not read is refused and nothing is recorded."""
    world.connect("c1")
    assert world.refusal("c1", action="subscribe", topic=topic).code is code
    assert world.store.filters_of(ConnectionId("c1")) == []


@pytest.mark.parametrize("tight", [Limits(max_subscriptions=2)], indirect=True)
def test_subscriptions_per_connection_are_capped(tight: World) -> None:
    """A connection at max_subscriptions is refused another filter with conflict, but may
    repeat one it has."""
    tight.connect("c1")
    tight.reply("c1", action="subscribe", topic="room/a")
    tight.reply("c1", action="subscribe", topic="room/+")
    assert tight.refusal("c1", action="subscribe", topic="room/b").code is ErrorCode.CONFLICT
    assert tight.reply("c1", action="subscribe", topic="room/a")["type"] == "subscribed"
    assert sorted(tight.store.filters_of(ConnectionId("c1"))) == ["room/+", "room/a"]


def test_unsubscribe_says_whether_something_was_removed(world: World) -> None:
    """unsubscribe removes the filter and reports removed true, then false."""
    world.connect("c1")
    world.reply("c1", action="subscribe", topic="room/a")
    first = world.reply("c1", action="unsubscribe", topic="room/a")
    second = world.reply("c1", action="unsubscribe", topic="room/a")
    assert first == {"type": "unsubscribed", "topic": "room/a", "removed": True}
    assert second["removed"] is False
    assert world.store.subscribers(TopicFilter("room/a")) == []


# -- history --------------------------------------------------------------------------------


@pytest.fixture
def five(world: World) -> World:
    """A world whose room/a holds five messages, m1..m5."""
    world.visitor("c1")
    for i in range(1, 6):
        world.send("c1", "room/a", f"m{i}", f"c{i}")
    return world


def seqs(reply: dict[str, Any]) -> list[int]:
    return [m["seq"] for m in reply["messages"]]


def test_history_returns_the_newest_page_oldest_first(five: World) -> None:
    """history without a bound returns the newest messages, in seq order."""
    reply = five.reply("c1", action="history", topic="room/a", limit=2)
    assert reply["type"] == "history"
    assert reply["topic"] == "room/a"
    assert seqs(reply) == [4, 5]
    assert reply["hasMore"] is True


def test_history_pages_backwards_with_before(five: World) -> None:
    """history before N returns the newest messages under N; the last page has no more."""
    page = five.reply("c1", action="history", topic="room/a", before=4, limit=2)
    last = five.reply("c1", action="history", topic="room/a", before=2, limit=2)
    assert seqs(page) == [2, 3]
    assert page["hasMore"] is True
    assert seqs(last) == [1]
    assert last["hasMore"] is False


def test_history_pages_forwards_with_after(five: World) -> None:
    """history after N returns the oldest messages over N."""
    page = five.reply("c1", action="history", topic="room/a", after=1, limit=3)
    assert seqs(page) == [2, 3, 4]
    assert page["hasMore"] is True


def test_history_defaults_to_a_page_of_fifty(five: World) -> None:
    """history without limit returns up to 50 messages: here all five."""
    assert seqs(five.reply("c1", action="history", topic="room/a")) == [1, 2, 3, 4, 5]


def test_history_with_both_before_and_after_is_a_bad_request(five: World) -> None:
    """Giving both before and after is refused with bad_request."""
    error = five.refusal("c1", action="history", topic="room/a", before=4, after=1)
    assert error.code is ErrorCode.BAD_REQUEST


def test_history_of_a_desk_the_user_does_not_own_is_forbidden(world: World) -> None:
    """A visitor asking another visitor's desk history is refused with forbidden."""
    world.visitor("c1")
    assert world.refusal("c1", action="history", topic="desk/v_x").code is ErrorCode.FORBIDDEN


def test_expired_messages_are_not_returned(tmp_path: Path) -> None:
    """Once a room message is past its retention it is gone from history."""
    with world_in(tmp_path, ChatSettings(room_retention_s=60)) as w:
        w.visitor("c1")
        w.send("c1", "room/a", "old", "c1")
        w.clock.advance(61_000)
        w.send("c1", "room/a", "new", "c2")
        reply = w.reply("c1", action="history", topic="room/a")
        assert [m["text"] for m in reply["messages"]] == ["new"]


# -- the reply budget -----------------------------------------------------------------------

_BUDGET = Limits(reply_budget_bytes=3000)


@pytest.fixture
def budget(tmp_path: Path) -> Iterator[World]:
    """Five messages of 1000 bytes under a 3000-byte reply budget: two fit in one reply."""
    with world_in(tmp_path, ChatSettings(limits=_BUDGET)) as w:
        w.visitor("c1")
        for i in range(1, 6):
            w.send("c1", "room/a", str(i) * 1000, f"c{i}")
        yield w


def test_history_over_the_reply_budget_keeps_the_newest_and_says_there_is_more(
    budget: World,
) -> None:
    """A history page over reply_budget_bytes drops its oldest messages and sets hasMore."""
    reply = budget.reply("c1", action="history", topic="room/a")
    assert seqs(reply) == [4, 5]
    assert reply["hasMore"] is True
    assert len(encode(reply).encode()) <= _BUDGET.reply_budget_bytes


def test_history_after_over_the_budget_keeps_the_oldest(budget: World) -> None:
    """Paging forwards (after) over the budget keeps the messages right after the bound."""
    reply = budget.reply("c1", action="history", topic="room/a", after=0)
    assert seqs(reply) == [1, 2]
    assert reply["hasMore"] is True


def test_a_resume_over_the_budget_keeps_the_oldest_and_says_there_is_more(budget: World) -> None:
    """subscribe since over the budget returns the oldest missed messages and hasMore."""
    budget.connect("c2")
    reply = budget.reply("c2", action="subscribe", topic="room/a", since=0)
    assert seqs(reply) == [1, 2]
    assert reply["hasMore"] is True


@pytest.fixture
def quoted(tmp_path: Path) -> Iterator[World]:
    """Thirty full-length messages whose text JSON has to escape (quotes and newlines), under
    the default 96 KB reply budget."""
    with world_in(tmp_path) as w:
        w.visitor("c1")
        text = 'say "hi"\n' * 400  # 4000 characters, 1200 of them escaped on the wire
        for i in range(1, 31):
            w.send("c1", "room/a", text, f"c{i}")
        yield w


def test_a_history_of_text_json_escapes_still_fits_the_reply_budget(quoted: World) -> None:
    """The history reply, as encoded for the wire, stays within reply_budget_bytes even when
    its texts grow under JSON escaping."""
    reply = quoted.reply("c1", action="history", topic="room/a", limit=100)
    assert reply["hasMore"] is True
    assert len(encode(reply).encode()) <= DEFAULT_LIMITS.reply_budget_bytes


def test_a_resume_of_text_json_escapes_still_fits_the_reply_budget(quoted: World) -> None:
    """The subscribed reply with a backlog, as encoded for the wire, stays within the 96 KB
    that protocol.md promises for a resume."""
    quoted.connect("c2")
    reply = quoted.reply("c2", action="subscribe", topic="room/a", since=0)
    assert reply["hasMore"] is True
    assert len(encode(reply).encode()) <= DEFAULT_LIMITS.reply_budget_bytes


# -- fan-out --------------------------------------------------------------------------------


def _message(world: World, topic: str = "room/lobby") -> Message:
    world.visitor("sender", "Sam")
    world.send("sender", topic, "hello", "c1")
    (message,) = world.stored(topic)
    return message


def test_deliver_pushes_once_per_connection_even_with_overlapping_filters(world: World) -> None:
    """A connection subscribed with room/+ and room/lobby receives a room/lobby message once,
    in a single post_many call for all recipients."""
    world.connect("a")
    world.reply("a", action="subscribe", topic="room/+")
    world.reply("a", action="subscribe", topic="room/lobby")
    world.connect("b")
    world.reply("b", action="subscribe", topic="room/lobby")
    world.connect("c")
    world.reply("c", action="subscribe", topic="room/other")
    message = _message(world)
    world.push.posts.clear()

    report = world.chat.deliver(message)

    assert len(world.push.posts) == 1
    (post,) = world.push.posts
    assert sorted(post.connection_ids) == ["a", "b"]
    assert post.frame["type"] == "message"
    assert post.frame["seq"] == message.seq
    assert post.frame["text"] == "hello"
    assert set(post.frame) == {"type", *MESSAGE_FIELDS}
    assert report.delivered == 2


def test_deliver_sends_one_post_per_message(world: World) -> None:
    """Each delivered message costs exactly one post_many call, whatever the recipient count."""
    for cid in ("a", "b", "c"):
        world.connect(cid)
        world.reply(cid, action="subscribe", topic="room/+")
    world.visitor("sender", "Sam")
    for i in range(3):
        world.send("sender", "room/lobby", f"m{i}", f"c{i}")
    world.push.posts.clear()
    for message in world.stored("room/lobby"):
        world.chat.deliver(message)
    assert [p.frame["seq"] for p in world.push.posts] == [1, 2, 3]
    assert all(sorted(p.connection_ids) == ["a", "b", "c"] for p in world.push.posts)


def test_deliver_with_no_subscribers_posts_nothing(world: World) -> None:
    """A message nobody listens to is not pushed at all."""
    message = _message(world, "room/empty")
    world.push.posts.clear()
    report = world.chat.deliver(message)
    assert world.push.posts == []
    assert report.delivered == 0


def test_deliver_forgets_connections_the_push_reports_gone(world: World) -> None:
    """A connection reported gone (410) is forgotten with its subscriptions; the rest stay."""
    for cid in ("alive", "dead"):
        world.connect(cid)
        world.reply(cid, action="subscribe", topic="room/lobby")
    world.push.gone.add("dead")
    report = world.chat.deliver(_message(world))
    assert report.gone == {"dead"}
    assert world.store.get_connection(ConnectionId("dead")) is None
    assert [s.connection_id for s in world.store.subscribers(TopicFilter("room/lobby"))] == [
        "alive"
    ]
    assert world.store.get_connection(ConnectionId("alive")) is not None


def test_deliver_reports_failed_connections_without_forgetting_them(world: World) -> None:
    """A connection that could not be reached for another reason is reported, not forgotten."""
    world.connect("slow")
    world.reply("slow", action="subscribe", topic="room/lobby")
    world.push.failed.add("slow")
    report = world.chat.deliver(_message(world))
    assert report.failed == {"slow"}
    assert report.delivered == 0
    assert world.store.get_connection(ConnectionId("slow")) is not None


def _counting_writes(world: World, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every write transaction the world's SQLite store opens from now on, one entry each."""
    opened: list[int] = []
    original = world.store._write

    def counted() -> AbstractContextManager[sqlite3.Connection]:
        opened.append(1)
        return original()

    monkeypatch.setattr(world.store, "_write", counted)
    return opened


def test_a_send_commits_its_rate_limit_tokens_with_the_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One write transaction per send on SQLite, the buckets and the message together (the
    limiter's own commit before the append's was a tenth of the send's CPU); a refused send
    writes only its takes, and the next one in the refusal window writes nothing."""
    with world_in(tmp_path, ChatSettings(send_per_s=1.0, send_burst=2)) as w:
        w.visitor("c1")
        w.send("c1", "room/a", "first", "1")  # the store's first sweep is behind us
        opened = _counting_writes(w, monkeypatch)
        w.send("c1", "room/a", "second", "2")
        assert len(opened) == 1
        assert w.refusal("c1", action="send", topic="room/a", text="3", clientMsgId="3").code is (
            ErrorCode.RATE_LIMITED
        )
        assert len(opened) == 2
        again = w.refusal("c1", action="send", topic="room/a", text="4", clientMsgId="4")
        assert again.code is ErrorCode.RATE_LIMITED and again.retry_after is not None
        assert len(opened) == 2
        assert [m.text for m in w.stored("room/a")] == ["first", "second"]
