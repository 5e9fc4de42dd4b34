"""One HTTP API (payload format 2.0) on the runtime's server: the shared proxy gateway
(:mod:`apigateway.proxy`) with this API type's event, response mapping and CORS."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hubbub.runtime.apigateway.http.cors import cors_headers, is_preflight, preflight_response
from hubbub.runtime.apigateway.http.events import HttpRequest, build_event
from hubbub.runtime.apigateway.http.responses import HttpResult, result_response
from hubbub.runtime.apigateway.http.routing import RouteMatch
from hubbub.runtime.apigateway.proxy import REQUEST_BODY_LIMIT, ProxyGateway
from hubbub.runtime.cloudformation import HttpApiSpec
from hubbub.runtime.lambda_.pool import InvokeResult

__all__ = ["REQUEST_BODY_LIMIT", "HttpApiGateway"]


class HttpApiGateway(ProxyGateway[HttpApiSpec]):
    """One HTTP API on the runtime's server."""

    def integration_timeout_s(self) -> float:
        """HTTP APIs allow 30 s, one more than WebSocket and REST APIs (*Amazon API Gateway
        quotas*)."""
        return self.quotas.http_integration_timeout_s

    def build_event(
        self, match: RouteMatch, request: HttpRequest, request_id: str, now_ms: int
    ) -> dict[str, Any]:
        return build_event(
            self.api,
            match,
            request,
            account_id=self.account_id,
            request_id=request_id,
            now_ms=now_ms,
        )

    def map_result(self, result: InvokeResult, request: HttpRequest) -> HttpResult:
        return result_response(result)

    async def answer(self, request: web.Request, request_id: str) -> HttpResult:
        """``CorsConfiguration``: API Gateway answers preflights before routing, and sets the
        configured headers on every actual response."""
        cors = self.api.cors
        origin = request.headers.get("Origin")
        if (
            cors is not None
            and origin is not None
            and is_preflight(request.method, request.headers)
        ):
            wanted = request.headers.get("Access-Control-Request-Method", "")
            return preflight_response(cors, origin, wanted)
        result = await self.route(request, request_id)
        if cors is not None and origin is not None:
            result = cors_headers(result, cors, origin)
        return result
