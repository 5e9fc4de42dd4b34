"""How often a client must ping to keep its connection: the gateway closes a connection that is
silent for its idle timeout (API Gateway: 10 minutes; the local runtime: its ``idle_timeout_s``
quota), and every ping is a billed message, so clients ping as seldom as that allows.

The server says the interval in ``hello.limits.pingIntervalMs``; clients follow it instead of a
fixed 30 s. Half the idle timeout leaves a whole interval of slack for a ping that is late (a
throttled background tab, a slow network) before the gateway gives up on the connection.
"""

from __future__ import annotations

__all__ = ["MIN_PING_INTERVAL_MS", "ping_interval_ms"]

MIN_PING_INTERVAL_MS = 100
"""A floor, so a mistyped idle timeout of zero does not turn into a ping storm."""


def ping_interval_ms(idle_timeout_s: float) -> int:
    """The ping interval for a gateway that closes connections idle for ``idle_timeout_s``."""
    return max(MIN_PING_INTERVAL_MS, int(idle_timeout_s * 1000) // 2)
