"""One WebSocket connection speaking protocol v1.

Replies are matched to requests by ``ref``, so many requests can be in flight at once; every other
frame (pushed ``message``, ``joined``, ``typing``...) lands in ``events``. Messages are also kept
per topic by ``seq``, which is how a client shows each message once whatever the transport repeats.

``hello()`` also starts the keepalive the server asks for (``hello.limits.pingIntervalMs``): the
gateway closes a connection that sends nothing for its idle timeout (10 minutes on AWS; the
runtime's ``idle_timeout_s`` locally), and only frames count, not WebSocket pings.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection

from hubbub.client.retry import DEFAULT_SEND_DEADLINE_S, RetryPolicy, is_retried, wait_before_retry

__all__ = ["ClientError", "HubbubClient", "SendRetryExhausted"]

Frame = dict[str, Any]


class ClientError(Exception):
    """The server answered a request with an ``error`` frame."""

    def __init__(self, frame: Frame) -> None:
        super().__init__(f"{frame.get('code')}: {frame.get('message')}")
        self.frame = frame
        self.code = str(frame.get("code"))


class SendRetryExhausted(ClientError):
    """The server kept refusing a send (``rate_limited`` or ``unavailable``) until the retry
    deadline or the attempts ran out. Nothing was stored: the message is the caller's to send
    again, with ``client_msg_id`` so it is stored at most once. ``code`` and ``frame`` are the
    last refusal's."""

    def __init__(self, frame: Frame, client_msg_id: str, attempts: int, elapsed_s: float) -> None:
        super().__init__(frame)
        self.client_msg_id = client_msg_id
        self.attempts = attempts
        self.elapsed_s = elapsed_s
        self.args = (
            f"{self.code}: send not accepted after {attempts} attempts in {elapsed_s:.1f} s "
            f"(clientMsgId {client_msg_id})",
        )


class HubbubClient:
    """``send_deadline_s`` bounds how long ``send`` keeps retrying a refused message;
    ``clock`` and ``sleep`` are what it measures and waits with (tests pass fakes)."""

    def __init__(
        self,
        ws: ClientConnection,
        *,
        send_deadline_s: float = DEFAULT_SEND_DEADLINE_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.ws = ws
        self.send_policy = RetryPolicy(send_deadline_s)
        self._clock = clock
        self._sleep = sleep
        self.events: asyncio.Queue[Frame] = asyncio.Queue()
        self.messages: dict[str, dict[int, Frame]] = {}
        self.duplicates = 0
        self._pending: dict[str, asyncio.Future[Frame]] = {}
        self._refs = itertools.count(1)
        self._reader = asyncio.create_task(self._read())
        self.closed = asyncio.Event()
        self._arrived = asyncio.Event()
        self.ping_interval_s: float | None = None
        self._keepalive: asyncio.Task[None] | None = None

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        token: str | None = None,
        open_timeout: float = 10.0,
        send_deadline_s: float = DEFAULT_SEND_DEADLINE_S,
        **kwargs: Any,
    ) -> HubbubClient:
        """Open a connection; ``token`` travels in the handshake's ``Authorization`` header,
        never in the URL, where proxies would log it."""
        if token is not None:
            headers = dict(kwargs.pop("additional_headers", None) or {})
            headers["Authorization"] = f"Bearer {token}"
            kwargs["additional_headers"] = headers
        ws = await websockets.connect(
            url, open_timeout=open_timeout, max_size=2**20, compression=None, **kwargs
        )
        return cls(ws, send_deadline_s=send_deadline_s)

    async def close(self) -> None:
        self.stop_keepalive()
        await self.ws.close()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def __aenter__(self) -> HubbubClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                frame = json.loads(raw)
                ref = frame.get("ref") if isinstance(frame, dict) else None
                future = self._pending.pop(ref, None) if ref is not None else None
                if future is not None and not future.done():
                    future.set_result(frame)
                    continue
                if isinstance(frame, dict) and frame.get("type") == "message":
                    self._remember(frame)
                await self.events.put(frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed.set()
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ConnectionError("connection closed"))

    def _remember(self, frame: Frame) -> bool:
        """Keep a message by (topic, seq); False when it was already there."""
        by_seq = self.messages.setdefault(str(frame["topic"]), {})
        seq = int(frame["seq"])
        if seq in by_seq:
            self.duplicates += 1
            return False
        by_seq[seq] = frame
        self._arrived.set()
        return True

    async def request(self, action: str, *, timeout: float = 30.0, **fields: Any) -> Frame:
        """Send one action and wait for its direct reply. A closed connection raises
        ``ConnectionError``; an ``error`` reply raises ``ClientError``."""
        ref = f"r{next(self._refs)}"
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._pending[ref] = future
        try:
            try:
                await self.ws.send(json.dumps({"action": action, "ref": ref, **fields}))
            except websockets.ConnectionClosed as exc:
                raise ConnectionError("connection closed") from exc
            frame = await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(ref, None)
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()  # retrieved: a close that raced our own cancellation
        if frame.get("type") == "error":
            raise ClientError(frame)
        return frame

    async def send_raw(self, text: str | bytes) -> None:
        await self.ws.send(text)

    async def next_event(
        self, predicate: Callable[[Frame], bool] = lambda f: True, *, timeout: float = 10.0
    ) -> Frame:
        """The next pushed frame that satisfies ``predicate``; others are dropped."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no matching event before the deadline")
            frame = await asyncio.wait_for(self.events.get(), remaining)
            if predicate(frame):
                return frame

    # keepalive ----------------------------------------------------------------------------
    async def hello(self, *, keepalive: bool = True) -> Frame:
        """Who the server says this connection is, and its limits; unless told not to, start
        pinging at the interval they name."""
        reply = await self.request("hello")
        interval_ms = (reply.get("limits") or {}).get("pingIntervalMs")
        if keepalive and isinstance(interval_ms, int) and interval_ms > 0:
            self.start_keepalive(interval_ms / 1000)
        return reply

    def start_keepalive(self, interval_s: float) -> None:
        """Send ``ping`` every ``interval_s`` until the connection closes."""
        self.stop_keepalive()
        self.ping_interval_s = interval_s
        self._keepalive = asyncio.create_task(self._ping_every(interval_s))

    def stop_keepalive(self) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            self._keepalive = None

    async def _ping_every(self, interval_s: float) -> None:
        while True:
            try:
                # the close ends the loop at once; otherwise the interval passes
                await asyncio.wait_for(self.closed.wait(), interval_s)
                return
            except TimeoutError:
                pass
            try:
                await self.request("ping", timeout=interval_s)
            except (ClientError, TimeoutError):
                continue  # a late or refused pong: the next ping tries again
            except ConnectionError:
                return

    # conveniences -------------------------------------------------------------------------
    async def register(self, nickname: str, email: str | None = None) -> Frame:
        fields: dict[str, Any] = {"nickname": nickname}
        if email is not None:
            fields["email"] = email
        return await self.request("register", **fields)

    async def refresh(self) -> Frame:
        """A renewed token for this connection's user: ``{"type": "token", "token",
        "expiresAt"}``."""
        return await self.request("refresh")

    async def subscribe(self, topic: str, since: int | None = None) -> Frame:
        fields: dict[str, Any] = {"topic": topic}
        if since is not None:
            fields["since"] = since
        reply = await self.request("subscribe", **fields)
        for message in reply.get("messages", []):
            self._remember({"type": "message", **message})
        return reply

    async def send(
        self,
        topic: str,
        text: str,
        client_msg_id: str | None = None,
        *,
        deadline_s: float | None = None,
        attempts: int | None = None,
    ) -> Frame:
        """Send once, retrying ``rate_limited``/``unavailable`` after ``retryAfter`` with the same
        ``clientMsgId``, so a retry can never store the message twice, until ``deadline_s``
        (default: the client's ``send_deadline_s``) or ``attempts`` sends in all. Giving up raises
        ``SendRetryExhausted``; any other error reply raises ``ClientError`` at once."""
        policy = RetryPolicy(
            self.send_policy.deadline_s if deadline_s is None else deadline_s, attempts
        )
        cmid = client_msg_id or uuid.uuid4().hex
        started = self._clock()
        refusals = 0
        while True:
            try:
                return await self.request("send", topic=topic, text=text, clientMsgId=cmid)
            except ClientError as exc:
                if not is_retried(exc.frame):
                    raise
                refusals += 1
                elapsed = self._clock() - started
                wait = wait_before_retry(exc.frame, refusals, elapsed, policy)
                if wait is None:
                    raise SendRetryExhausted(exc.frame, cmid, refusals, elapsed) from exc
            await self._sleep(wait)

    async def wait_for_messages(self, topic: str, count: int, *, timeout: float = 10.0) -> None:
        """Until ``count`` distinct messages of ``topic`` have arrived."""
        await self._wait_until(
            lambda: len(self.messages.get(topic, {})) >= count,
            timeout,
            lambda: f"{topic}: {len(self.messages.get(topic, {}))} of {count} messages",
        )

    async def wait_for_seq(self, topic: str, seq: int, *, timeout: float = 10.0) -> Frame:
        """Until the message ``seq`` of ``topic`` has arrived; returns it."""
        await self._wait_until(
            lambda: seq in self.messages.get(topic, {}), timeout, lambda: f"{topic} seq {seq}"
        )
        return self.messages[topic][seq]

    async def _wait_until(
        self, done: Callable[[], bool], timeout: float, what: Callable[[], str]
    ) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{what()} not there before the deadline")
            self._arrived.clear()
            if done():
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
