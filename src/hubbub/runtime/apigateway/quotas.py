"""API Gateway quotas, AWS defaults, each configurable (``hubbub serve --quota ...``).

``integration_timeout_s`` is the WebSocket APIs' 29 s (``$connect`` included);
``http_integration_timeout_s`` is the HTTP APIs' maximum, 30 s (*Amazon API Gateway quotas*).

The last group has no AWS counterpart: API Gateway has no per-client limits (a WAF rate-based rule
adds one on AWS), but a local server reached by strangers needs them. 0 turns a cap off.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Quotas", "integration_wait_s"]


@dataclass(frozen=True, slots=True)
class Quotas:
    frame_bytes: int = 32 * 1024
    message_bytes: int = 128 * 1024
    post_bytes: int = 128 * 1024
    idle_timeout_s: float = 600.0
    max_connection_s: float = 7200.0
    integration_timeout_s: float = 29.0
    http_integration_timeout_s: float = 30.0
    authorizer_result_bytes: int = 8 * 1024
    new_connections_per_s: float = 500.0
    in_flight_per_connection: int = 32
    slow_consumer_bytes: int = 4 * 1024 * 1024
    new_connections_per_address_per_s: float = 50.0
    """One source address's share of ``new_connections_per_s`` (a bucket of one second's worth)."""
    connections_per_address: int = 100
    """Open WebSocket connections one source address may hold."""
    header_timeout_s: float = 10.0
    """The whole request head must arrive within this time of the connection opening."""
    unfinished_heads_per_address: int = 32
    """Connections of one source address whose request head has not arrived yet."""


def integration_wait_s(api_s: float, own_s: float | None) -> float:
    """How long a gateway waits for an integration: its own ``TimeoutInMillis`` when it sets
    one, never past the API's timeout (the quota)."""
    return api_s if own_s is None else min(own_s, api_s)
