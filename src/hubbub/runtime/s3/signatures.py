"""Who may reach the local S3: requests signed with the runtime's credentials, in the three ways
S3 takes them, each recomputed with botocore's own signer and compared in constant time.

- an ``Authorization`` header (boto3 in the functions): ``sigv4.SigV4Verifier`` with S3's signer;
- a presigned URL (*Authenticating Requests: Using Query Parameters*,
  https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html): refused once
  ``X-Amz-Date`` + ``X-Amz-Expires`` (at most 7 days) has passed, as S3 answers "Request has
  expired";
- a POST form (*Browser-Based Uploads Using POST*): the ``policy`` field signed with the key of
  ``x-amz-credential`` for the day of ``x-amz-date``.

A request signed none of these ways is anonymous, and a private bucket refuses it.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, quote

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from hubbub.runtime.sigv4 import SignatureRejected

__all__ = ["MAX_PRESIGN_S", "verify_post", "verify_presigned"]

MAX_PRESIGN_S = 7 * 24 * 3600
"""S3 refuses a presigned URL that claims to live longer than seven days."""
_AMZ_DATE = "%Y%m%dT%H%M%SZ"


def _scope(credential: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or parts[3] != "s3" or parts[4] != "aws4_request":
        raise SignatureRejected("not an S3 credential scope")
    return parts[0], parts[1], parts[2], parts[3]


def _signed_at(raw: str, day: str) -> datetime:
    try:
        at = datetime.strptime(raw, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureRejected("no valid X-Amz-Date") from None
    if raw[:8] != day:
        raise SignatureRejected("the credential scope's date is not the request's")
    return at


def verify_presigned(
    method: str, host: str, raw_path: str, secrets: Mapping[str, str], now: datetime
) -> str:
    """The access key that presigned ``raw_path`` (path and query as received); raises
    :class:`SignatureRejected` (expired included: the message says which)."""
    path, _, query = raw_path.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    params = dict(pairs)
    key_id, day, region, service = _scope(params.get("X-Amz-Credential", ""))
    secret = secrets.get(key_id)
    if secret is None:
        raise SignatureRejected("unknown access key id")
    if params.get("X-Amz-SignedHeaders") != "host":
        raise SignatureRejected("only the host header may be signed")
    signed_at = _signed_at(params.get("X-Amz-Date", ""), day)
    try:
        expires = int(params.get("X-Amz-Expires", ""))
    except ValueError:
        raise SignatureRejected("no valid X-Amz-Expires") from None
    if not 1 <= expires <= MAX_PRESIGN_S:
        raise SignatureRejected("X-Amz-Expires out of range")
    if now > signed_at + timedelta(seconds=expires):
        raise SignatureRejected("Request has expired")
    unsigned = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
        for k, v in pairs
        if k != "X-Amz-Signature"
    )
    token = params.get("X-Amz-Security-Token")
    signer = S3SigV4QueryAuth(Credentials(key_id, secret, token), service, region, expires)
    request = AWSRequest(method=method.upper(), url=f"http://{host}{path}?{unsigned}")
    request.headers["host"] = host
    request.context["timestamp"] = params["X-Amz-Date"]
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, params.get("X-Amz-Signature", "")):
        raise SignatureRejected("signature mismatch")
    return key_id


def verify_post(fields: Mapping[str, str], secrets: Mapping[str, str]) -> str:
    """The access key that signed a POST form's policy; raises :class:`SignatureRejected`.
    (The policy's own expiration is ``postpolicy``'s to check.)"""
    values = {k.lower(): v for k, v in fields.items()}
    if values.get("x-amz-algorithm") != "AWS4-HMAC-SHA256":
        raise SignatureRejected("not a SigV4 POST")
    key_id, day, region, service = _scope(values.get("x-amz-credential", ""))
    secret = secrets.get(key_id)
    if secret is None:
        raise SignatureRejected("unknown access key id")
    _signed_at(values.get("x-amz-date", ""), day)
    signer: SigV4Auth = S3SigV4Auth(Credentials(key_id, secret), service, region)
    request = AWSRequest(method="POST", url="http://local/")
    request.context["timestamp"] = values["x-amz-date"]
    expected = signer.signature(values.get("policy", ""), request)
    if not hmac.compare_digest(expected, values.get("x-amz-signature", "")):
        raise SignatureRejected("signature mismatch")
    return key_id
