"""Shaping of API Gateway proxy responses, shared by the WebSocket handlers."""

from __future__ import annotations

from typing import Any

from hubbub.protocol.events import encode

__all__ = ["reply", "status"]


def reply(event: dict[str, Any] | None, status_code: int = 200) -> dict[str, Any]:
    response: dict[str, Any] = {"statusCode": status_code}
    if event is not None:
        response["body"] = encode(event)
    return response


def status(status_code: int, message: str | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"statusCode": status_code}
    if message is not None:
        response["body"] = message
    return response
