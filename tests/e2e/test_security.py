"""Security at the edges: browser origins at $connect, and credentials never in logs or frames."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import websockets

from hubbub.client import HubbubClient
from tests.e2e.test_product import add_operator
from tests.support.server import ServerProcess

Start = Callable[..., ServerProcess]


async def test_only_allowed_origins_may_open_a_websocket(fresh_server: Start) -> None:
    server = fresh_server("--parameter-overrides", "AllowedOrigins=https://chat.example.com")
    allowed = await HubbubClient.connect(server.ws_url, origin="https://chat.example.com")
    assert (await allowed.request("ping"))["type"] == "pong"
    await allowed.close()
    with pytest.raises(websockets.InvalidStatus) as refused:
        await HubbubClient.connect(server.ws_url, origin="https://evil.example.net")
    assert refused.value.response.status_code == 403
    # clients that are not browsers send no Origin and are not refused for it
    tool = await HubbubClient.connect(server.ws_url)
    await tool.close()


async def test_operator_credentials_never_reach_logs_or_frames(fresh_server: Start) -> None:
    server = fresh_server()
    token = add_operator(server, "secretive")
    operator = await HubbubClient.connect(server.ws_url, token=token)
    await operator.subscribe("desk/+")
    visitor = await HubbubClient.connect(server.ws_url)
    visitor_id = (await visitor.register("Val"))["user"]["id"]
    await visitor.send(f"desk/{visitor_id}", "hello?")
    await operator.wait_for_messages(f"desk/{visitor_id}", 1)
    hello = await operator.request("hello")
    await operator.request("conversations")
    frames = [hello, *operator.messages[f"desk/{visitor_id}"].values()]
    while not operator.events.empty():
        frames.append(operator.events.get_nowait())
    await operator.close()
    await visitor.close()
    server.stop()

    assert all(token not in str(frame) for frame in frames)
    signature = token.rsplit(".", 1)[1]
    log = server.log_path.read_text()
    assert signature not in log
    secret = (server.data_dir / "token-secret").read_text()
    assert secret not in log
