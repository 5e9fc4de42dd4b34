"""The opening of a WebSocket connection: the identity headers, ``$connect`` and its authorizer,
and the socket that enforces API Gateway's frame quota.

A refusal is an HTTP answer to the upgrade request, before any socket exists, as on AWS: the
authorizer's 401/403/500, or the status ``$connect`` returned when it is not 2xx. An accepted
handshake echoes the ``Sec-WebSocket-Protocol`` that ``$connect`` put in its response headers, as
API Gateway does; a client that offered subprotocols gets none echoed otherwise, and a browser
then drops the connection (API Gateway developer guide, "Set up a $connect route that requires a
WebSocket subprotocol").
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from aiohttp import WSCloseCode, web
from aiohttp.http_websocket import WebSocketError

from hubbub.runtime.apigateway.authorizers import AuthorizerResult, run_authorizer
from hubbub.runtime.apigateway.events import ConnectionInfo, connect_event
from hubbub.runtime.apigateway.frameguard import GuardedParser
from hubbub.runtime.apigateway.quotas import Quotas, integration_wait_s
from hubbub.runtime.awsids import connection_id, extended_request_id, trace_header
from hubbub.runtime.cloudformation import WebSocketApiSpec
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult

__all__ = [
    "GuardedWebSocketResponse",
    "connect",
    "event_headers",
    "invoke_within",
    "open_socket",
    "status_of",
    "subprotocol_of",
]

log = logging.getLogger("hubbub.gateway")

_HOP_BY_HOP = frozenset({"connection", "upgrade", "keep-alive", "transfer-encoding"})


class GuardedWebSocketResponse(web.WebSocketResponse):
    """aiohttp's WebSocket with API Gateway's per-frame limit in front of its parser."""

    def __init__(self, *, frame_bytes: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._frame_bytes = frame_bytes

    def _post_start(self, request: Any, protocol: Any, writer: Any) -> None:
        super()._post_start(request, protocol, writer)
        handler = request.protocol
        handler._payload_parser = GuardedParser(
            handler._payload_parser, self._frame_bytes, self._frame_too_big
        )
        # The HTTP parser is done once the upgrade is accepted (aiohttp only feeds it again when
        # an upgrade is declined), yet it stays referenced until the connection closes: about
        # 1 KB of an idle connection's memory (docs/benchmarks.md).
        handler._parser = None

    def _frame_too_big(self, size: int) -> None:
        reader: Any = self._reader
        reader.set_exception(
            WebSocketError(
                WSCloseCode.MESSAGE_TOO_BIG,
                f"frame of {size} bytes is over the {self._frame_bytes}-byte frame quota",
            )
        )


def open_socket(quotas: Quotas, subprotocol: str | None = None) -> GuardedWebSocketResponse:
    """The socket of an accepted connection: frame and message quotas, no compression (the
    fan-out writes its own uncompressed frames), pings answered by aiohttp, and the subprotocol
    ``$connect`` chose (echoed when the client offered it)."""
    return GuardedWebSocketResponse(
        protocols=() if subprotocol is None else (subprotocol,),
        frame_bytes=quotas.frame_bytes,
        max_msg_size=quotas.message_bytes,
        autoping=True,
        compress=False,
        timeout=5.0,
    )


def event_headers(request: web.Request) -> list[tuple[str, str]]:
    """The handshake's headers as ``$connect`` sees them: the client's, without hop-by-hop ones,
    plus the tracing and forwarding headers API Gateway adds."""
    headers = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP]
    peer = request.remote or "127.0.0.1"
    port = request.url.port or (443 if request.secure else 80)
    headers += [
        ("X-Amzn-Trace-Id", trace_header().split(";", 1)[0]),
        ("X-Forwarded-For", peer),
        ("X-Forwarded-Port", str(port)),
        ("X-Forwarded-Proto", "https" if request.secure else "http"),
    ]
    return headers


def status_of(result: InvokeResult) -> int:
    """The status ``$connect`` answered: a function error is 500, a ``statusCode`` is taken as
    given (500 when it is not a number), any other answer is 200."""
    if not result.ok:
        return 500
    payload = result.payload
    if isinstance(payload, dict) and "statusCode" in payload:
        try:
            return int(payload["statusCode"])
        except (TypeError, ValueError):
            return 500
    return 200


def subprotocol_of(result: InvokeResult) -> str | None:
    """The ``Sec-WebSocket-Protocol`` of ``$connect``'s response headers (any case), if any."""
    payload = result.payload if result.ok else None
    headers = payload.get("headers") if isinstance(payload, dict) else None
    if not isinstance(headers, dict):
        return None
    found = next(
        (v for k, v in headers.items() if str(k).lower() == "sec-websocket-protocol"), None
    )
    if not isinstance(found, str) or not found.strip():
        return None
    return found.strip()


_OUTLIVED: set[asyncio.Task[InvokeResult]] = set()
"""``$connect`` invocations that ran past the integration timeout: the function runs on (as
on Lambda) after the handshake was answered, and is kept referenced until it ends."""


async def invoke_within(
    pool: FunctionPool, event: dict[str, Any], timeout_s: float
) -> InvokeResult | None:
    """The invocation's result, or None past API Gateway's integration timeout, which holds
    ``$connect`` as it holds every route (29 s, *Amazon API Gateway quotas*)."""
    task = asyncio.create_task(pool.invoke(event))
    done, _ = await asyncio.wait({task}, timeout=timeout_s)
    if done:
        return task.result()
    _OUTLIVED.add(task)
    task.add_done_callback(_OUTLIVED.discard)
    return None


def _refusal(verdict: AuthorizerResult) -> web.Response:
    return web.json_response({"message": verdict.message}, status=verdict.status)


async def connect(
    api: WebSocketApiSpec,
    pools: Mapping[str, FunctionPool],
    quotas: Quotas,
    request: web.Request,
    now_ms: int,
) -> tuple[ConnectionInfo, web.Response | None, str | None]:
    """``$connect`` (and its authorizer): the connection's info, or the handshake's refusal, and
    the subprotocol to echo.

    A function of its own so that the ``$connect`` event, the header lists and the result do not
    stay referenced by the frame of the gateway's handler, which lives as long as the connection:
    that is a few KB per idle connection.
    """
    headers = event_headers(request)
    info = ConnectionInfo(
        connection_id=connection_id(),
        api_id=api.api_id,
        stage=api.stage,
        domain_name=request.host,
        source_ip=request.remote or "127.0.0.1",
        user_agent=request.headers.get("User-Agent"),
        connected_at=now_ms,
        # only what a later event reads ($disconnect's Host): the connection keeps this for
        # hours, and a dict of every handshake header was a quarter KB of each idle connection
        headers={k: v for k, v in headers if k == "Host"},
    )
    query = list(request.query.items())
    route = api.routes.get("$connect")
    if route is not None and route.authorizer is not None:
        verdict = await run_authorizer(
            route.authorizer,
            pools[route.authorizer.function],
            info,
            headers=headers,
            query=query,
            request=request,
            limit_bytes=quotas.authorizer_result_bytes,
        )
        if not verdict.allowed:
            return info, _refusal(verdict), None
        info.authorizer = verdict.context
    if route is not None and route.function is not None:
        event = connect_event(
            info, headers=headers, query=query, rid=extended_request_id(), now_ms=now_ms
        )
        wait_s = integration_wait_s(quotas.integration_timeout_s, route.timeout_s)
        result = await invoke_within(pools[route.function], event, wait_s)
        if result is None:
            log.info("$connect of %s ran past the integration timeout", info.connection_id)
            return (
                info,
                web.json_response({"message": "Endpoint request timed out"}, status=504),
                None,
            )
        status = status_of(result)
        if not 200 <= status < 300:
            log.info("$connect refused %s with %s", info.connection_id, status)
            return (
                info,
                web.json_response(
                    {"message": "Forbidden" if status in (401, 403) else "Internal server error"},
                    status=status,
                ),
                None,
            )
        return info, None, subprotocol_of(result)
    return info, None, None
