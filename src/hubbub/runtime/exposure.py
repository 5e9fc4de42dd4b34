"""What changes when the runtime listens beyond loopback: a warning at start-up, ``/metrics``
behind the runtime key, and a certificate that names the hosts clients will use.

On loopback only local users reach the server, and the defaults are made for them (``/metrics``
open, a certificate for 127.0.0.1, ::1 and localhost). ``--host 0.0.0.0`` or a LAN address opens
everything the runtime serves to the network, so it says so, once, on stderr.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from collections.abc import Iterable, Mapping, Sequence

__all__ = [
    "certificate_hosts",
    "exposure_warning",
    "is_loopback",
    "machine_addresses",
    "metrics_key_accepted",
]

_WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104 (names of the wildcard binds, not a bind)


def is_loopback(host: str) -> bool:
    """True when only this machine can reach ``host``: a loopback address or ``localhost``.
    Wildcard binds and any other name (which may resolve to a public address) are not."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def exposure_warning(host: str, port: int) -> str | None:
    """The one start-up line for a bind beyond loopback (None on loopback)."""
    if is_loopback(host):
        return None
    where = "every interface" if host in _WILDCARDS else "a non-loopback address"
    return (
        f"hubbub: WARNING: listening on {host}:{port} ({where}): the web client, the WebSocket"
        " and HTTP APIs, @connections and the MQTT broker (open to every client unless the"
        " template has an authorizer) are reachable from the network; /metrics now needs the"
        " runtime key (data-dir/runtime-key); put a TLS proxy in front (docs/operations.md)"
    )


def metrics_key_accepted(headers: Mapping[str, str], key: str, header: str) -> bool:
    """The runtime key in ``header`` or as an ``Authorization: Bearer`` credential (how a
    Prometheus scrape job sends a ``credentials_file``)."""
    given = headers.get(header)
    if given is None:
        scheme, _, credentials = headers.get("Authorization", "").partition(" ")
        given = credentials.strip() if scheme.lower() == "bearer" else None
    return given is not None and secrets.compare_digest(given.encode(), key.encode())


def certificate_hosts(
    bind_host: str, hostnames: Sequence[str], machine: Iterable[str] = ()
) -> list[str]:
    """Names the server certificate must cover besides loopback: the bind address (or, for a
    wildcard bind, the machine's own addresses, since any of them reaches the server), then the
    names given with ``--tls-hostname``."""
    names = list(machine) if bind_host in _WILDCARDS else [bind_host]
    names += hostnames
    out: list[str] = []
    for name in names:
        name = name.strip().strip("[]")
        if name and name not in _WILDCARDS and name not in out:
            out.append(name)
    return out


def machine_addresses(bind_host: str) -> list[str]:
    """This machine's name and addresses, for a wildcard bind's certificate: the host name from
    the kernel, its addresses from the resolver (usually ``/etc/hosts``), and the address of the
    default route, learnt by connecting a UDP socket (which sends nothing)."""
    families = (socket.AF_INET, socket.AF_INET6) if ":" in bind_host else (socket.AF_INET,)
    out = [socket.gethostname()]
    for family in families:
        try:
            infos = socket.getaddrinfo(out[0], None, family, socket.SOCK_STREAM)
        except OSError:
            infos = []
        out += [str(info[4][0]) for info in infos]
        probe = socket.socket(family, socket.SOCK_DGRAM)
        try:
            probe.connect(("192.0.2.1" if family == socket.AF_INET else "2001:db8::1", 9))
            out.append(str(probe.getsockname()[0]))
        except OSError:
            pass
        finally:
            probe.close()
    return [name for name in out if name and not is_loopback(name)]
