"""The client's address behind a trusted reverse proxy (``runtime.forwarded``)."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hubbub.runtime.forwarded import TrustedProxies, client_address, forwarded_middleware

PROXY = TrustedProxies(["127.0.0.1", "10.0.0.0/8"])


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "trusted", "expected"),
    [
        ("203.0.113.9", ["198.51.100.1"], PROXY, "203.0.113.9"),  # not a proxy: header ignored
        ("127.0.0.1", ["198.51.100.1"], TrustedProxies(), "127.0.0.1"),  # nothing trusted
        ("127.0.0.1", [], PROXY, "127.0.0.1"),  # a proxy's own request
        ("127.0.0.1", ["198.51.100.1"], PROXY, "198.51.100.1"),
        ("127.0.0.1", ["6.6.6.6, 198.51.100.1"], PROXY, "198.51.100.1"),  # client-written left
        ("127.0.0.1", ["6.6.6.6", "198.51.100.1"], PROXY, "198.51.100.1"),  # repeated header
        ("127.0.0.1", ["198.51.100.1, 10.1.2.3"], PROXY, "198.51.100.1"),  # a chain of proxies
        ("127.0.0.1", ["10.1.2.3"], PROXY, "127.0.0.1"),  # only proxies: the nearest counts
        ("127.0.0.1", ["not-an-address"], PROXY, "127.0.0.1"),  # malformed: the proxy counts
        ("127.0.0.1", ["2001:db8::7"], PROXY, "2001:db8::7"),
        ("127.0.0.1", [" , 198.51.100.1 , "], PROXY, "198.51.100.1"),
    ],
)
def test_client_address(
    peer: str, forwarded_for: list[str], trusted: TrustedProxies, expected: str
) -> None:
    assert client_address(peer, forwarded_for, trusted) == expected


@pytest.mark.parametrize("entry", ["nonsense", "10.0.0.0/33", "300.1.1.1"])
def test_a_bad_trusted_proxy_is_a_clear_error(entry: str) -> None:
    with pytest.raises(ValueError, match="--trusted-proxy"):
        TrustedProxies([entry])


@pytest.mark.parametrize(
    ("trusted", "expected"),
    [(TrustedProxies(["127.0.0.1"]), "198.51.100.1"), (TrustedProxies(["10.0.0.1"]), "127.0.0.1")],
)
async def test_the_middleware_rewrites_remote_only_for_a_trusted_peer(
    trusted: TrustedProxies, expected: str
) -> None:
    async def remote(request: web.Request) -> web.Response:
        return web.Response(text=request.remote or "")

    app = web.Application(middlewares=[forwarded_middleware(trusted)])
    app.router.add_get("/", remote)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        response = await client.get("/", headers={"X-Forwarded-For": "198.51.100.1"})
        assert await response.text() == expected
