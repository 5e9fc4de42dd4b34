"""Issue 15, items 1 and 2, attacked the way they were found, on a live ``hubbub serve``:

1. a removed operator kept operator rights on an open WebSocket until it closed;
2. limits were per connection and WebSocket-only: one token over 5 connections got 300 of 300
   burst sends acked, 300 REST posts all got 201, 300 renames pushed 300 ``joined`` frames to a
   bystander, and direct messages to made-up users were stored.

The flood tests run the default bursts with slower refill rates (``LIMITS``), so that a flood
outpaces the refill on either store: on moto a send takes tens of milliseconds, and at the
default 10 sends a second the bucket would refill as fast as the flood arrives. The numbers they
allow come from the same settings the server reads.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import websockets

from hubbub.chat.settings import ChatSettings
from hubbub.client import HubbubClient
from hubbub.client.connection import ClientError
from tests.conftest import TIMEOUT_FACTOR
from tests.e2e.test_product import add_operator, admin_cli
from tests.support.server import ServerProcess

Start = Callable[..., ServerProcess]
DEFAULTS = ChatSettings()
LIMITS = {"SEND_RATE_PER_SECOND": "1", "GUEST_REGISTER_RATE_PER_SECOND": "0.2"}
CONFIGURED = ChatSettings.from_env(LIMITS)


def limited_server(fresh_server: Start, tmp_path: Path) -> ServerProcess:
    env_file = tmp_path / "limits.json"
    env_file.write_text(json.dumps({"Parameters": LIMITS}))
    return fresh_server("--env-vars", str(env_file))


async def outcome(client: HubbubClient, action: str, **fields: Any) -> str:
    """``ok`` or the error code of one request (a flood of them may queue a while on moto)."""
    try:
        await client.request(action, timeout=120 * TIMEOUT_FACTOR, **fields)
    except ClientError as exc:
        return str(exc.code)
    return "ok"


def allowed_at_most(burst: int, per_s: float, seconds: float) -> int:
    """What a bucket may let through in ``seconds``: the burst, the refill, and one for the
    instant the window is measured from."""
    return burst + int(per_s * seconds) + 1


# -- 1. a removed operator ------------------------------------------------------------------


async def test_a_removed_operator_can_do_nothing_on_the_still_open_socket(
    fresh_server: Start,
) -> None:
    """The removal could not reach the runtime (so the socket stays open): past the recheck
    window, every operator action on it is refused, and desk messages stop arriving."""
    server = fresh_server()
    token = add_operator(server, "ada")
    operator = await HubbubClient.connect(server.ws_url, token=token)
    visitor = await HubbubClient.connect(server.ws_url)
    try:
        visitor_id = (await visitor.register("Val"))["user"]["id"]
        desk = f"desk/{visitor_id}"
        await operator.subscribe("desk/+")
        await visitor.subscribe(desk)
        await visitor.send(desk, "my card number is ...")
        await operator.wait_for_messages(desk, 1, timeout=30 * TIMEOUT_FACTOR)
        assert (await operator.request("conversations"))["items"]

        (server.data_dir / "runtime-info.json").unlink()  # the CLI finds no runtime to tell
        admin_cli(server, "operator", "remove", "ada")
        server.admin("clock", {"offsetMs": int(DEFAULTS.operator_recheck_s * 1000) + 1000})

        assert await outcome(operator, "conversations") == "unauthorized"
        assert await outcome(operator, "subscribe", topic="desk/+") == "unauthorized"
        assert await outcome(operator, "history", topic=desk) == "unauthorized"
        assert await outcome(operator, "register", nickname="ada") == "unauthorized"
        assert await outcome(operator, "presence", topic=desk) == "unauthorized"

        await visitor.send(desk, "second secret")
        # once the visitor has it, the fan-out has run: the operator got nothing
        await visitor.wait_for_seq(desk, 2, timeout=30 * TIMEOUT_FACTOR)
        assert 2 not in operator.messages.get(desk, {})
        with pytest.raises(websockets.InvalidStatus) as refused:
            await HubbubClient.connect(server.ws_url, token=token)
        assert refused.value.response.status_code == 401
    finally:
        await operator.close()
        await visitor.close()


async def test_removing_an_operator_closes_their_open_connections(fresh_server: Start) -> None:
    server = fresh_server()
    token = add_operator(server, "bob")
    tabs = [await HubbubClient.connect(server.ws_url, token=token) for _ in range(2)]
    bystander = await HubbubClient.connect(server.ws_url)
    try:
        for tab in tabs:
            await tab.subscribe("desk/+")
        printed = admin_cli(server, "operator", "remove", "bob")
        assert "2 open connection(s) closed" in printed
        for tab in tabs:
            await asyncio.wait_for(tab.ws.wait_closed(), 10 * TIMEOUT_FACTOR)
            assert tab.ws.close_code == 1000
        assert (await bystander.request("ping"))["type"] == "pong"
    finally:
        for client in (*tabs, bystander):
            await client.close()


# -- 2. limits per user, on every channel ---------------------------------------------------


async def test_one_token_over_five_connections_bursting_300_sends(
    fresh_server: Start, tmp_path: Path
) -> None:
    server = limited_server(fresh_server, tmp_path)
    first = await HubbubClient.connect(server.ws_url)
    token = (await first.register("flood"))["token"]
    clients = [first, *[await HubbubClient.connect(server.ws_url, token=token) for _ in range(4)]]
    topic = f"room/flood{uuid.uuid4().hex[:6]}"
    try:
        started = time.monotonic()
        results = await asyncio.gather(
            *(
                outcome(clients[n % 5], "send", topic=topic, text=f"m{n}", clientMsgId=f"c{n}")
                for n in range(300)
            )
        )
        elapsed = time.monotonic() - started
        acked = results.count("ok")
        assert set(results) == {"ok", "rate_limited"}
        assert CONFIGURED.send_burst <= acked
        assert acked <= allowed_at_most(CONFIGURED.send_burst, CONFIGURED.send_per_s, elapsed)
        assert acked < 150, "most of the burst is refused"
        history = await first.request("history", topic=topic, limit=100)
        assert len(history["messages"]) == acked
    finally:
        for client in clients:
            await client.close()


def post(server: ServerProcess, token: str, topic: str, key: str) -> tuple[int, str | None]:
    request = urllib.request.Request(
        f"{server.base_url}/api/messages",
        data=json.dumps({"topic": topic, "text": "spam"}).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": key,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers.get("Retry-After")
    except urllib.error.HTTPError as error:
        error.close()
        return error.code, error.headers.get("Retry-After")


def rest_flood(
    server: ServerProcess, token: str, topic: str
) -> tuple[list[tuple[int, str | None]], float]:
    started = time.monotonic()
    answers = [post(server, token, topic, f"k{n}") for n in range(300)]
    return answers, time.monotonic() - started


async def test_300_rest_posts_get_429_with_retry_after_past_the_burst(
    fresh_server: Start, tmp_path: Path
) -> None:
    server = limited_server(fresh_server, tmp_path)
    client = await HubbubClient.connect(server.ws_url)
    try:
        token = (await client.register("poster"))["token"]
        topic = f"room/rest{uuid.uuid4().hex[:6]}"
        answers, elapsed = await asyncio.to_thread(rest_flood, server, token, topic)
        statuses = [status for status, _ in answers]
        assert set(statuses) == {201, 429}
        assert statuses[: CONFIGURED.send_burst] == [201] * CONFIGURED.send_burst
        created = statuses.count(201)
        assert created <= allowed_at_most(CONFIGURED.send_burst, CONFIGURED.send_per_s, elapsed)
        retry_after = [after for status, after in answers if status == 429]
        assert all(after is not None and int(after) >= 1 for after in retry_after)
    finally:
        await client.close()


async def test_300_renames_are_limited_and_a_bystander_does_not_get_300_joined(
    fresh_server: Start,
) -> None:
    server = fresh_server()
    renamer = await HubbubClient.connect(server.ws_url)
    bystander = await HubbubClient.connect(server.ws_url)
    room = f"room/names{uuid.uuid4().hex[:6]}"
    try:
        renamer_id = (await renamer.register("r0"))["user"]["id"]
        await bystander.register("b")
        await bystander.subscribe(room)
        await renamer.subscribe(room)
        started = time.monotonic()
        results = [await outcome(renamer, "register", nickname=f"r{n}") for n in range(1, 301)]
        elapsed = time.monotonic() - started
        renamed = results.count("ok")
        assert set(results) <= {"ok", "rate_limited"}
        assert renamed <= allowed_at_most(DEFAULTS.rename_burst, DEFAULTS.rename_per_s, elapsed)
        await bystander.send(room, "marker")  # arrives after every presence push before it
        await bystander.wait_for_messages(room, 1, timeout=30 * TIMEOUT_FACTOR)
        joined = []
        while not bystander.events.empty():
            frame = bystander.events.get_nowait()
            if frame.get("type") == "joined" and frame["user"]["id"] == renamer_id:
                joined.append(frame)
        assert 1 <= len(joined) <= renamed + 1  # the first subscribe's, and one per rename
    finally:
        await renamer.close()
        await bystander.close()


async def test_guests_from_one_address_get_a_bounded_number_of_identities(
    fresh_server: Start,
    tmp_path: Path,
) -> None:
    server = limited_server(fresh_server, tmp_path)
    guests = [await HubbubClient.connect(server.ws_url) for _ in range(40)]
    try:
        started = time.monotonic()
        results = [await outcome(g, "register", nickname=f"bot{n}") for n, g in enumerate(guests)]
        elapsed = time.monotonic() - started
        registered = results.count("ok")
        assert set(results) == {"ok", "rate_limited"}
        burst, per_s = CONFIGURED.guest_register_burst, CONFIGURED.guest_register_per_s
        assert burst <= registered <= allowed_at_most(burst, per_s, elapsed)
    finally:
        for guest in guests:
            await guest.close()


async def test_direct_messages_to_users_that_do_not_exist_are_refused(
    fresh_server: Start,
) -> None:
    server = fresh_server()
    sender = await HubbubClient.connect(server.ws_url)
    friend = await HubbubClient.connect(server.ws_url)
    try:
        token = (await sender.register("dm"))["token"]
        friend_id = (await friend.register("friend"))["user"]["id"]
        for n in range(5):
            topic = f"user/nobody{n}"
            assert (
                await outcome(sender, "send", topic=topic, text="x" * 4000, clientMsgId=f"n{n}")
                == "not_found"
            )
        assert post(server, token, "user/nobody9", "rest-nobody")[0] == 404
        assert (
            await outcome(sender, "send", topic=f"user/{friend_id}", text="hi", clientMsgId="f")
            == "ok"
        )
    finally:
        await sender.close()
        await friend.close()
