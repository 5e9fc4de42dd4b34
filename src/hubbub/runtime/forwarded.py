"""The client's address when a reverse proxy the operator trusts stands in front.

Behind nginx or Caddy every connection comes from the proxy, so the per-address limits
(admission, open connections, unfinished request heads) would lump every client together and
``sourceIp`` would name the proxy. API Gateway reports the client's own address there. For peers
named by ``--trusted-proxy`` (addresses or networks), the client is the right-most
``X-Forwarded-For`` entry that is not itself a trusted proxy: entries further left were written by
the client and prove nothing. From any other peer the header is ignored, so a stranger cannot pick
the address their limits are counted against.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

__all__ = ["TrustedProxies", "client_address", "forwarded_middleware"]

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TrustedProxies:
    """The peers whose ``X-Forwarded-For`` is believed; empty by default."""

    def __init__(self, entries: Sequence[str] = ()) -> None:
        try:
            self.networks: tuple[_Network, ...] = tuple(
                ipaddress.ip_network(entry.strip(), strict=False) for entry in entries
            )
        except ValueError as exc:
            raise ValueError(f"--trusted-proxy takes addresses or networks: {exc}") from exc

    def __bool__(self) -> bool:
        return bool(self.networks)

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str) or not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return False
        return any(ip in network for network in self.networks)


def client_address(peer: str, forwarded_for: Sequence[str], trusted: TrustedProxies) -> str:
    """The address to count a request against: ``peer``, unless it is a trusted proxy."""
    if peer not in trusted:
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",")]
    for hop in reversed(hops):
        if not hop:
            continue
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed chain: count it against the proxy, not a made-up name
        if hop not in trusted:
            return hop
    return peer


def forwarded_middleware(trusted: TrustedProxies) -> Any:
    """Rewrite ``request.remote`` for requests relayed by a trusted proxy, before any route."""

    @web.middleware
    async def forwarded(request: web.Request, handler: _Handler) -> web.StreamResponse:
        peer = request.remote or ""
        if peer in trusted:
            client = client_address(peer, request.headers.getall("X-Forwarded-For", []), trusted)
            if client != peer:
                request = request.clone(remote=client)
        return await handler(request)

    return forwarded
