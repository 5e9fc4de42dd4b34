"""Identifiers shaped like AWS's: connection ids, API Gateway request ids, Lambda request ids,
log stream names, trace headers, stream sequence numbers and shard ids, and the timestamps
their events carry."""

from __future__ import annotations

import base64
import secrets
import time
import uuid

__all__ = [
    "SHARD_ID",
    "connection_id",
    "extended_request_id",
    "iso_seconds",
    "log_stream_name",
    "request_id",
    "sequence_number",
    "trace_header",
]


def connection_id() -> str:
    """Sixteen base64 characters ending in a single ``=``, like ``BFHPhfCWIAMCKlQ=`` in the
    events AWS delivers: 11 random bytes (URL-safe alphabet, since the id travels in the
    ``@connections/{id}`` path)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(11)).decode()


def extended_request_id() -> str:
    """API Gateway's request id: WebSocket events carry the same value as ``requestId`` and
    ``extendedRequestId``, in the same shape as a connection id."""
    return connection_id()


def request_id() -> str:
    """A Lambda invocation's ``aws_request_id`` (a UUID, as Lambda writes it)."""
    return str(uuid.uuid4())


def log_stream_name(now_s: float | None = None) -> str:
    """``YYYY/MM/DD/[$LATEST]<32 hex>``: the CloudWatch stream of one execution environment."""
    day = time.strftime("%Y/%m/%d", time.gmtime(time.time() if now_s is None else now_s))
    return f"{day}/[$LATEST]{secrets.token_hex(16)}"


def trace_header(now_s: float | None = None) -> str:
    """An X-Ray header as Lambda sets ``_X_AMZN_TRACE_ID``: ``Root=1-<8 hex epoch>-<24 hex>;
    Parent=<16 hex>;Sampled=0;Lineage=...``; not sampled, since there is no X-Ray locally."""
    epoch = int(time.time() if now_s is None else now_s)
    lineage = f"{secrets.token_hex(4)}:0"
    return (
        f"Root=1-{epoch:08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};"
        f"Sampled=0;Lineage=1:{lineage}"
    )


def sequence_number(position: int) -> str:
    """DynamoDB stream sequence numbers are decimal strings that sort by position."""
    return f"{position:021d}"


SHARD_ID = "shardId-00000000000000000000-00000001"
"""The local stream has one shard; its id is shaped like DynamoDB's."""


def iso_seconds(epoch_s: int) -> str:
    """``2020-12-09T07:04:00Z``, as Lambda writes the times of stream events' metadata."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_s))
