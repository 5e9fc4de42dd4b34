"""DynamoDB for the measurements: moto in server mode on 127.0.0.1, on a port the OS picks.

Server mode, not an in-process patch, so hubbub's adapter goes through botocore exactly as on AWS
(serialisation, error parsing, ``CancellationReasons``) and the meter sees real requests. Clients
get dummy credentials and a fixed region explicitly: nothing reads the environment or looks for
an instance profile, and no request can leave 127.0.0.1.

One accommodation, as in ``tests/contract/conftest.py``: moto rolls a cancelled transaction back
by ``copy.deepcopy`` of the whole table, taken once per item of *every* transaction. With a room
of 1,000 subscribers that makes each subscribe cost seconds. While the server runs, a table's
deep copy is made from its partition maps and each item's top-level attribute map instead, which
is all a rollback needs for the writes hubbub makes (whole items, top-level SET/REMOVE) and is
restored on exit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

__all__ = ["client", "moto_server"]

_REGION = "us-east-1"


@cache
def _session() -> Any:
    """One session for every client made here (loading service models is what costs)."""
    import boto3

    return boto3.session.Session()


def client(endpoint: str, service: str = "dynamodb") -> Any:
    """A botocore client for ``endpoint`` with dummy credentials and no retries to hide errors."""
    from botocore.config import Config

    return _session().client(
        service,
        endpoint_url=endpoint,
        region_name=_REGION,
        aws_access_key_id="capacity",
        aws_secret_access_key="capacity",  # noqa: S106 - moto accepts any credentials
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


@contextmanager
def moto_server() -> Iterator[str]:
    """Run moto on 127.0.0.1 (an ephemeral port) and yield its endpoint URL."""
    from moto.dynamodb.models.table import Table
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    had = "__deepcopy__" in Table.__dict__
    previous = Table.__dict__.get("__deepcopy__")
    Table.__deepcopy__ = _snapshot  # type: ignore[attr-defined]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        if had:
            Table.__deepcopy__ = previous  # type: ignore[attr-defined]
        else:
            del Table.__deepcopy__  # type: ignore[attr-defined]


def _shallow(model: Any) -> Any:
    """A shallow copy that skips moto's ``BaseModel.__new__`` (it tracks every instance)."""
    clone = object.__new__(type(model))
    clone.__dict__.update(model.__dict__)
    return clone


def _item_copy(item: Any) -> Any:
    clone = _shallow(item)
    attrs_type: type[dict[str, Any]] = type(item.attrs)
    attrs = attrs_type.__new__(attrs_type)
    dict.update(attrs, item.attrs)  # no per-key size re-validation: it was checked on write
    clone.attrs = attrs
    return clone


def _snapshot(table: Any, memo: dict[int, Any]) -> Any:
    """What a transaction rollback restores: partitions, items and their attribute maps."""
    clone = _shallow(table)
    clone.items = type(table.items)(table.items.default_factory)
    for hash_key, stored in table.items.items():
        if isinstance(stored, dict):
            clone.items[hash_key] = {rk: _item_copy(item) for rk, item in stored.items()}
        else:
            clone.items[hash_key] = _item_copy(stored)
    if table.stream_shard is not None:
        shard = _shallow(table.stream_shard)
        shard.items = list(table.stream_shard.items)
        shard.table = clone
        clone.stream_shard = shard
    return clone
