"""Identifiers shaped like AWS's: connection ids, request ids, message ids, stream sequence
numbers."""

from __future__ import annotations

import base64
import secrets
import uuid

__all__ = ["connection_id", "extended_request_id", "request_id", "sequence_number"]


def connection_id() -> str:
    """12 base64 characters of randomness ending in ``=``, like ``BFHPhfCWIAMCKlQ=``."""
    return base64.urlsafe_b64encode(secrets.token_bytes(10)).decode()


def extended_request_id() -> str:
    return connection_id()


def request_id() -> str:
    return str(uuid.uuid4())


def sequence_number(position: int) -> str:
    """DynamoDB stream sequence numbers are decimal strings that sort by position."""
    return f"{position:021d}"
