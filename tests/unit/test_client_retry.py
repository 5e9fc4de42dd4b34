"""The Python client's retry of a refused send (``hubbub.client``): it honours ``retryAfter``,
keeps the same ``clientMsgId``, stops at a total deadline rather than after a count, and then
raises a typed error naming the message; on a fake clock and a scripted server, so no test
waits for real."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from hubbub.client import ClientError, HubbubClient, SendRetryExhausted
from hubbub.client.retry import RetryPolicy, wait_before_retry

Frame = dict[str, Any]
ACK: Frame = {"type": "ack", "seq": 1}


def refused(code: str = "rate_limited", retry_after: Any = None) -> Frame:
    frame: Frame = {"type": "error", "code": code, "message": "not now"}
    if retry_after is not None:
        frame["retryAfter"] = retry_after
    return frame


# -- the decision ---------------------------------------------------------------------------------
POLICY = RetryPolicy(deadline_s=60)


@pytest.mark.parametrize(
    ("frame", "refusals", "elapsed", "policy", "wait"),
    [
        (refused(retry_after=2.5), 1, 0.0, POLICY, 2.5),
        (refused(retry_after=2.5), 40, 50.0, POLICY, 2.5),  # no count limit by default
        (refused("unavailable", 1), 1, 0.0, POLICY, 1.0),
        (refused(retry_after=0), 1, 0.0, POLICY, 0.0),
        (refused(retry_after=10), 3, 50.0, POLICY, 10.0),  # ends exactly at the deadline
        (refused(retry_after=10), 3, 50.5, POLICY, None),  # would start past it
        (refused(retry_after=120), 1, 0.0, POLICY, None),  # longer than the whole deadline
        (refused(), 1, 0.0, POLICY, 0.5),  # no retryAfter: a short pause, doubling
        (refused(), 3, 0.0, POLICY, 2.0),
        (refused(), 30, 0.0, POLICY, 8.0),  # ... up to a ceiling
        (refused(retry_after=-1), 1, 0.0, POLICY, 0.5),  # nonsense is ignored
        (refused(retry_after="soon"), 2, 0.0, POLICY, 1.0),
        (refused(retry_after=True), 1, 0.0, POLICY, 0.5),
        (refused(retry_after=float("inf")), 1, 0.0, POLICY, 0.5),
        (refused("forbidden", 1), 1, 0.0, POLICY, None),  # not retried at all
        (refused(retry_after=1), 1, 0.0, RetryPolicy(60, max_attempts=1), None),
        (refused(retry_after=1), 2, 0.0, RetryPolicy(60, max_attempts=3), 1.0),
        (refused(retry_after=1), 3, 0.0, RetryPolicy(60, max_attempts=3), None),
        (refused(retry_after=1), 1, 0.0, RetryPolicy(0), None),
    ],
)
def test_wait_before_retry(
    frame: Frame, refusals: int, elapsed: float, policy: RetryPolicy, wait: float | None
) -> None:
    assert wait_before_retry(frame, refusals, elapsed, policy) == wait


@pytest.mark.parametrize(
    "kwargs", [{"deadline_s": -1}, {"deadline_s": float("nan")}, {"max_attempts": 0}]
)
def test_a_nonsensical_policy_is_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        RetryPolicy(**kwargs)


# -- the client on a scripted server -------------------------------------------------------------
class ScriptedServer:
    """A WebSocket whose server answers each frame sent with the next reply of its script."""

    def __init__(self, replies: list[Frame]) -> None:
        self.replies = list(replies)
        self.sent: list[Frame] = []
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue()

    async def send(self, text: str) -> None:
        frame = json.loads(text)
        self.sent.append(frame)
        self._inbox.put_nowait(json.dumps({**self.replies.pop(0), "ref": frame["ref"]}))

    def __aiter__(self) -> ScriptedServer:
        return self

    async def __anext__(self) -> str:
        item = await self._inbox.get()
        if item is None:
            raise StopAsyncIteration
        return item

    async def close(self) -> None:
        self._inbox.put_nowait(None)


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


async def _client(
    replies: list[Frame], **kwargs: Any
) -> tuple[HubbubClient, ScriptedServer, FakeTime]:
    server, fake = ScriptedServer(replies), FakeTime()
    client = HubbubClient(server, clock=fake.clock, sleep=fake.sleep, **kwargs)  # type: ignore[arg-type]
    return client, server, fake


async def test_a_send_outlasts_many_refusals_by_waiting_what_the_server_says() -> None:
    """Ten refusals (twice what the client used to allow) within the deadline: the message
    gets through, each retry after the server's ``retryAfter``, all with one ``clientMsgId``."""
    client, server, fake = await _client([refused(retry_after=2.5)] * 10 + [ACK])
    assert await client.send("room/lobby", "hello", "cm-1") == {**ACK, "ref": "r11"}
    assert fake.waits == [2.5] * 10
    assert [f["clientMsgId"] for f in server.sent] == ["cm-1"] * 11
    assert {f["text"] for f in server.sent} == {"hello"}
    await client.close()


async def test_past_the_deadline_the_caller_gets_a_typed_error_naming_the_message() -> None:
    """Refused for good: the client stops when the next retry would start past the deadline
    (60 s by default) and raises SendRetryExhausted with the id to send it again with."""
    client, server, fake = await _client([refused(retry_after=7)] * 20)
    with pytest.raises(SendRetryExhausted) as gave_up:
        await client.send("room/lobby", "hello")
    error = gave_up.value
    assert fake.waits == [7.0] * 8  # 56 s waited; a 9th wait would end at 63 s
    assert len(server.sent) == 9 == error.attempts
    assert error.client_msg_id == server.sent[0]["clientMsgId"]
    assert (error.code, error.elapsed_s) == ("rate_limited", 56.0)
    assert isinstance(error, ClientError)  # callers catching ClientError still do
    assert error.client_msg_id in str(error)
    await client.close()


async def test_the_deadline_is_configurable_per_client_and_per_send() -> None:
    client, _, fake = await _client([refused(retry_after=1)] * 20, send_deadline_s=3)
    with pytest.raises(SendRetryExhausted):
        await client.send("room/lobby", "hi")
    assert fake.waits == [1.0, 1.0, 1.0]
    with pytest.raises(SendRetryExhausted):
        await client.send("room/lobby", "hi", deadline_s=5)
    assert fake.waits == [1.0] * 8
    await client.close()


async def test_an_error_that_is_not_retried_raises_at_once() -> None:
    client, server, fake = await _client([refused("forbidden", 1)])
    with pytest.raises(ClientError) as caught:
        await client.send("room/lobby", "hi")
    assert not isinstance(caught.value, SendRetryExhausted)
    assert (caught.value.code, len(server.sent), fake.waits) == ("forbidden", 1, [])
    await client.close()


async def test_attempts_still_caps_the_sends() -> None:
    client, _, fake = await _client([refused("unavailable", 1)] * 3)
    with pytest.raises(SendRetryExhausted) as gave_up:
        await client.send("room/lobby", "hi", attempts=1)
    assert (gave_up.value.code, gave_up.value.attempts, fake.waits) == ("unavailable", 1, [])
    await client.close()
