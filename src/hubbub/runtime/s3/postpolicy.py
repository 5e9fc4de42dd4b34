"""S3's browser-based upload (POST Object) checked against its signed POST policy: pure.

What S3 enforces and moto does not (moto stores whatever a form POST carries), following
*POST Policy* (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html)
and *Browser-Based Uploads Using POST*: the policy is base64 JSON with ``expiration`` and
``conditions``; a condition is an exact match (``{"field": "value"}`` or ``["eq", "$field",
"value"]``), a prefix (``["starts-with", "$field", "prefix"]``; an empty prefix allows anything)
or ``["content-length-range", min, max]`` on the file's size; every form field but the file,
``policy``, ``x-amz-signature`` and ``x-ignore-*`` must be named by a condition; field names
are matched case-insensitively. The signature itself is checked by ``front.py`` with botocore's
signer; this module only decides.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

__all__ = ["PostPolicy", "PostRefusal", "check_post", "parse_policy"]

_UNCHECKED = frozenset({"policy", "x-amz-signature", "file"})


@dataclass(frozen=True, slots=True)
class PostRefusal:
    """S3's error for the upload: HTTP status, ``Code`` and ``Message`` of the XML error."""

    status: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class PostPolicy:
    expiration: datetime
    conditions: tuple[Any, ...]


def _denied(message: str) -> PostRefusal:
    return PostRefusal(403, "AccessDenied", f"Invalid according to Policy: {message}")


def parse_policy(encoded: str) -> PostPolicy | PostRefusal:
    """The policy form field, decoded; a refusal when it is not a policy at all."""
    try:
        document = json.loads(base64.b64decode(encoded, validate=True))
        expiration = datetime.fromisoformat(str(document["expiration"]).replace("Z", "+00:00"))
        conditions = document["conditions"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        return PostRefusal(400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON.")
    if not isinstance(conditions, list):
        return PostRefusal(400, "InvalidPolicyDocument", "Invalid Policy: conditions is not a list")
    if expiration.tzinfo is None:
        expiration = expiration.replace(tzinfo=UTC)
    return PostPolicy(expiration, tuple(conditions))


def check_post(
    policy: PostPolicy, fields: Mapping[str, str], bucket: str, size: int, now: datetime
) -> PostRefusal | None:
    """None when the upload of ``size`` bytes with these form ``fields`` to ``bucket`` is what
    the policy allows; else S3's refusal. ``fields`` are the form's other fields."""
    if now >= policy.expiration:
        return _denied("Policy expired.")
    values = {name.lower(): value for name, value in fields.items()}
    values["bucket"] = bucket
    named: set[str] = {"bucket"}
    for condition in policy.conditions:
        refusal = _check_one(condition, values, size, named)
        if refusal is not None:
            return refusal
    for name in values:
        if name in _UNCHECKED or name.startswith("x-ignore-") or name in named:
            continue
        return _denied(f"Extra input fields: {name}")
    return None


def _check_one(
    condition: Any, values: Mapping[str, str], size: int, named: set[str]
) -> PostRefusal | None:
    if isinstance(condition, dict) and len(condition) == 1:
        ((name, expected),) = condition.items()
        return _match("eq", str(name).lower(), expected, values, named, condition)
    if isinstance(condition, list) and len(condition) == 3:
        operator, subject, operand = condition
        if operator == "content-length-range":
            return _length(operand_min=subject, operand_max=operand, size=size)
        if operator in ("eq", "starts-with") and isinstance(subject, str) and subject[:1] == "$":
            return _match(operator, subject[1:].lower(), operand, values, named, condition)
    return PostRefusal(400, "InvalidPolicyDocument", f"Invalid Policy: condition {condition!r}")


def _match(
    operator: str,
    name: str,
    expected: Any,
    values: Mapping[str, str],
    named: set[str],
    condition: Any,
) -> PostRefusal | None:
    named.add(name)
    actual = values.get(name)
    wanted = str(expected)
    ok = actual is not None and (
        actual == wanted if operator == "eq" else actual.startswith(wanted)
    )
    if ok:
        return None
    return _denied(f"Policy Condition failed: {json.dumps(condition)}")


def _length(operand_min: Any, operand_max: Any, size: int) -> PostRefusal | None:
    try:
        low, high = int(operand_min), int(operand_max)
    except (TypeError, ValueError):
        return PostRefusal(400, "InvalidPolicyDocument", "Invalid Policy: content-length-range")
    if size > high:
        return PostRefusal(
            400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"
        )
    if size < low:
        return PostRefusal(
            400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size"
        )
    return None
