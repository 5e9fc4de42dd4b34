"""Serving the web client from ``hubbub serve``: pages, assets, ``config.json``, security headers.

The pages are static and can be hosted anywhere (see docs/web.md); this module only mounts them on
the local runtime's server, next to the WebSocket endpoint they talk to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp import web

__all__ = ["STATIC_DIR", "mount"]

STATIC_DIR = Path(__file__).resolve().parent / "static"


def mount(app: web.Application, runtime: Any) -> None:
    async def config_json(request: web.Request) -> web.StreamResponse:
        gateway = next(iter(runtime.gateways.values()))
        body = {"websocketPath": f"/{gateway.api.stage}"}
        return web.Response(text=json.dumps(body), content_type="application/json")

    async def index(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html")

    app.router.add_get("/config.json", config_json)
    app.router.add_get("/", index)
    app.router.add_static("/static/", STATIC_DIR)
