"""Markdown for the large-room model and the two edges (``python -m tools.capacity --scale``),
ready to paste into docs/deploy.md."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace

from tools.capacity.edges import IOT_SOURCES, USAGE, Usage, api_gateway, iot_core
from tools.capacity.report import _table, _usd
from tools.capacity.scale import (
    LATENCY,
    QUOTA_SOURCES,
    QUOTAS,
    SQS_SOURCES,
    Design,
    Latency,
    Path,
    Quotas,
    RoomScale,
    scale,
)

__all__ = [
    "AS_BUILT",
    "TARGET_MS",
    "TARGET_OVER_FLOOR",
    "TUNED",
    "render_edges",
    "render_scale",
    "required_rps",
    "verdict",
]

TARGET_MS = 2000.0
TARGET_OVER_FLOOR = 0.10


def required_rps(
    size: int, design: Design, latency: Latency = LATENCY, quotas: Quotas = QUOTAS
) -> int | None:
    """The smallest API Gateway account throttle (in thousands; its burst bucket half of it, as
    by default) at which the model reaches the room's last member within ``TARGET_MS``, or None
    when no throttle would (the design itself is too slow)."""
    for thousands in range(10, 1001, 5):
        rps = thousands * 1000
        raised = replace(quotas, callback_rps=rps, callback_burst=rps // 2)
        if scale(size, design, latency=latency, quotas=raised).last_delivery_ms <= TARGET_MS:
            return rps
    return None


def _seconds(ms: float) -> str:
    return f"{ms / 1000:.2f} s" if ms < 10_000 else f"{ms / 1000:,.0f} s"


AS_BUILT = Design(path=Path.CHUNKED, chunk_size=1000, message_groups=64, push_parallel=16)
"""The chunked fan-out with the template's defaults (``FanOutChunkSize`` 1,000,
``FanOutChunkGroups`` 64) and ``ApiGatewayPush``'s 16 posts in flight."""
TUNED = Design(path=Path.CHUNKED, chunk_size=500, message_groups=256, push_parallel=16)
"""The same code with ``FanOutChunkSize`` 500 and ``FanOutChunkGroups`` 256."""


def _how(room: RoomScale, name: str, design: Design) -> str:
    if not room.chunked:
        return "single"
    groups = f", {design.message_groups} groups" if design.message_groups else ""
    return (
        f"{name}: {room.chunks:,} chunks of <= {design.chunk_size}{groups},"
        f" {design.push_parallel} in flight"
    )


def _row(room: RoomScale, name: str, design: Design) -> list[str]:
    return [
        f"{room.size:,}",
        _how(room, name, design),
        _seconds(room.last_delivery_ms),
        _seconds(room.unthrottled_ms),
        f"{room.concurrency:,}",
        _usd(room.usd * 1e6),
        f"{room.over_floor:+.1%}",
        f"{room.max_messages_per_s:g} ({room.binding})",
        f"{room.refill_s:g} s",
        "; ".join(room.limits) or "-",
    ]


def verdict(size: int, name: str, design: Design, latency: Latency, quotas: Quotas) -> str:
    """Whether ``design`` meets the target for a room of ``size``, and at which throttle."""
    room = scale(size, design, latency=latency, quotas=quotas)
    meets = room.last_delivery_ms <= TARGET_MS and room.over_floor <= TARGET_OVER_FLOOR
    said = (
        f"- {name}: **{'met' if meets else 'not met'}** at the default quotas"
        f" ({_seconds(room.last_delivery_ms)}, {room.over_floor:+.1%} per delivery); "
    )
    needed = required_rps(size, design, latency, quotas)
    if needed is None:
        return said + (
            f"not at any account throttle ({_seconds(room.unthrottled_ms)} without one)."
        )
    at = replace(quotas, callback_rps=needed, callback_burst=needed // 2)
    raised = scale(size, design, latency=latency, quotas=at)
    return said + (
        f"met with the API Gateway account throttle raised to {needed:,} RPS"
        f" ({_seconds(raised.last_delivery_ms)}, {raised.over_floor:+.1%})."
    )


def render_scale(
    sizes: Sequence[int],
    designs: Sequence[tuple[str, Design]] = (("as built", AS_BUILT), ("tuned", TUNED)),
    *,
    topic_send_per_s: float = 50.0,
    latency: Latency = LATENCY,
    quotas: Quotas = QUOTAS,
) -> str:
    """Today's single path and each chunked design for each room size, and the verdicts."""
    out = ["### One message to a large room", ""]
    rows = []
    for name, design in (("single", Design()), *designs):
        for size in sizes:
            if name != "single" and not design.chunked_for(size):
                continue  # the same single path as above
            room = scale(
                size, design, topic_send_per_s=topic_send_per_s, latency=latency, quotas=quotas
            )
            rows.append(_row(room, name, design))
    out += _table(
        [
            "room",
            "fan-out",
            "last delivery",
            "without the account throttle",
            "Lambda per message",
            "US$ per million messages",
            "per delivery vs $1/M",
            "messages/s the room sustains (what binds)",
            "room reconnects in",
            "limits hit",
        ],
        rows,
    )
    biggest = max(sizes)
    out += [
        "",
        f"Target, a room of {biggest:,}: last member within {TARGET_MS / 1000:g} s, cost per"
        f" delivery within {TARGET_OVER_FLOOR:.0%} of $1 per million:",
        "",
    ]
    out += [verdict(biggest, name, design, latency, quotas) for name, design in designs]
    out += ["", "Parameters:", ""]
    for name, design in designs:
        out += [f"- {name}: `{key}` = {value}" for key, value in asdict(design).items()]
    out += [f"- `{name}` = {value}" for name, value in asdict(latency).items()]
    out += [f"- `{name}` = {value}" for name, value in asdict(quotas).items()]
    out += ["", "Sources:", ""]
    out += [f"- {what}: <{url}>" for what, url in (*QUOTA_SOURCES, *SQS_SOURCES)]
    return "\n".join(out) + "\n"


def render_edges(sizes: Sequence[int], usage: Usage = USAGE) -> str:
    """US$ per million messages on each edge, by what it bills."""
    out = ["### A million messages: API Gateway or IoT Core", ""]
    rows = []
    acked = replace(usage, subscriber_qos=1, mqtt_version=3)
    for size in sizes:
        for name, cost in (
            ("API Gateway (WebSocket)", api_gateway(size, usage)),
            ("IoT Core (MQTT, QoS 0 or MQTT 5)", iot_core(size, usage)),
            ("IoT Core (MQTT 3.1.1, QoS 1)", iot_core(size, acked)),
        ):
            rows.append(
                [
                    f"{size:,}",
                    name,
                    _usd(cost.messaging * 1e6),
                    _usd(cost.compute * 1e6),
                    _usd(cost.connection_minutes * 1e6),
                    _usd(cost.keepalive * 1e6),
                    f"**{_usd(cost.total * 1e6)}**",
                ]
            )
    out += _table(
        [
            "room",
            "edge",
            "messaging",
            "Lambda + DynamoDB",
            "conn. minutes",
            "keepalive",
            "total",
        ],
        rows,
    )
    out += ["", "Sources:", ""]
    out += [f"- {what}: <{url}>" for what, url in IOT_SOURCES]
    return "\n".join(out) + "\n"
