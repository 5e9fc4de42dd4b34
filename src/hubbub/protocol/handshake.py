"""Where a client's token travels on the WebSocket handshake, and which subprotocol is echoed.

A token in the URL ends up in proxy and load-balancer access logs, so clients have two other
transports (docs/protocol.md, "Connecting"):

- ``Authorization: Bearer <token>``, for clients that can set handshake headers (the Python
  client, command-line tools);
- a ``Sec-WebSocket-Protocol`` value ``hubbub.token.<token>`` next to ``hubbub.v1``, for
  browsers, whose WebSocket API sets no headers but does send subprotocols. The handshake must
  then answer with one of the offered subprotocols or the browser drops the connection: ``$connect``
  returns ``hubbub.v1`` in its response headers (API Gateway passes them on), never the token.

``?token=`` still works, for older clients. A handshake carrying two different tokens is refused
rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hubbub.protocol.errors import ErrorCode, ProtocolError

__all__ = ["SUBPROTOCOL", "TOKEN_SUBPROTOCOL_PREFIX", "Handshake", "read_handshake"]

SUBPROTOCOL = "hubbub.v1"
TOKEN_SUBPROTOCOL_PREFIX = "hubbub.token."  # noqa: S105 (a prefix, not a secret)


@dataclass(frozen=True, slots=True)
class Handshake:
    token: str | None
    """The token the client presented, if any (a guest presents none)."""
    subprotocol: str | None
    """The subprotocol to echo in the ``$connect`` response; None when none was offered."""

    def response_headers(self) -> dict[str, str]:
        return {} if self.subprotocol is None else {"Sec-WebSocket-Protocol": self.subprotocol}


def read_handshake(query: Mapping[str, str], headers: Mapping[str, str]) -> Handshake:
    """The token and subprotocol of a ``$connect``: ``headers`` by any case, repeated headers
    joined with commas. Raises ``bad_request`` for subprotocols without ``hubbub.v1`` and
    ``unauthorized`` for a malformed ``Authorization`` or conflicting tokens."""
    lower = {k.lower(): v for k, v in headers.items()}
    offered = [p.strip() for p in lower.get("sec-websocket-protocol", "").split(",") if p.strip()]
    carried = [p[len(TOKEN_SUBPROTOCOL_PREFIX) :] for p in offered if _is_token(p)]
    if offered and SUBPROTOCOL not in offered:
        raise ProtocolError(ErrorCode.BAD_REQUEST, f"offer the {SUBPROTOCOL} subprotocol")
    tokens = [*carried, *_bearer(lower.get("authorization")), *_nonempty(query.get("token"))]
    if any(not t for t in carried) or len(set(tokens)) > 1:
        raise ProtocolError(ErrorCode.UNAUTHORIZED, "one token, in one place")
    return Handshake(tokens[0] if tokens else None, SUBPROTOCOL if offered else None)


def _is_token(subprotocol: str) -> bool:
    return subprotocol.startswith(TOKEN_SUBPROTOCOL_PREFIX)


def _bearer(authorization: str | None) -> list[str]:
    if authorization is None or not authorization.strip():
        return []
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProtocolError(ErrorCode.UNAUTHORIZED, "use 'Authorization: Bearer <token>'")
    return [token.strip()]


def _nonempty(value: str | None) -> list[str]:
    return [value] if value else []
