"""The REST command channel, served by the runtime's HTTP API from the same template."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from openapi_spec_validator import validate

from tests.e2e.conftest import Connect
from tests.e2e.test_product import add_operator
from tests.support.server import ServerProcess


def call(
    server: ServerProcess,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{server.base_url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        payload = json.loads(error.read())
        error.close()
        return error.code, payload


async def rest(server: ServerProcess, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    return await asyncio.to_thread(call, server, *args, **kwargs)


@pytest.mark.store
async def test_a_post_with_the_same_idempotency_key_stores_one_message(
    server: ServerProcess, connect: Connect
) -> None:
    topic = f"room/rest{uuid.uuid4().hex[:6]}"
    watcher = await connect()
    await watcher.subscribe(topic)
    token = (await (await connect()).register("poster"))["token"]
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "order-42"}
    first = await rest(server, "POST", "/api/messages", {"topic": topic, "text": "hi"}, headers)
    again = await rest(server, "POST", "/api/messages", {"topic": topic, "text": "hi"}, headers)
    assert first[0] == 201 and first[1]["duplicate"] is False
    assert again[0] == 200 and again[1]["duplicate"] is True
    assert again[1]["seq"] == first[1]["seq"] == 1

    pushed = await watcher.wait_for_seq(topic, 1)
    assert (pushed["text"], pushed["nickname"]) == ("hi", "poster")
    marker = await rest(
        server,
        "POST",
        "/api/messages",
        {"topic": topic, "text": "next"},
        {"Authorization": f"Bearer {token}", "Idempotency-Key": "order-43"},
    )
    await watcher.wait_for_seq(topic, marker[1]["seq"])
    assert sorted(watcher.messages[topic]) == [1, 2]
    assert watcher.duplicates == 0

    status, page = await rest(server, "GET", f"/api/history?topic={topic}&limit=10")
    assert status == 200
    assert [m["text"] for m in page["messages"]] == ["hi", "next"]
    status, rooms = await rest(server, "GET", "/api/rooms?limit=50")
    assert topic in {r["topic"] for r in rooms["rooms"]}


@pytest.mark.store
async def test_rest_refuses_what_the_socket_refuses(server: ServerProcess) -> None:
    body = {"topic": "room/rest", "text": "hi"}
    no_key = await rest(server, "POST", "/api/messages", body, {})
    assert no_key[0] == 422
    anonymous = await rest(server, "POST", "/api/messages", body, {"Idempotency-Key": "k"})
    assert anonymous == (403, anonymous[1]) and anonymous[1]["code"] == "forbidden"
    forged = await rest(
        server,
        "POST",
        "/api/messages",
        body,
        {"Idempotency-Key": "k", "Authorization": "Bearer not.a.token"},
    )
    assert forged[0] == 401
    bad_topic = await rest(server, "GET", "/api/history?topic=nowhere/x")
    assert bad_topic[0] == 400 and bad_topic[1]["code"] == "bad_request"
    desk = await rest(server, "GET", "/api/conversations")
    assert desk[0] == 403


@pytest.mark.store
async def test_operators_list_conversations_over_rest(
    server: ServerProcess, connect: Connect
) -> None:
    token = add_operator(server, f"rest{uuid.uuid4().hex[:6]}")
    visitor = await connect()
    visitor_id = (await visitor.register("Rita"))["user"]["id"]
    await visitor.send(f"desk/{visitor_id}", "help over rest")
    status, page = await rest(
        server, "GET", "/api/conversations?limit=50", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200
    item = next(i for i in page["items"] if i["topic"] == f"desk/{visitor_id}")
    assert (item["unread"], item["visitor"]["nickname"]) == (1, "Rita")


@pytest.mark.store
async def test_health_and_a_valid_openapi_document(server: ServerProcess) -> None:
    status, health = await rest(server, "GET", "/api/health")
    assert (status, health["status"]) == (200, "ok")
    status, spec = await rest(server, "GET", "/api/openapi.json")
    assert status == 200
    validate(spec)
    assert {"/api/messages", "/api/history", "/api/rooms", "/api/conversations"} <= set(
        spec["paths"]
    )


async def test_whoami_names_the_token_and_refuses_a_bad_one(
    server: ServerProcess, connect: Connect
) -> None:
    welcome = await (await connect()).register("Wanda")
    status, body = await rest(
        server, "GET", "/api/whoami", headers={"Authorization": f"Bearer {welcome['token']}"}
    )
    assert (status, body["user"]) == (200, welcome["user"])
    status, body = await rest(server, "GET", "/api/whoami", headers={"Authorization": "Bearer x"})
    assert (status, body["code"]) == (401, "unauthorized")
