"""DynamoDB for the measurements: moto in server mode on 127.0.0.1, on a port the OS picks.

Server mode, not an in-process patch, so hubbub's adapter goes through botocore exactly as on AWS
(serialisation, error parsing, ``CancellationReasons``) and the meter sees real requests. Clients
get dummy credentials and a fixed region explicitly: nothing reads the environment or looks for
an instance profile, and no request can leave 127.0.0.1.

One accommodation, the one the runtime's embedded moto and the contract suite make too:
``runtime.dynamodb.motofast`` makes moto's transaction rollbacks and key queries cheap (without it
each subscribe in a room of 1,000 costs seconds).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from hubbub.runtime.dynamodb.motofast import faster_moto

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
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with faster_moto():
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            yield f"http://{host}:{port}"
        finally:
            server.stop()
