"""The REQUEST authorizer of ``$connect``: ``?token=`` names a user, ``?room=`` the room.

An unknown token raises ``Unauthorized`` (API Gateway answers 401); a banned user gets a Deny
policy (403). The ``context`` it returns reaches every later event of the connection as
``requestContext.authorizer``, which is how the other functions know who is talking, and where.
"""

from __future__ import annotations

import os
from typing import Any


def _tokens() -> dict[str, str]:
    pairs = (item.split("=", 1) for item in os.environ.get("ACCESS_TOKENS", "").split(","))
    return {token.strip(): user.strip() for token, user in (p for p in pairs if len(p) == 2)}


TOKENS = _tokens()
BANNED = {u.strip() for u in os.environ.get("BANNED_USERS", "").split(",") if u.strip()}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    params = event.get("queryStringParameters") or {}
    user = TOKENS.get(params.get("token", ""))
    if user is None:
        raise Exception("Unauthorized")  # the message API Gateway turns into a 401
    room = params.get("room") or "lobby"
    return {
        "principalId": user,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Deny" if user in BANNED else "Allow",
                    "Resource": event["methodArn"],
                }
            ],
        },
        "context": {"user": user, "room": room},
    }
