"""What ``/`` answers when no host page is mounted there: the APIs and endpoints this server
serves, so someone running their own template finds their way instead of a chat client that
needs routes their template does not have.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from hubbub.runtime.server import LocalRuntime

__all__ = ["add_index_route", "endpoint_index"]


def endpoint_index(runtime: LocalRuntime) -> dict[str, Any]:
    """Every API of the template with the local URL that stands in for its AWS one."""
    spec = runtime.spec
    return {
        "template": str(spec.path),
        "websocketApis": [
            {
                "logicalId": name,
                "url": runtime.websocket_url(name),
                "connections": f"{runtime.base_url}/{gateway.api.stage}/@connections",
                "routes": sorted(gateway.api.routes),
            }
            for name, gateway in runtime.gateways.items()
        ],
        "httpApis": [
            {
                "logicalId": name,
                "url": runtime.http_api_url(name),
                "routes": sorted(gateway.api.routes),
            }
            for name, gateway in runtime.http_apis.items()
        ],
        "restApis": [
            {
                "logicalId": name,
                "url": runtime.rest_api_url(name),
                "routes": sorted(gateway.api.routes),
            }
            for name, gateway in runtime.rest_apis.items()
        ],
        "schedules": sorted(s.logical_id for s in spec.schedules),
        "functions": sorted(spec.functions),
        "admin": f"{runtime.base_url}/_runtime",
        "metrics": f"{runtime.base_url}/metrics",
    }


def add_index_route(app: web.Application, runtime: LocalRuntime) -> None:
    """``GET /`` as a JSON listing (read when it is asked, so it names the bound port)."""

    async def index(request: web.Request) -> web.StreamResponse:
        return web.json_response(endpoint_index(runtime))

    app.router.add_get("/", index)
