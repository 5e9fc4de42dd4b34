"""A room's write ceiling (issue 18, item 3) on the chat service: its setting, the order in which
it is taken after the sender's own limit, the WebSocket and REST channels alike, and what it
costs. The flood across environments on both stores is in tests/contract/test_topic_ceiling.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from hubbub.chat.settings import ChatSettings
from hubbub.protocol.errors import ErrorCode, ProtocolError
from tests.unit.chatworld import world_in


@pytest.mark.parametrize(
    ("env", "per_s", "burst"),
    [
        pytest.param({}, 50.0, 100, id="defaults"),
        pytest.param(
            {"TOPIC_SEND_RATE_PER_SECOND": "5", "TOPIC_SEND_BURST": "8"}, 5.0, 8, id="configured"
        ),
        pytest.param(
            {"TOPIC_SEND_RATE_PER_SECOND": "", "TOPIC_SEND_BURST": ""}, 50.0, 100, id="blank"
        ),
    ],
)
def test_the_ceiling_is_a_setting(env: dict[str, str], per_s: float, burst: int) -> None:
    settings = ChatSettings.from_env(env)
    assert (settings.topic_send_per_s, settings.topic_send_burst) == (per_s, burst)


def test_a_ceiling_of_zero_is_refused_at_start() -> None:
    with pytest.raises(ValueError, match="TOPIC_SEND_RATE_PER_SECOND"):
        ChatSettings.from_env({"TOPIC_SEND_RATE_PER_SECOND": "0"})


def test_past_the_rooms_burst_any_sender_is_refused_with_the_wait(tmp_path: Path) -> None:
    """Three users share a room of burst 4: the fifth send is refused whoever sends it, with
    ``retryAfter``, and stores nothing; another room is unaffected; the wait is the room's."""
    settings = ChatSettings(topic_send_per_s=2.0, topic_send_burst=4)
    with world_in(tmp_path, settings) as w:
        for cid, name in (("a", "Ann"), ("b", "Bo"), ("c", "Cy")):
            w.visitor(cid, name)
        for n, cid in enumerate("abca"):
            w.send(cid, "room/hot", f"m{n}", f"{cid}{n}")
        error = w.refusal("b", action="send", topic="room/hot", text="late", clientMsgId="b9")
        assert error.code is ErrorCode.RATE_LIMITED
        assert error.retry_after == 0.5
        assert "room/hot" in error.message
        assert [m.seq for m in w.stored("room/hot")] == [1, 2, 3, 4]
        assert w.send("b", "room/other", "fine", "o1")["seq"] == 1
        w.clock.advance(500)
        assert w.send("b", "room/hot", "late", "b9")["seq"] == 5


def test_a_users_refused_flood_spends_none_of_the_rooms_allowance(tmp_path: Path) -> None:
    """The sender's own bucket is taken first: a user over their limit is refused by it and
    the room keeps its tokens for everyone else."""
    settings = ChatSettings(
        send_per_s=0.01, send_burst=2, topic_send_per_s=0.01, topic_send_burst=5
    )
    with world_in(tmp_path, settings) as w:
        w.visitor("spam", "Spam")
        w.visitor("ok", "Okay")
        outcomes = []
        for n in range(20):
            try:
                w.send("spam", "room/hot", "spam", f"s{n}")
                outcomes.append("ok")
            except ProtocolError as refused:
                outcomes.append(str(refused.code))
        assert outcomes == ["ok", "ok"] + ["rate_limited"] * 18
        # the room has 3 of its 5 tokens left for other senders
        w.send("ok", "room/hot", "one", "k1")
        w.send("ok", "room/hot", "two", "k2")
        w.visitor("third", "Third")
        w.send("third", "room/hot", "three", "t1")
        error = w.refusal("third", action="send", topic="room/hot", text="x", clientMsgId="t2")
        assert error.code is ErrorCode.RATE_LIMITED
