"""Assembles the local runtime from a template: function pools, WebSocket gateways, HTTP APIs, the
``@connections`` API, stream pollers, and the runtime's own admin endpoints, on one aiohttp app.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from hubbub.clock import OffsetClock
from hubbub.runtime.connections_api import add_batch_route, add_connections_routes
from hubbub.runtime.faults import Faults
from hubbub.runtime.gateway import WebSocketGateway
from hubbub.runtime.httpapi import HTTP_PREFIX, HttpApiGateway
from hubbub.runtime.lambdas import FunctionPool
from hubbub.runtime.metrics import Registry
from hubbub.runtime.quotas import Quotas
from hubbub.runtime.state import RuntimeState
from hubbub.runtime.streams import SqliteStreamSource, StreamPoller
from hubbub.runtime.template import AppSpec, load_app

__all__ = ["LocalRuntime", "RuntimeConfig"]

log = logging.getLogger("hubbub.runtime")


@dataclass(slots=True)
class RuntimeConfig:
    template: Path
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    quotas: Quotas = field(default_factory=Quotas)
    faults: Faults = field(default_factory=Faults)
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    env_overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    """``sam local --env-vars`` shape: ``{"Parameters": {...}, "<FunctionLogicalId>": {...}}``."""
    max_workers: int = 4
    region: str = "us-east-1"
    poll_interval_s: float = 0.25
    mount: Callable[[web.Application, LocalRuntime], None] | None = None
    """Adds the host application's own routes (hubbub's web client) to the runtime's server."""


class LocalRuntime:
    def __init__(self, config: RuntimeConfig) -> None:
        self.config = config
        self.spec: AppSpec = load_app(
            config.template,
            parameter_overrides=config.parameter_overrides,
            region=config.region,
        )
        self.app = web.Application(client_max_size=1024**2)
        self.pools: dict[str, FunctionPool] = {}
        self.gateways: dict[str, WebSocketGateway] = {}
        self.http_apis: dict[str, HttpApiGateway] = {}
        self.pollers: list[StreamPoller] = []
        self.runtime_key = secrets.token_urlsafe(24)
        self.access_key_id = "AKIALOCAL" + secrets.token_hex(6).upper()
        self.secret_access_key = secrets.token_urlsafe(30)
        self.state: RuntimeState | None = None
        self.metrics = Registry()
        self._runner: web.AppRunner | None = None
        self.host = config.host
        self.port = config.port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def websocket_url(self, api: str | None = None) -> str:
        gateway = self.gateways[api] if api else next(iter(self.gateways.values()))
        return f"ws://{self.host}:{self.port}/{gateway.api.stage}"

    def http_api_url(self, api: str) -> str:
        """The local stand-in for ``https://{apiId}.execute-api.{region}.amazonaws.com``."""
        return f"{self.base_url}{self.http_apis[api].base}"

    async def start(self) -> None:
        config = self.config
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self._write_private(config.data_dir / "runtime-key", self.runtime_key)
        self._write_private(
            config.data_dir / "runtime-credentials.json",
            json.dumps(
                {
                    "aws_access_key_id": self.access_key_id,
                    "aws_secret_access_key": self.secret_access_key,
                }
            ),
        )
        self.state = RuntimeState(config.data_dir / "runtime.sqlite3")
        self.clock = OffsetClock(config.data_dir / "clock-offset")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((config.host, config.port))
        self.port = sock.getsockname()[1]

        runtime_env = {
            "HUBBUB_RUNTIME_API": f"{self.base_url}/_runtime",
            "HUBBUB_RUNTIME_KEY": self.runtime_key,
            "HUBBUB_RUNTIME_DATA_DIR": str(config.data_dir.resolve()),
            "HUBBUB_CLOCK_OFFSET_FILE": str((config.data_dir / "clock-offset").resolve()),
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": "local",
        }
        shared = config.env_overrides.get("Parameters", {})
        for logical_id, fn in self.spec.functions.items():
            localized = {
                k: local for k, v in fn.environment.items() if (local := self._localize(v)) != v
            }
            self.pools[logical_id] = FunctionPool(
                fn,
                runtime_env=runtime_env,
                overrides={**localized, **shared, **config.env_overrides.get(logical_id, {})},
                max_workers=config.max_workers,
                region=config.region,
            )
            self.pools[logical_id].on_complete = self._poke_all
            self.pools[logical_id].metrics = self.metrics

        for logical_id, api in self.spec.websocket_apis.items():
            gateway = WebSocketGateway(api, self.pools, config.quotas, config.faults)
            gateway.metrics = self.metrics
            self.gateways[logical_id] = gateway
            self.app.router.add_get(f"/{api.stage}", gateway.handle)
            add_connections_routes(self.app, gateway, self.access_key_id)
        add_batch_route(self.app, self.gateways, self.runtime_key)
        self._admin_routes()
        self._http_api_routes()
        if config.mount is not None:
            config.mount(self.app, self)

        for mapping in self.spec.mappings:
            table = self.spec.tables[mapping.table]
            source = SqliteStreamSource(config.data_dir / f"{table.name}.sqlite3")
            poller = StreamPoller(
                mapping,
                table,
                f"arn:aws:dynamodb:{config.region}:123456789012:table/{table.name}/stream/local",
                source,
                self.pools[mapping.function],
                self.state,
                region=config.region,
                poll_interval_s=config.poll_interval_s,
                duplicate_batches=lambda: self.config.faults.duplicate_stream_batches,
                paused=lambda: self.config.faults.streams_paused,
                now_ms=self.clock.now_ms,
            )
            poller.metrics = self.metrics
            self.pollers.append(poller)

        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.SockSite(self._runner, sock)
        await site.start()
        for gateway in self.gateways.values():
            gateway.start()
        for poller in self.pollers:
            poller.start()
        for logical_id, kind in self.spec.unsupported:
            log.warning("not emulated: %s (%s)", logical_id, kind)

    def _localize(self, value: str) -> str:
        """Point execute-api URLs of this template's APIs at the local server.

        A function configured on AWS with ``https://{apiId}.execute-api.{region}.amazonaws.com/{stage}``
        (the usual ``@connections`` endpoint) then reaches the runtime unchanged in its code.
        """
        api_ids = [a.api_id for a in self.spec.websocket_apis.values()]
        api_ids += [a.api_id for a in self.spec.http_apis.values()]
        for api_id in api_ids:
            host = f"{api_id}.execute-api.{self.config.region}.amazonaws.com"
            value = value.replace(f"https://{host}", self.base_url)
            value = value.replace(f"wss://{host}", f"ws://{self.host}:{self.port}")
        return value

    def _poke_all(self) -> None:
        for poller in self.pollers:
            poller.poke()

    async def stop(self) -> None:
        log.info("stopping: closing connections")
        for gateway in self.gateways.values():
            await gateway.shutdown()
        log.info("stopping: stream pollers")
        for poller in self.pollers:
            await poller.stop()
        log.info("stopping: HTTP server")
        if self._runner is not None:
            await self._runner.cleanup()
        await asyncio.gather(*(api.shutdown() for api in self.http_apis.values()))
        log.info("stopping: workers")
        await asyncio.gather(*(pool.close() for pool in self.pools.values()))
        if self.state is not None:
            self.state.close()
        log.info("stopped")

    @staticmethod
    def _write_private(path: Path, text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(text)

    # HTTP APIs ------------------------------------------------------------------------------
    def _http_api_routes(self) -> None:
        """Registered before the host's routes, so a catch-all page of the host never hides an
        API route; :meth:`_taken_paths` keeps the APIs from hiding the host's pages in turn."""
        reserved = self._taken_paths()
        for logical_id, api in self.spec.http_apis.items():
            gateway = HttpApiGateway(
                api,
                self.pools,
                self.config.quotas,
                account_id=self.spec.account_id,
                reserved=reserved,
            )
            gateway.mount(self.app)
            self.http_apis[logical_id] = gateway

    def _taken_paths(self) -> frozenset[str]:
        """First path segments the server already answers: the root page, the runtime's own
        endpoints, each WebSocket stage, and whatever the host mounts (learnt by mounting it on
        a scratch application, which is never started)."""
        taken = {"", "_runtime", HTTP_PREFIX.strip("/")}
        taken.update(api.stage for api in self.spec.websocket_apis.values())
        if self.config.mount is not None:
            scratch = web.Application()
            self.config.mount(scratch, self)
            taken.update(
                resource.canonical.split("/")[1] for resource in scratch.router.resources()
            )
        return frozenset(taken)

    # admin ----------------------------------------------------------------------------------
    def _admin_routes(self) -> None:
        key = self.runtime_key

        def authorized(request: web.Request) -> bool:
            return request.headers.get("X-Hubbub-Runtime-Key") == key

        async def faults(request: web.Request) -> web.StreamResponse:
            if not authorized(request):
                return web.json_response({"message": "Forbidden"}, status=403)
            if request.method == "POST":
                try:
                    self.config.faults.update(await request.json())
                except (ValueError, TypeError) as exc:
                    return web.json_response({"message": str(exc)}, status=400)
            return web.json_response(self.config.faults.as_dict())

        async def clock(request: web.Request) -> web.StreamResponse:
            if not authorized(request):
                return web.json_response({"message": "Forbidden"}, status=403)
            path = self.config.data_dir / "clock-offset"
            if request.method == "POST":
                body = await request.json()
                offset = int(body.get("offsetMs", 0))
                path.write_text(str(offset))
            offset_ms = int(path.read_text()) if path.exists() else 0
            return web.json_response({"offsetMs": offset_ms})

        async def dead_letters(request: web.Request) -> web.StreamResponse:
            if not authorized(request):
                return web.json_response({"message": "Forbidden"}, status=403)
            assert self.state is not None
            letters = self.state.dead_letters()
            return web.json_response(
                [
                    {
                        "id": d.id,
                        "mapping": d.mapping,
                        "seq": d.seq,
                        "reason": d.reason,
                        "record": d.record,
                        "replayedMs": d.replayed_ms,
                    }
                    for d in letters
                ]
            )

        async def stats(request: web.Request) -> web.StreamResponse:
            if not authorized(request):
                return web.json_response({"message": "Forbidden"}, status=403)
            return web.json_response(self.stats())

        self.app.router.add_route("*", "/_runtime/faults", faults)
        self.app.router.add_route("*", "/_runtime/clock", clock)
        self.app.router.add_get("/_runtime/dead-letters", dead_letters)

        async def poison(request: web.Request) -> web.StreamResponse:
            """Append an undecodable message record to every stream (fault injection)."""
            if not authorized(request):
                return web.json_response({"message": "Forbidden"}, status=403)
            count = 0
            for poller in self.pollers:
                if isinstance(poller.source, SqliteStreamSource):
                    poller.source.append_poison(time.time_ns() // 1_000_000)
                    poller.poke()
                    count += 1
            return web.json_response({"poisoned": count})

        async def metrics(request: web.Request) -> web.StreamResponse:
            for poller in self.pollers:
                poller.measure()
            return web.Response(
                text=self.metrics.render(), content_type="text/plain", charset="utf-8"
            )

        self.app.router.add_get("/_runtime/stats", stats)
        self.app.router.add_post("/_runtime/poison", poison)
        self.app.router.add_get("/metrics", metrics)

    def stats(self) -> dict[str, Any]:
        return {
            "functions": {
                name: {
                    "invocations": p.invocations,
                    "errors": p.errors,
                    "coldStarts": p.cold_starts,
                    "timeouts": p.timeouts,
                    "workers": p.size,
                }
                for name, p in self.pools.items()
            },
            "gateways": {
                name: {**g.stats, "open": len(g.connections)} for name, g in self.gateways.items()
            },
            "httpApis": {name: api.stats.as_dict() for name, api in self.http_apis.items()},
            "streams": {
                p.mapping.name: {
                    "batches": p.batches,
                    "deadLettered": p.dead_lettered,
                    "checkpoint": self.state.checkpoint(p.mapping.name) if self.state else None,
                }
                for p in self.pollers
            },
        }
