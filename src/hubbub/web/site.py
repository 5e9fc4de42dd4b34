"""Serving the web client from ``hubbub serve``: pages, assets, ``config.json``, security headers.

The pages are static and can be hosted anywhere (see docs/web.md); this module only mounts them on
the local runtime's server, next to the WebSocket endpoint they talk to, with the response headers
a CDN would add (docs/web.md lists them for CloudFront):

- every page has a Content-Security-Policy without ``'unsafe-inline'`` or ``'unsafe-eval'``: all
  scripts and styles are files, and Trusted Types are required, so no HTML string can reach a DOM
  sink even by mistake;
- pages may not be framed (``frame-ancestors 'none'``), except the widget's frame, which any site
  may embed (``HUBBUB_WIDGET_ANCESTORS`` narrows that to a list of origins);
- ``config.json`` tells the pages where the WebSocket endpoint is: ``websocketPath`` on this host,
  or ``websocketUrl`` when ``HUBBUB_WEB_WEBSOCKET_URL`` points the pages at another endpoint (an
  API Gateway stage, say), which is then also allowed by ``connect-src``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

__all__ = [
    "PAGES",
    "STATIC_DIR",
    "WIDGET_FRAME",
    "content_security_policy",
    "mount",
    "security_headers",
    "static_file",
]

STATIC_DIR = Path(__file__).resolve().parent / "static"
WIDGET_FRAME = "widget-frame.html"

PAGES: Mapping[str, str] = {
    "/": "index.html",
    "/r/{name}": "room.html",
    "/console": "console.html",
    "/demo": "demo.html",
}
"""Route -> page file in ``static/``; the same mapping a CDN's rewrite rules implement."""

_BASE_POLICY: Mapping[str, str] = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "font-src": "'self'",
    "connect-src": "'self'",
    "manifest-src": "'self'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
    "require-trusted-types-for": "'script'",
    "trusted-types": "'none'",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss", "http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


def content_security_policy(
    page: str, *, connect: tuple[str, ...] = (), widget_ancestors: str = "*"
) -> str:
    """The policy of one page file: the base policy, plus what that page needs."""
    policy = dict(_BASE_POLICY)
    if connect:
        policy["connect-src"] = " ".join(("'self'", *connect))
    if page == "demo.html":
        policy["frame-src"] = "'self'"  # the widget's frame; a host site lists the chat's origin
    if page == WIDGET_FRAME:
        policy["frame-ancestors"] = widget_ancestors
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def security_headers(
    name: str, *, connect: tuple[str, ...] = (), widget_ancestors: str = "*"
) -> dict[str, str]:
    """Response headers for one file of ``static/`` (a page or an asset)."""
    headers = {
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }
    if name.endswith(".html"):
        headers["Content-Security-Policy"] = content_security_policy(
            name, connect=connect, widget_ancestors=widget_ancestors
        )
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
        if name != WIDGET_FRAME:
            headers["X-Frame-Options"] = "DENY"
            headers["Cross-Origin-Opener-Policy"] = "same-origin"
    else:
        # assets (widget.js above all) load from the pages of other sites
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return headers


def static_file(name: str) -> Path | None:
    """The file of ``static/`` a request names, or None: a name with a control character (a
    null byte would make the file system call raise), a ``..`` step or an absolute path names
    nothing, rather than a file outside ``static/`` or a server error."""
    if not name or any(ord(c) < 32 or c == "\x7f" for c in name) or name.startswith("/"):
        return None
    if ".." in name.replace("\\", "/").split("/"):
        return None
    try:
        target = (STATIC_DIR / name).resolve()
        found = target.is_relative_to(STATIC_DIR) and target.is_file()
    except (OSError, ValueError):
        return None
    return target if found else None


def mount(app: web.Application, runtime: Any) -> None:
    external_ws = os.environ.get("HUBBUB_WEB_WEBSOCKET_URL", "").strip()
    external_origin = _origin(external_ws) if external_ws else None
    connect = (external_origin,) if external_origin else ()
    ancestors = os.environ.get("HUBBUB_WIDGET_ANCESTORS", "").strip() or "*"

    def file_response(name: str) -> web.StreamResponse:
        target = static_file(name)
        if target is None:
            raise web.HTTPNotFound()
        headers = security_headers(target.name, connect=connect, widget_ancestors=ancestors)
        return web.FileResponse(target, headers=headers)

    def page(name: str) -> Handler:
        async def serve(request: web.Request) -> web.StreamResponse:
            return file_response(name)

        return serve

    async def static(request: web.Request) -> web.StreamResponse:
        return file_response(request.match_info["path"])

    async def config_json(request: web.Request) -> web.StreamResponse:
        body: dict[str, str] = {}
        if external_ws:
            body["websocketUrl"] = external_ws
        else:
            gateway = next(iter(runtime.gateways.values()))
            body["websocketPath"] = f"/{gateway.api.stage}"
        return web.Response(
            text=json.dumps(body),
            content_type="application/json",
            headers={
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-cache",
                "Cross-Origin-Resource-Policy": "cross-origin",
            },
        )

    async def rooms_index(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/")

    app.router.add_get("/config.json", config_json)
    for route, name in PAGES.items():
        app.router.add_get(route, page(name))
    app.router.add_get("/r/", rooms_index)
    app.router.add_get("/static/{path:.+}", static)
