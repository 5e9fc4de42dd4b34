"""The loop that fires a template's schedules on the runtime's clock (which the admin API can move
forward), and fires one on demand for tests.

Each enabled schedule asks :func:`expressions.next_fire` when it fires next, sleeps towards that
time in short steps (so a clock moved by the admin API is noticed within a second) and invokes its
function asynchronously, as EventBridge does: the invocation is not awaited by the loop, and a
failure is logged. A fire time the clock jumped over fires once, not once per missed period.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hubbub.runtime.cloudformation import ScheduleSpec
from hubbub.runtime.eventbridge.events import schedule_event
from hubbub.runtime.eventbridge.expressions import Expression, next_fire, parse_expression
from hubbub.runtime.lambda_.pool import FunctionPool, InvokeResult

__all__ = ["Scheduler"]

log = logging.getLogger("hubbub.schedules")

_STEP_S = 1.0
"""The longest sleep between two looks at the clock."""


@dataclass(eq=False)
class _Entry:
    spec: ScheduleSpec
    expression: Expression
    next_at: datetime | None = None
    fired: int = 0
    errors: int = 0


@dataclass(eq=False)
class Scheduler:
    schedules: list[ScheduleSpec]
    pools: Mapping[str, FunctionPool]
    now_ms: Callable[[], int]
    region: str
    account_id: str
    entries: dict[str, _Entry] = field(init=False, default_factory=dict)
    _tasks: set[asyncio.Task[Any]] = field(init=False, default_factory=set)
    _anchor: datetime = field(init=False)

    def __post_init__(self) -> None:
        for spec in self.schedules:
            expression = parse_expression(spec.expression, allow_at=spec.kind == "ScheduleV2")
            self.entries[spec.logical_id] = _Entry(spec, expression)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.now_ms() / 1000, UTC)

    def _plan(self, entry: _Entry, after: datetime) -> None:
        zone = ZoneInfo(entry.spec.timezone)
        entry.next_at = next_fire(entry.expression, after, anchor=self._anchor, zone=zone)

    def start(self) -> None:
        self._anchor = self._now()
        for entry in self.entries.values():
            if entry.spec.enabled:
                self._plan(entry, self._anchor)
                self._spawn(self._run(entry))

    async def stop(self) -> None:
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _run(self, entry: _Entry) -> None:
        while entry.next_at is not None:
            wait_s = (entry.next_at - self._now()).total_seconds()
            if wait_s > 0:
                await asyncio.sleep(min(wait_s, _STEP_S))
                continue
            fire_time = entry.next_at
            self._plan(entry, max(self._now(), fire_time))
            self._spawn(self.fire(entry.spec.logical_id, fire_time))

    async def fire(self, logical_id: str, fire_time: datetime | None = None) -> InvokeResult:
        """Invoke the schedule's function once with the event its service sends."""
        entry = self.entries[logical_id]
        event = schedule_event(
            entry.spec,
            fire_time or self._now(),
            region=self.region,
            account_id=self.account_id,
        )
        entry.fired += 1
        result = await self.pools[entry.spec.function].invoke(event)
        if not result.ok:
            entry.errors += 1
            log.warning(
                "schedule %s: %s failed (%s)",
                logical_id,
                entry.spec.function,
                result.error_type,
            )
        return result

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "logicalId": entry.spec.logical_id,
                "function": entry.spec.function,
                "kind": entry.spec.kind,
                "expression": entry.spec.expression,
                "enabled": entry.spec.enabled,
                "nextFire": None if entry.next_at is None else entry.next_at.isoformat(),
                "fired": entry.fired,
                "errors": entry.errors,
            }
            for entry in self.entries.values()
        ]
