"""Authorizer probe: the key in ``X-Api-Key`` says how the authorizer answers; ``record`` keeps
every event it gets in ``events.jsonl`` of the data dir.

It imports nothing from hubbub: the runtime must run it exactly as Lambda would.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def _policy(effect: str, resource: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
    }


def authorize(event: dict[str, Any], context: Any) -> dict[str, Any]:
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    key = headers.get("x-api-key", "")
    tenant = (event.get("queryStringParameters") or {}).get("tenant", "")
    arn = event["methodArn"]
    answer: dict[str, Any] = {
        "principalId": f"{tenant}:{key}",
        "policyDocument": _policy("Allow", arn),
        "context": {"tenant": tenant, "tier": 3, "beta": True},
    }
    if key == "deny":
        answer["policyDocument"] = _policy("Deny", arn)
    elif key == "elsewhere":  # allowed, but for another API's $connect only
        answer["policyDocument"] = _policy("Allow", arn.replace("/$connect", "/other"))
    elif key == "wildcard":
        answer["policyDocument"] = _policy("Allow", arn.rsplit("/", 2)[0] + "/*")
    elif key == "unauthorized":
        raise Exception("Unauthorized")
    elif key == "crash":
        raise RuntimeError("the authorizer failed")
    elif key == "huge":
        answer["context"]["padding"] = "x" * 9000
    elif key == "nested":
        answer["context"]["claims"] = {"sub": "nested objects are not allowed"}
    return answer


def record(event: dict[str, Any], context: Any) -> dict[str, Any]:
    path = Path(os.environ["HUBBUB_RUNTIME_DATA_DIR"]) / "events.jsonl"
    with path.open("a") as out:
        out.write(json.dumps(event) + "\n")
    request = event["requestContext"]
    body = {"route": request["routeKey"], "authorizer": request.get("authorizer")}
    return {"statusCode": 200, "body": json.dumps(body)}
