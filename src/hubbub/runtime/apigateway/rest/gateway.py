"""One REST API (Lambda proxy, payload format 1.0) on the runtime's server: the shared proxy
gateway (:mod:`apigateway.proxy`) with this API type's resource-first routing, event, response
mapping, errors (403 for an unknown path, 502, 504) and SAM's CORS preflight."""

from __future__ import annotations

from typing import Any, ClassVar

from aiohttp import web

from hubbub.runtime.apigateway.http.events import HttpRequest
from hubbub.runtime.apigateway.http.mounting import REST_PREFIX
from hubbub.runtime.apigateway.http.responses import HttpResult
from hubbub.runtime.apigateway.http.routing import RouteMatch
from hubbub.runtime.apigateway.proxy import ProxyGateway
from hubbub.runtime.apigateway.rest.cors import preflight_answer
from hubbub.runtime.apigateway.rest.events import build_rest_event, rest_request_id
from hubbub.runtime.apigateway.rest.responses import (
    BAD_GATEWAY,
    MISSING_TOKEN,
    TIMED_OUT,
    rest_result_response,
)
from hubbub.runtime.cloudformation import RestApiSpec
from hubbub.runtime.lambda_.pool import InvokeResult

__all__ = ["RestApiGateway"]


class RestApiGateway(ProxyGateway[RestApiSpec]):
    """One REST API on the runtime's server, under ``/{stage}`` as on its execute-api host."""

    kind: ClassVar[str] = "REST API"
    prefix_root: ClassVar[str] = REST_PREFIX
    not_found: ClassVar[HttpResult] = MISSING_TOKEN
    internal_error: ClassVar[HttpResult] = BAD_GATEWAY
    timed_out: ClassVar[HttpResult] = TIMED_OUT
    keep_header_case: ClassVar[bool] = True

    def match(self, method: str, path: str) -> RouteMatch | None:
        return self.table.match_resource(method, path)

    def build_event(
        self, match: RouteMatch, request: HttpRequest, request_id: str, now_ms: int
    ) -> dict[str, Any]:
        return build_rest_event(
            self.api,
            match,
            request,
            account_id=self.account_id,
            extended_request_id=request_id,
            now_ms=now_ms,
        )

    def map_result(self, result: InvokeResult, request: HttpRequest) -> HttpResult:
        accept = request.header("accept")
        return rest_result_response(
            result, accept=accept, binary_media_types=self.api.binary_media_types
        )

    def response_headers(self, request_id: str) -> dict[str, str]:
        return {"x-amzn-RequestId": rest_request_id(request_id), "x-amz-apigw-id": request_id}

    async def answer(self, request: web.Request, request_id: str) -> HttpResult:
        """With ``Cors`` set, an OPTIONS on a path whose resource has no OPTIONS method of its
        own gets SAM's mock answer, whatever its headers."""
        cors = self.api.cors
        if cors is not None and request.method == "OPTIONS":
            paths = self.paths(request)
            found = None if paths is None else self.table.resource(paths[1])
            if found is not None and "OPTIONS" not in found[1]:
                return preflight_answer(cors, found[1])
        return await self.route(request, request_id)
