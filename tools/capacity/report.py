"""Markdown tables of the measurements, ready to paste into docs/deploy.md."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict

from tools.capacity.permissions import PermissionReport
from tools.capacity.pricing import (
    PRICES,
    SOURCES,
    Prices,
    Workload,
    hubbub_membership,
    hubbub_message,
    sample_membership,
    sample_message,
)
from tools.capacity.scenarios import RoomCosts

__all__ = ["design_name", "render", "render_permissions"]


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _units(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}".rstrip("0")


def _usd(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:,.2f}"
    return f"{value:.3f}"


def design_name(room: RoomCosts) -> str:
    if room.design == "hubbub":
        return "hubbub"
    if room.other_connections:
        total = room.size + room.other_connections
        return f"samples + rooms ({total:,} connections)"
    return "samples"


def _calls(calls: dict[str, float]) -> str:
    return ", ".join(f"{_units(n)} {name}" for name, n in calls.items()) or "-"


def render(rooms: Sequence[RoomCosts], workload: Workload, prices: Prices = PRICES) -> str:
    out: list[str] = []
    out.append("### US$ per million messages")
    out.append("")
    rows = []
    for room in rooms:
        cost = (hubbub_message if room.design == "hubbub" else sample_message)(
            room, workload, prices
        )
        rows.append(
            [
                f"{room.size:,}",
                design_name(room),
                _units(cost.read_units),
                _units(cost.write_units),
                _units(cost.posts),
                _usd(cost.dynamodb * 1e6),
                _usd(cost.lambda_ * 1e6),
                _usd(cost.api_messages * 1e6),
                _usd(cost.connection_minutes * 1e6),
                _usd(cost.keepalive * 1e6),
                f"**{_usd(cost.total * 1e6)}**",
            ]
        )
    out += _table(
        [
            "room",
            "design",
            "RRU/msg",
            "WRU/msg",
            "posts/msg",
            "DynamoDB",
            "Lambda",
            "WS messages",
            "conn. minutes",
            "keepalive",
            "total",
        ],
        rows,
    )
    out.append("")
    out.append("### Measured per path (one event; means over the runs)")
    out.append("")
    rows = []
    for room in rooms:
        for name, path in room.paths.items():
            rows.append(
                [
                    f"{room.size:,}",
                    design_name(room),
                    f"{name} ({path.function})",
                    _units(path.read_units),
                    _units(path.write_units),
                    _units(path.index_write_units),
                    _calls(path.calls),
                    _units(path.posts),
                ]
            )
    out += _table(
        ["room", "design", "path", "RRU", "WRU", "of which GSI", "DynamoDB requests", "posts"],
        rows,
    )
    out.append("")
    out.append("### One member joining and leaving the room")
    out.append("")
    rows = []
    for room in rooms:
        if room.other_connections:
            continue
        member = (hubbub_membership if room.design == "hubbub" else sample_membership)(
            room, workload, prices
        )
        rows.append(
            [
                f"{room.size:,}",
                design_name(room),
                _units(member.read_units),
                _units(member.write_units),
                _units(member.posts),
                _usd(member.usd * 1e6),
            ]
        )
    out += _table(["room", "design", "RRU", "WRU", "posts", "US$ per million members"], rows)
    out.append("")
    out.append("### Assumptions (not measured)")
    out.append("")
    out += [f"- `{name}` = {value}" for name, value in asdict(workload).items()]
    out.append("")
    out.append("### Prices (us-east-1, assumed 2026-11-23; re-check them)")
    out.append("")
    out += [f"- `{name}` = ${value:.10g}" for name, value in asdict(prices).items()]
    out += [f"- {what}: <{url}>" for what, url in SOURCES]
    return "\n".join(out) + "\n"


def render_permissions(reports: Sequence[PermissionReport]) -> str:
    def grants(values: Iterable[tuple[str, str]]) -> str:
        return "<br>".join(f"`{action}` {resource}" for action, resource in sorted(values)) or "-"

    rows = [
        [report.function, grants(report.used), grants(report.missing), grants(report.unused)]
        for report in reports
    ]
    lines = _table(["function", "needs", "missing from template", "granted, unused"], rows)
    return "\n".join(lines) + "\n"
