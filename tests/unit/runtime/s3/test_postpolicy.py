"""S3's POST policy rules (``s3.postpolicy``), row by row.

AWS: *POST Policy* (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-HTTPPOSTConstructPolicy.html):
expiration, exact and starts-with matches, ``content-length-range``, and every form field named
by a condition (but the file, ``policy``, ``x-amz-signature`` and ``x-ignore-*``).
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hubbub.runtime.s3.postpolicy import PostPolicy, PostRefusal, check_post, parse_policy

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
FIELDS = {"key": "attachments/room/at_1", "Content-Type": "image/png", "x-amz-date": "d"}
CONDITIONS: list[Any] = [
    {"bucket": "files"},
    {"key": "attachments/room/at_1"},
    {"Content-Type": "image/png"},
    {"x-amz-date": "d"},
    ["content-length-range", 3, 3],
]


def policy(
    conditions: list[Any] = CONDITIONS, expires: datetime = NOW + timedelta(minutes=5)
) -> str:
    document = {"expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "conditions": conditions}
    return base64.b64encode(json.dumps(document).encode()).decode()


def code(
    conditions: list[Any],
    fields: dict[str, str],
    size: int = 3,
    bucket: str = "files",
    expires: datetime = NOW + timedelta(minutes=5),
) -> str | None:
    parsed = parse_policy(policy(conditions, expires))
    assert isinstance(parsed, PostPolicy)
    refusal = check_post(parsed, fields, bucket, size, NOW)
    return None if refusal is None else refusal.code


@pytest.mark.parametrize(
    ("conditions", "fields", "size", "bucket", "expected"),
    [
        pytest.param(CONDITIONS, FIELDS, 3, "files", None, id="the file presigned"),
        pytest.param(CONDITIONS, FIELDS, 4, "files", "EntityTooLarge", id="one byte more"),
        pytest.param(CONDITIONS, FIELDS, 2, "files", "EntityTooSmall", id="one byte less"),
        pytest.param(
            CONDITIONS,
            {**FIELDS, "Content-Type": "text/html"},
            3,
            "files",
            "AccessDenied",
            id="another type",
        ),
        pytest.param(
            CONDITIONS,
            {**FIELDS, "key": "attachments/room/at_2"},
            3,
            "files",
            "AccessDenied",
            id="another key",
        ),
        pytest.param(CONDITIONS, FIELDS, 3, "other", "AccessDenied", id="another bucket"),
        pytest.param(
            CONDITIONS,
            {**FIELDS, "acl": "public-read"},
            3,
            "files",
            "AccessDenied",
            id="a field no condition names",
        ),
        pytest.param(
            CONDITIONS,
            {**FIELDS, "x-ignore-me": "1", "policy": "p", "x-amz-signature": "s"},
            3,
            "files",
            None,
            id="fields S3 does not check",
        ),
        pytest.param(
            CONDITIONS,
            {**FIELDS, "content-type": "image/png"},
            3,
            "files",
            None,
            id="names are case-insensitive",
        ),
        pytest.param(
            [*CONDITIONS[:2], ["starts-with", "$Content-Type", "image/"], CONDITIONS[3]],
            {**FIELDS, "Content-Type": "image/gif"},
            3,
            "files",
            None,
            id="starts-with",
        ),
        pytest.param(
            [*CONDITIONS[:2], ["starts-with", "$Content-Type", "image/"], CONDITIONS[3]],
            {**FIELDS, "Content-Type": "text/plain"},
            3,
            "files",
            "AccessDenied",
            id="starts-with refused",
        ),
        pytest.param(
            [*CONDITIONS[:2], ["eq", "$Content-Type", "image/png"], CONDITIONS[3]],
            FIELDS,
            3,
            "files",
            None,
            id="eq",
        ),
        pytest.param(
            [*CONDITIONS, ["lt", "$key", "x"]],
            FIELDS,
            3,
            "files",
            "InvalidPolicyDocument",
            id="an unknown operator",
        ),
    ],
)
def test_conditions(
    conditions: list[Any], fields: dict[str, str], size: int, bucket: str, expected: str | None
) -> None:
    assert code(conditions, fields, size, bucket) == expected


def test_an_expired_policy_is_refused() -> None:
    assert code(CONDITIONS, FIELDS, expires=NOW) == "AccessDenied"
    parsed = parse_policy(policy(CONDITIONS, NOW - timedelta(seconds=1)))
    assert isinstance(parsed, PostPolicy)
    refusal = check_post(parsed, FIELDS, "files", 3, NOW)
    assert refusal is not None and "expired" in refusal.message


@pytest.mark.parametrize(
    "encoded",
    [
        "not base64!",
        base64.b64encode(b"[1]").decode(),
        base64.b64encode(b'{"expiration": "x", "conditions": []}').decode(),
        base64.b64encode(b'{"expiration": "2026-01-01T00:00:00Z", "conditions": {}}').decode(),
    ],
)
def test_a_policy_that_is_not_one_is_refused(encoded: str) -> None:
    parsed = parse_policy(encoded)
    assert isinstance(parsed, PostRefusal)
    assert (parsed.status, parsed.code) == (400, "InvalidPolicyDocument")
