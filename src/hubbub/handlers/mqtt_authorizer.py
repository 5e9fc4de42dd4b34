"""IoT Core's custom authorizer for the MQTT edge: the MQTT password is a hubbub token.

Any username; a token as the password; no password is a guest. A bad or expired token is
refused (CONNACK "not authorized"). The answer's policy documents are the chat's policy for the
user the token names (``chat/mqtt.py``), and a Deny of each topic the user is banned from, so IoT
Core enforces them on every subscribe, receive and publish without calling hubbub again until
the refresh (``REFRESH_AFTER_S``), which picks up bans made since.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from hubbub.chat.mqtt import REFRESH_AFTER_S, SESSION_S, ban_policies, iot_policy, principal_of
from hubbub.handlers.bootstrap import chat
from hubbub.handlers.observability import logger
from hubbub.ids import UserId
from hubbub.protocol.errors import ProtocolError
from hubbub.store.port import Role, StoreUnavailable, User

__all__ = ["handler"]

_REFUSED = {"isAuthenticated": False, "principalId": "refused", "policyDocuments": []}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    mqtt = (event.get("protocolData") or {}).get("mqtt") or {}
    client_id = str(mqtt.get("clientId") or "")
    arn_prefix = _arn_prefix(context)
    try:
        user = _user(mqtt.get("password"), client_id)
        policies = [iot_policy(user, arn_prefix)]
        policies += ban_policies(chat().moderation.banned_topics(user), arn_prefix)
    except ProtocolError as exc:
        logger.info("mqtt connect refused", extra={"clientId": client_id, "why": exc.message})
        return _REFUSED
    except StoreUnavailable:
        logger.warning("mqtt connect refused: store unavailable", extra={"clientId": client_id})
        return _REFUSED
    return {
        "isAuthenticated": True,
        "principalId": principal_of(user),
        "policyDocuments": [json.dumps(p) for p in policies],
        "disconnectAfterInSeconds": SESSION_S,
        "refreshAfterInSeconds": REFRESH_AFTER_S,
    }


def _user(password: Any, client_id: str) -> User:
    """The token's user; a guest of its own (per client id) without a password."""
    if not password:
        digest = hashlib.sha256(client_id.encode()).hexdigest()[:16]
        return User(UserId(f"g_{digest}"), Role.GUEST, None)
    try:
        token = base64.b64decode(str(password), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        token = ""
    user = chat().authenticate(token or "-")
    assert user is not None  # a token was given, so a user or an error
    return user


def _arn_prefix(context: Any) -> str:
    """``arn:PARTITION:iot:REGION:ACCOUNT`` of this function's own account and region."""
    parts = str(context.invoked_function_arn).split(":")
    return f"arn:{parts[1]}:iot:{parts[3]}:{parts[4]}"
