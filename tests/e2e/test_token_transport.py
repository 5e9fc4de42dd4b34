"""Tokens off the URL (issue 15, item 10): a client presents its token in the handshake's
``Authorization`` header or, from a browser, as a ``Sec-WebSocket-Protocol`` value; the handshake
echoes ``hubbub.v1`` as API Gateway echoes what ``$connect`` returns (API Gateway developer guide,
"Set up a $connect route that requires a WebSocket subprotocol"). Operators' tokens last 12 hours
and are renewed with ``refresh`` on an open connection."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import websockets

from hubbub.client import HubbubClient
from tests.e2e.test_product import add_operator
from tests.support.server import ServerProcess

Start = Callable[..., ServerProcess]
HOUR_MS = 3600 * 1000


async def hello_over(ws: websockets.ClientConnection) -> dict[str, Any]:
    await ws.send(json.dumps({"action": "hello", "ref": "h"}))
    while True:
        frame: dict[str, Any] = json.loads(await ws.recv())
        if frame.get("ref") == "h":
            return frame


async def test_a_token_in_the_authorization_header_signs_in(fresh_server: Start) -> None:
    server = fresh_server()
    token = add_operator(server, "header-op")
    async with websockets.connect(
        server.ws_url, additional_headers={"Authorization": f"Bearer {token}"}
    ) as ws:
        assert (await hello_over(ws))["user"]["role"] == "operator"
    client = await HubbubClient.connect(server.ws_url, token=token)  # the Python client's way
    try:
        assert client.ws.request is not None and "token" not in client.ws.request.path
        assert (await client.request("hello"))["user"]["nickname"] == "header-op"
    finally:
        await client.close()
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            server.ws_url, additional_headers={"Authorization": "Bearer x.y.z"}
        )
    assert refused.value.response.status_code == 401


async def test_a_token_as_a_subprotocol_signs_in_and_hubbub_v1_is_echoed(
    fresh_server: Start,
) -> None:
    server = fresh_server()
    token = add_operator(server, "browser-op")
    offered = ["hubbub.v1", f"hubbub.token.{token}"]
    async with websockets.connect(server.ws_url, subprotocols=offered) as ws:  # type: ignore[arg-type]
        assert ws.subprotocol == "hubbub.v1"
        assert ws.response is not None
        assert ws.response.headers["Sec-WebSocket-Protocol"] == "hubbub.v1"
        assert (await hello_over(ws))["user"]["role"] == "operator"
    async with websockets.connect(server.ws_url, subprotocols=["hubbub.v1"]) as guest:  # type: ignore[list-item]
        assert guest.subprotocol == "hubbub.v1"
        assert (await hello_over(guest))["user"]["role"] == "guest"
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(server.ws_url, subprotocols=[f"hubbub.token.{token}"])  # type: ignore[list-item]
    assert refused.value.response.status_code == 400
    with pytest.raises(websockets.InvalidStatus) as forged:
        await websockets.connect(
            server.ws_url,
            subprotocols=["hubbub.v1", "hubbub.token.forged.token.value"],  # type: ignore[list-item]
        )
    assert forged.value.response.status_code == 401


async def test_refresh_renews_a_token_on_an_open_connection_and_the_old_one_expires(
    fresh_server: Start,
) -> None:
    server = fresh_server()
    token = add_operator(server, "night-shift")
    client = await HubbubClient.connect(server.ws_url, token=token)
    try:
        server.admin("clock", {"offsetMs": 11 * HOUR_MS})
        renewed = await client.refresh()
        assert renewed["type"] == "token" and renewed["token"] != token
        assert renewed["expiresAt"] > 0
    finally:
        await client.close()
    server.admin("clock", {"offsetMs": 13 * HOUR_MS})  # past the first token's 12 hours
    with pytest.raises(websockets.InvalidStatus) as expired:
        await HubbubClient.connect(server.ws_url, token=token)
    assert expired.value.response.status_code == 401
    again = await HubbubClient.connect(server.ws_url, token=str(renewed["token"]))
    try:
        assert (await again.request("hello"))["user"]["role"] == "operator"
    finally:
        await again.close()
