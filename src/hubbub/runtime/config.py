"""What ``hubbub serve`` asks of the runtime: the template, where its data lives, how it listens,
and the quotas and faults it applies. Kept apart from ``server.py`` so that the CLI and tests can
build one without the server's imports."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from hubbub.runtime.apigateway.quotas import Quotas
from hubbub.runtime.faults import Faults
from hubbub.runtime.iot.quotas import IotQuotas

if TYPE_CHECKING:
    from hubbub.runtime.server import LocalRuntime

__all__ = ["RuntimeConfig", "RuntimeStartError"]


@dataclass(slots=True)
class RuntimeConfig:
    template: Path
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8000
    quotas: Quotas = field(default_factory=Quotas)
    faults: Faults = field(default_factory=Faults)
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    env_overrides: dict[str, dict[str, str]] = field(default_factory=dict)
    """``sam local --env-vars`` shape: ``{"Parameters": {...}, "<FunctionLogicalId>": {...}}``."""
    max_workers: int = 4
    region: str = "us-east-1"
    poll_interval_s: float = 0.25
    mount: Callable[[web.Application, LocalRuntime], None] | None = None
    """Adds the host application's own routes (hubbub's web client) to the runtime's server."""
    store: str = "auto"
    """``sqlite``, ``dynamodb`` or ``auto``: where the tables live (``dynamodb/backing.py``)."""
    sqlite_packages: tuple[str, ...] = ()
    """Handler packages that carry the local SQLite store; ``auto`` picks ``sqlite`` for a
    template whose functions are all in them."""
    dynamodb_endpoint: str | None = None
    """A DynamoDB endpoint to create the tables in instead of the embedded moto."""
    tls: str = "auto"
    """``on``, ``off``, or ``auto`` (on when the ``cryptography`` package is installed)."""
    tls_port: int = 0
    """The HTTPS/WSS port; 0 picks a free one."""
    mqtt_port: int = 1883
    """IoT Core's MQTT over plain TCP; 0 picks a free port."""
    iot_quotas: IotQuotas = field(default_factory=IotQuotas)
    stack_name: str = "local"
    """``AWS::StackName``, and so the prefix of generated table names: two stacks can share one
    ``dynamodb_endpoint`` as they share an account on AWS."""
    trusted_proxies: tuple[str, ...] = ()
    """Reverse proxies (addresses or networks) whose ``X-Forwarded-For`` names the client."""
    tls_hostnames: tuple[str, ...] = ()
    """Names the server certificate covers besides loopback and ``host``."""


class RuntimeStartError(RuntimeError):
    """The runtime cannot start: no moto for the tables, no TLS, a table the endpoint refuses."""
