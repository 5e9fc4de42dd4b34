"""The runtime's own admin endpoints under ``/_runtime`` (faults, clock, dead letters, poison,
the TTL sweep, schedules, info, stats) and ``/metrics`` (open on loopback, behind the same key
on any other bind).

The endpoints live in a sub-application mounted at ``/_runtime`` whose one middleware checks the
``X-Hubbub-Runtime-Key`` header, so no handler can forget the check. The batch ``@connections``
route, registered on the main application at ``/_runtime/@connections``, is matched before the
sub-application (aiohttp tries the most specific path first) and keeps its own check.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from hubbub.runtime.dynamodb.checkpoints import DeadLetter, RuntimeState
from hubbub.runtime.dynamodb.poller import StreamPoller
from hubbub.runtime.dynamodb.sources import SqliteStreamSource
from hubbub.runtime.exposure import metrics_key_accepted

if TYPE_CHECKING:
    from hubbub.runtime.server import LocalRuntime

__all__ = ["KEY_HEADER", "ReplayRefused", "add_admin_routes", "replay_dead_letter"]

KEY_HEADER = "X-Hubbub-Runtime-Key"

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _require_key(key: str) -> Any:
    @web.middleware
    async def require_key(request: web.Request, handler: _Handler) -> web.StreamResponse:
        given = request.headers.get(KEY_HEADER, "").encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(given, key.encode()):
            return web.json_response({"message": "Forbidden"}, status=403)
        return await handler(request)

    return require_key


def add_admin_routes(app: web.Application, runtime: LocalRuntime) -> None:
    """Mount the admin sub-application at ``/_runtime`` and ``/metrics`` on ``app``."""
    admin = web.Application(middlewares=[_require_key(runtime.runtime_key)])
    endpoints = _Endpoints(runtime)
    admin.router.add_route("*", "/faults", endpoints.faults)
    admin.router.add_route("*", "/clock", endpoints.clock)
    admin.router.add_get("/dead-letters", endpoints.dead_letters)
    admin.router.add_post("/dead-letters/{id}/replay", endpoints.replay)
    admin.router.add_post("/poison", endpoints.poison)
    admin.router.add_post("/ttl/sweep", endpoints.sweep_ttl)
    admin.router.add_get("/schedules", endpoints.schedules)
    admin.router.add_post("/schedules/{id}/fire", endpoints.fire_schedule)
    admin.router.add_get("/info", endpoints.info)
    admin.router.add_get("/stats", endpoints.stats)
    app.add_subapp("/_runtime", admin)
    app.router.add_get("/metrics", endpoints.metrics)


def _letter_json(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "mapping": letter.mapping,
        "seq": letter.seq,
        "reason": letter.reason,
        "record": letter.record,
        "replayedMs": letter.replayed_ms,
    }


class ReplayRefused(Exception):
    """The dead letter cannot be re-delivered; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


async def replay_dead_letter(
    state: RuntimeState, pollers: list[StreamPoller], letter_id: int
) -> DeadLetter:
    """Re-deliver one dead letter to its mapping's function, alone in a batch, as the mapping
    would have; mark it replayed only when the function took it (no error, no
    ``batchItemFailures``), so a replay that fails again can be retried after a fix."""
    letter = next((d for d in state.dead_letters() if d.id == letter_id), None)
    if letter is None:
        raise ReplayRefused(404, f"no dead letter {letter_id}")
    if letter.replayed_ms is not None:
        raise ReplayRefused(409, f"dead letter {letter_id} was replayed already")
    poller = next((p for p in pollers if p.mapping.name == letter.mapping), None)
    if poller is None:
        raise ReplayRefused(404, f"the template has no mapping {letter.mapping}")
    result = await poller.pool.invoke({"Records": [letter.record]})
    if not result.ok:
        raise ReplayRefused(502, f"the function failed again: {result.error_type}")
    payload = result.payload
    if isinstance(payload, dict) and payload.get("batchItemFailures"):
        raise ReplayRefused(502, "the function reported the record failed again")
    state.mark_replayed(letter.id, time.time_ns() // 1_000_000)
    return next(d for d in state.dead_letters(letter.mapping) if d.id == letter.id)


class _Endpoints:
    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime

    @property
    def state(self) -> RuntimeState:
        assert self.runtime.state is not None, "the runtime is not started"
        return self.runtime.state

    async def faults(self, request: web.Request) -> web.StreamResponse:
        faults = self.runtime.config.faults
        if request.method == "POST":
            try:
                faults.update(await request.json())
            except (ValueError, TypeError) as exc:
                return web.json_response({"message": str(exc)}, status=400)
        return web.json_response(faults.as_dict())

    async def clock(self, request: web.Request) -> web.StreamResponse:
        path = self.runtime.config.data_dir / "clock-offset"
        if request.method == "POST":
            body = await request.json()
            path.write_text(str(int(body.get("offsetMs", 0))))
        offset_ms = int(path.read_text()) if path.exists() else 0
        return web.json_response({"offsetMs": offset_ms})

    async def dead_letters(self, request: web.Request) -> web.StreamResponse:
        return web.json_response([_letter_json(d) for d in self.state.dead_letters()])

    async def replay(self, request: web.Request) -> web.StreamResponse:
        try:
            letter_id = int(request.match_info["id"])
        except ValueError:
            return web.json_response({"message": "a dead letter id is a number"}, status=400)
        try:
            letter = await replay_dead_letter(self.state, self.runtime.pollers, letter_id)
        except ReplayRefused as exc:
            return web.json_response({"message": str(exc)}, status=exc.status)
        return web.json_response(_letter_json(letter))

    async def poison(self, request: web.Request) -> web.StreamResponse:
        """Append an undecodable message record to each table's stream, once however many
        mappings read it (fault injection): each of them gets it."""
        backing = self.runtime.backing
        poisoned: set[str] = set()
        for poller in self.runtime.pollers:
            table = poller.mapping.table
            if table in poisoned:
                continue
            if isinstance(poller.source, SqliteStreamSource):
                poller.source.append_poison(time.time_ns() // 1_000_000)
            elif backing is None or not await asyncio.to_thread(backing.put_poison, poller.mapping):
                continue
            poisoned.add(table)
        for poller in self.runtime.pollers:
            if poller.mapping.table in poisoned:
                poller.poke()
        if backing is not None and poisoned:
            backing.poke()
        return web.json_response({"poisoned": len(poisoned)})

    async def sweep_ttl(self, request: web.Request) -> web.StreamResponse:
        """Delete the expired items of the tables with TTL now, rather than at the next sweep,
        so a test (or a person) sees the expiry without waiting a minute."""
        backing = self.runtime.backing
        deleted = 0 if backing is None else await backing.sweep_expired()
        return web.json_response({"deleted": deleted})

    async def schedules(self, request: web.Request) -> web.StreamResponse:
        scheduler = self.runtime.scheduler
        return web.json_response([] if scheduler is None else scheduler.describe())

    async def fire_schedule(self, request: web.Request) -> web.StreamResponse:
        """Fire one schedule now (enabled or not) and answer once its function has returned, so
        a test can check the effect without waiting for the expression's next time."""
        scheduler = self.runtime.scheduler
        logical_id = request.match_info["id"]
        if scheduler is None or logical_id not in scheduler.entries:
            return web.json_response({"message": f"no schedule {logical_id}"}, status=404)
        result = await scheduler.fire(logical_id)
        return web.json_response(
            {
                "ok": result.ok,
                "errorType": result.error_type,
                "payload": result.payload if result.ok else None,
            }
        )

    async def info(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.runtime.info())

    async def stats(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.runtime.stats())

    async def metrics(self, request: web.Request) -> web.StreamResponse:
        runtime = self.runtime
        if runtime.exposed and not metrics_key_accepted(
            request.headers, runtime.runtime_key, KEY_HEADER
        ):
            return web.json_response({"message": "Forbidden"}, status=403)
        for poller in self.runtime.pollers:
            poller.measure()
        return web.Response(
            text=self.runtime.metrics.render(), content_type="text/plain", charset="utf-8"
        )
