"""Signatures the local S3 takes (``s3.signatures``): URLs and POST forms presigned by boto3
itself are accepted until they expire; anything changed, another key, or an expired URL is not.

AWS: *Authenticating Requests: Using Query Parameters*
(https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html), and the POST
policy's signature (*Browser-Based Uploads Using POST*).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from hubbub.runtime.s3.signatures import verify_post, verify_presigned
from hubbub.runtime.sigv4 import SignatureRejected

KEYS = {"AKIALOCALTEST": "secret"}


def s3(secret: str = "secret") -> Any:
    return boto3.client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:8000/_aws/s3",
        aws_access_key_id="AKIALOCALTEST",
        aws_secret_access_key=secret,
        aws_session_token="local",
        config=Config(signature_version="s3v4"),
    )


def presigned(expires: int = 60, secret: str = "secret") -> tuple[str, str]:
    url = s3(secret).generate_presigned_url(
        "get_object",
        Params={
            "Bucket": "b",
            "Key": "attachments/room/at 1",
            "ResponseContentDisposition": 'attachment; filename="a b.pdf"',
        },
        ExpiresIn=expires,
    )
    parts = urlsplit(url)
    return parts.netloc, f"{parts.path}?{parts.query}"


def test_a_presigned_get_is_accepted_until_it_expires() -> None:
    host, path = presigned(60)
    now = datetime.now(UTC)
    assert verify_presigned("GET", host, path, KEYS, now) == "AKIALOCALTEST"
    assert verify_presigned("GET", host, path, KEYS, now + timedelta(seconds=55)) == "AKIALOCALTEST"
    with pytest.raises(SignatureRejected, match="expired"):
        verify_presigned("GET", host, path, KEYS, now + timedelta(seconds=65))


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda h, p: ("GET", h, p.replace("at%201", "at%202")), id="another key"),
        pytest.param(
            lambda h, p: ("GET", h, p.replace("attachment%3B", "inline%3B")),
            id="another disposition",
        ),
        pytest.param(lambda h, p: ("PUT", h, p), id="another method"),
        pytest.param(lambda h, p: ("GET", "localhost:8000", p), id="another host"),
        pytest.param(
            lambda h, p: ("GET", h, p.replace("X-Amz-Expires=60", "X-Amz-Expires=600")),
            id="a longer life",
        ),
    ],
)
def test_a_changed_url_is_refused(tamper: Any) -> None:
    method, host, path = tamper(*presigned(60))
    with pytest.raises(SignatureRejected):
        verify_presigned(method, host, path, KEYS, datetime.now(UTC))


def test_a_url_signed_with_another_secret_is_refused() -> None:
    host, path = presigned(60, secret="guessed")
    with pytest.raises(SignatureRejected, match="mismatch"):
        verify_presigned("GET", host, path, KEYS, datetime.now(UTC))


def test_a_presigned_post_is_accepted_and_a_changed_policy_is_not() -> None:
    post = s3().generate_presigned_post(
        "b",
        "attachments/room/at_1",
        Fields={"Content-Type": "image/png"},
        Conditions=[{"Content-Type": "image/png"}, ["content-length-range", 3, 3]],
        ExpiresIn=60,
    )
    fields = dict(post["fields"])
    assert verify_post(fields, KEYS) == "AKIALOCALTEST"
    with pytest.raises(SignatureRejected):
        verify_post({**fields, "policy": fields["policy"][:-4] + "AAA="}, KEYS)
    with pytest.raises(SignatureRejected):
        verify_post({**fields, "x-amz-signature": "0" * 64}, KEYS)
    with pytest.raises(SignatureRejected):
        verify_post({k: v for k, v in fields.items() if k != "x-amz-algorithm"}, KEYS)
