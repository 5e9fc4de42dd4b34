"""Fault injection for the local runtime: off by default, switched on per test or by flags.

Each fault reproduces something that happens on AWS and broke the systems before us: duplicate
invocations, ``@connections`` posts that hang or answer 410/429, a worker that dies after its write,
a ``$disconnect`` that never arrives, IoT Core's lifecycle events twice, a controllable clock.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["Faults"]


@dataclass(slots=True)
class Faults:
    duplicate_invocations: bool = False
    """Invoke every message route twice with the same event (Lambda's at-least-once)."""
    duplicate_stream_batches: bool = False
    """Deliver every stream batch twice."""
    post_hang_s: float = 0.0
    """Every ``@connections`` post waits this long before answering."""
    post_status: int | None = None
    """Every ``@connections`` post answers this status (410 or 429) without delivering."""
    drop_disconnect: bool = False
    """``$disconnect`` is never invoked (network loss on AWS)."""
    kill_after_invoke: bool = False
    """Message-route workers are killed after the handler ran, before the reply is sent."""
    streams_paused: bool = False
    """Stream pollers hand nothing to their functions (records pile up into big batches)."""
    duplicate_lifecycle_events: bool = False
    """IoT Core publishes every lifecycle event twice (*Lifecycle events*: "You might receive
    duplicate messages")."""

    def update(self, changes: dict[str, Any]) -> None:
        names = {f.name for f in fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        for name, value in changes.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
