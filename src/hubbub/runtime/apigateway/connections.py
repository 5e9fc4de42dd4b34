"""The ``@connections`` management API, answering boto3's ``apigatewaymanagementapi`` client.

``POST`` delivers (200), ``GET`` describes (200), ``DELETE`` closes (204); an unknown or closed
connection answers 410 ``GoneException``, an oversized post 413 ``PayloadTooLargeException``, a
post the client cannot take 429 ``LimitExceededException``, and a request whose SigV4 signature
is not the runtime's credentials' (recomputed and compared, ``runtime/sigv4.py``) 403
``ForbiddenException``.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hubbub.runtime.apigateway.websocket.gateway import WebSocketGateway
from hubbub.runtime.sigv4 import SignatureRejected, SigV4Verifier, forbidden_response

__all__ = ["add_batch_route", "add_connections_routes"]

log = logging.getLogger("hubbub.gateway")

_ERRORS = {
    410: ("GoneException", "Gone"),
    413: ("PayloadTooLargeException", "Request entity too large"),
    429: ("LimitExceededException", "Too many requests"),
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int) -> web.Response:
    if status == 403:
        return forbidden_response()
    error_type, message = _ERRORS[status]
    return web.Response(
        status=status,
        text=json.dumps({"message": message}),
        content_type="application/json",
        headers={"x-amzn-ErrorType": error_type},
    )


def add_connections_routes(
    app: web.Application, gateway: WebSocketGateway, verifier: SigV4Verifier
) -> None:
    """``verifier`` knows the credentials allowed to call ``execute-api`` (the runtime's)."""

    async def signed(request: web.Request) -> bool:
        try:
            await verifier.verify_request(request)
        except SignatureRejected as exc:
            log.warning("@connections %s refused: %s", request.method, exc)
            return False
        return True

    async def post(request: web.Request) -> web.StreamResponse:
        if not await signed(request):
            return _error(403)
        data = await request.read()
        status = await gateway.post(request.match_info["cid"], data)
        return web.Response(status=200) if status == 200 else _error(status)

    async def get(request: web.Request) -> web.StreamResponse:
        if not await signed(request):
            return _error(403)
        info = gateway.describe(request.match_info["cid"])
        if info is None:
            return _error(410)
        return web.json_response(info)

    async def delete(request: web.Request) -> web.StreamResponse:
        if not await signed(request):
            return _error(403)
        if not await gateway.delete(request.match_info["cid"]):
            return _error(410)
        return web.Response(status=204)

    path = f"/{gateway.api.stage}/@connections/{{cid}}"
    app.router.add_post(path, post)
    app.router.add_get(path, get)
    app.router.add_delete(path, delete)


def add_batch_route(
    app: web.Application, gateways: dict[str, WebSocketGateway], runtime_key: str
) -> None:
    """``POST /_runtime/@connections``: one frame to many connections (``{"data",
    "connectionIds"}``), or a stream batch's frames, each connection its own run of them in one
    write (``{"frames", "sends": [{"frames": [indexes], "connectionIds"}]}``), for the local
    push adapter. Answers ``{"gone", "failed"}``."""

    async def batch(request: web.Request) -> web.StreamResponse:
        if not hmac.compare_digest(
            request.headers.get("X-Hubbub-Runtime-Key", "").encode(), runtime_key.encode()
        ):
            return _error(403)
        body = await request.json()
        if "frames" not in body:
            return await _one_frame(gateways, body)
        try:
            frames, sends = _read_batch(body)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            return web.json_response({"message": f"bad batch: {exc}"}, status=400)
        if not gateways:
            return web.json_response({"gone": [c for _, ids in sends for c in ids], "failed": []})
        gone: list[str] = []
        failed: list[str] = []
        for owner, owned in _by_owner(gateways, sends):
            g, f = await owner.post_sends(frames, owned)
            gone += g
            failed += f
        return web.json_response({"gone": gone, "failed": failed})

    app.router.add_post("/_runtime/@connections", batch)


async def _one_frame(gateways: dict[str, WebSocketGateway], body: Any) -> web.Response:
    data = str(body["data"]).encode("utf-8")
    ids = [str(c) for c in body.get("connectionIds", [])]
    if not gateways:
        return web.json_response({"gone": ids, "failed": []})
    fallback = next(iter(gateways.values()))  # answers 410 for ids no gateway holds
    by_gateway: dict[int, tuple[WebSocketGateway, list[str]]] = {}
    if len(gateways) == 1:  # the usual template: no owner to look up per connection
        by_gateway[id(fallback)] = (fallback, ids)
    for cid in ids if len(gateways) > 1 else ():
        owner = next((g for g in gateways.values() if cid in g.connections), fallback)
        by_gateway.setdefault(id(owner), (owner, []))[1].append(cid)
    gone: list[str] = []
    failed: list[str] = []
    for owner, owned in by_gateway.values():
        g, f = await owner.post_many(data, owned)
        gone += g
        failed += f
    return web.json_response({"gone": gone, "failed": failed})


def _read_batch(body: Any) -> tuple[list[bytes], list[tuple[list[int], list[str]]]]:
    """The frames and the sends; an index outside ``frames`` is refused."""
    frames = [str(f).encode("utf-8") for f in body["frames"]]
    sends: list[tuple[list[int], list[str]]] = []
    for send in body["sends"]:
        indexes = [int(i) for i in send["frames"]]
        if any(not 0 <= i < len(frames) for i in indexes):
            raise IndexError(f"frame index out of range in {indexes}")
        sends.append((indexes, [str(c) for c in send["connectionIds"]]))
    return frames, sends


def _by_owner(
    gateways: dict[str, WebSocketGateway], sends: list[tuple[list[int], list[str]]]
) -> list[tuple[WebSocketGateway, list[tuple[list[int], list[str]]]]]:
    """Each send split by the gateway holding its connections; an id no gateway holds goes to
    the first, which answers 410 for it."""
    fallback = next(iter(gateways.values()))
    if len(gateways) == 1:  # the usual template: no owner to look up per connection
        return [(fallback, sends)]
    owned: dict[int, tuple[WebSocketGateway, list[tuple[list[int], list[str]]]]] = {}
    for indexes, ids in sends:
        per: dict[int, list[str]] = {}
        for cid in ids:
            owner = next((g for g in gateways.values() if cid in g.connections), fallback)
            owned.setdefault(id(owner), (owner, []))
            per.setdefault(id(owner), []).append(cid)
        for key, cids in per.items():
            owned[key][1].append((indexes, cids))
    return list(owned.values())
