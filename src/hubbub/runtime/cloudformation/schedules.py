"""``Schedule`` and ``ScheduleV2`` events of SAM functions: the expression (checked here, so a
template EventBridge would refuse, or one using what is not emulated, fails at load), whether
the rule or schedule is enabled, its name, its ``Input`` and (ScheduleV2) its time zone."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hubbub.runtime.cloudformation.functions import function_events
from hubbub.runtime.cloudformation.intrinsics import Resolver, TemplateError
from hubbub.runtime.cloudformation.specs import AppSpec, ScheduleSpec
from hubbub.runtime.eventbridge.expressions import ScheduleError, parse_expression

__all__ = ["SCHEDULE_EVENTS", "read_schedules"]

SCHEDULE_EVENTS = frozenset({"Schedule", "ScheduleV2"})
_NOT_HONOURED = ("StartDate", "EndDate", "FlexibleTimeWindow", "RetryPolicy", "DeadLetterConfig")
"""Read by EventBridge but not by the runtime: listed at start-up when a template sets them."""


def read_schedules(app: AppSpec, resources: Mapping[str, Any], resolver: Resolver) -> None:
    """Adds every schedule event to ``app``; its functions must have been read already."""
    for logical_id, resource in resources.items():
        for event_name, event in function_events(app, logical_id, resource):
            kind = event.get("Type")
            if kind not in SCHEDULE_EVENTS:
                continue
            where = f"{logical_id}.{event_name}"
            props = resolver.resolve(event.get("Properties") or {})
            app.schedules.append(_schedule(str(kind), logical_id, event_name, props, where))
            for name in _NOT_HONOURED:
                if props.get(name) and props[name] != {"Mode": "OFF"}:
                    app.unsupported.append((where, f"{kind} {name} (not honoured)"))


def _enabled(kind: str, props: Mapping[str, Any], where: str) -> bool:
    """``State`` (both kinds) wins over ``Enabled`` (Schedule only); enabled by default."""
    state = props.get("State")
    if state is not None:
        if str(state) not in ("ENABLED", "DISABLED"):
            raise TemplateError(f"{where}: State must be ENABLED or DISABLED, not {state!r}")
        return str(state) == "ENABLED"
    enabled = props.get("Enabled", True)
    if kind == "ScheduleV2" and "Enabled" in props:
        raise TemplateError(f"{where}: a ScheduleV2 event takes State, not Enabled")
    if not isinstance(enabled, bool):
        raise TemplateError(f"{where}: Enabled must be true or false")
    return enabled


def _input(props: Mapping[str, Any], where: str) -> Any:
    raw = props.get("Input")
    if raw is None:
        return None
    try:
        return json.loads(str(raw))
    except ValueError:
        raise TemplateError(f"{where}: Input must be a JSON text") from None


def _schedule(
    kind: str, function: str, event_name: str, props: Mapping[str, Any], where: str
) -> ScheduleSpec:
    key = "Schedule" if kind == "Schedule" else "ScheduleExpression"
    if key not in props:
        raise TemplateError(f"{where}: a {kind} event needs {key}")
    expression = str(props[key])
    try:
        parse_expression(expression, allow_at=kind == "ScheduleV2")
    except ScheduleError as exc:
        raise TemplateError(f"{where}: {exc}") from None
    timezone = str(props.get("ScheduleExpressionTimezone") or "UTC")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise TemplateError(f"{where}: unknown ScheduleExpressionTimezone {timezone!r}") from None
    return ScheduleSpec(
        logical_id=where,
        function=function,
        kind=kind,
        expression=expression,
        enabled=_enabled(kind, props, where),
        name=str(props.get("Name") or f"{function}{event_name}"),
        input=_input(props, where),
        timezone=timezone,
    )
