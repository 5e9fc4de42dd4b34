"""The runtime's data services started and stopped together: the tables (``dynamodb/backing.py``)
and the queues and topics (``sqs/service.py``).

The queues join the tables' embedded moto when there is one (moto's server answers every
service on one endpoint); otherwise their own moto starts while the tables are being created, so
a template with both does not wait for one moto after the other.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from hubbub.runtime.cloudformation import AppSpec
from hubbub.runtime.dynamodb.backing import Backing
from hubbub.runtime.dynamodb.tables import TablesUnavailable
from hubbub.runtime.sqs.service import MessagingService, MessagingUnavailable

__all__ = ["StoresUnavailable", "build_stores", "start_stores", "stop_stores"]


class StoresUnavailable(RuntimeError):
    """The tables or the queues cannot be provided; the message says which and why."""


def build_stores(
    spec: AppSpec,
    store: str,
    *,
    key: tuple[str, str],
    data_dir: Path,
    region: str,
    endpoint: str | None,
    now_ms: Callable[[], int],
) -> tuple[Backing, MessagingService]:
    """Both, not started: the tables' ``store`` backing (at ``endpoint`` if given) and the
    queues, reached with the runtime's access ``key`` (id and secret)."""
    credentials = {
        "aws_access_key_id": key[0],
        "aws_secret_access_key": key[1],
        "aws_session_token": "local",
    }
    backing = Backing(
        spec,
        store,
        data_dir=data_dir,
        region=region,
        credentials=credentials,
        endpoint=endpoint,
        now_ms=now_ms,
    )
    return backing, MessagingService(spec, region=region, credentials=credentials)


async def _start(step: Awaitable[None]) -> None:
    try:
        await step
    except (TablesUnavailable, MessagingUnavailable) as exc:
        raise StoresUnavailable(str(exc)) from exc


async def start_stores(backing: Backing, messaging: MessagingService) -> None:
    """Start both; the caller stops both (``stop_stores``) when this raises half-way."""
    if backing.needs_endpoint and backing.endpoint is None:
        await _start(backing.start())
        await _start(messaging.start(backing.endpoint))
        return
    results = await asyncio.gather(
        _start(backing.start()), _start(messaging.start(None)), return_exceptions=True
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result


async def stop_stores(backing: Backing | None, messaging: MessagingService | None) -> None:
    """Both endpoints, together (each may be a moto to stop)."""
    await asyncio.gather(
        *(store.stop() for store in (backing,) if store is not None),
        *(queues.close() for queues in (messaging,) if queues is not None),
    )
