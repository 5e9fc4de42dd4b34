"""Verifying AWS Signature Version 4 on the runtime's AWS-shaped APIs (``@connections``, and any
other service that answers boto3 clients).

Naming a known access key id proves nothing: the runtime recomputes the signature from the request
it received (the canonical request over method, path, query, signed headers and the payload's
hash) and compares the two in constant time. For S3 botocore's ``S3SigV4Auth`` computes it; for
every other service ``hubbub/sigv4.py``, which holds the same algorithm to botocore's
``SigV4Auth`` in its tests at less than half the cost: the IoT Core publish of every stored
message is checked here (docs/benchmarks.md, finding 24). As on AWS, a request whose
``X-Amz-Date`` is more than five minutes from the server's clock is refused, so a captured request
cannot be replayed later, and a payload hash header that does not match the body is refused, so a
signed request's body cannot be swapped. Query-string (presigned) signatures are not accepted.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web
from botocore.auth import SIGNED_HEADERS_BLACKLIST, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from hubbub import sigv4

__all__ = [
    "MAX_SKEW_S",
    "SigV4Verifier",
    "SignatureRejected",
    "forbidden_response",
]

MAX_SKEW_S = 300
"""AWS refuses a request signed more than 5 minutes away from its clock."""

_AUTH = re.compile(
    r"^AWS4-HMAC-SHA256\s+"
    r"Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)"
    r"/aws4_request,\s*SignedHeaders=(?P<headers>[a-z0-9;_.-]+),\s*Signature=(?P<sig>[0-9a-f]{64})$"
)
_AMZ_DATE = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
"""``X-Amz-Date``, ISO 8601 basic format in UTC (strptime took a third of a verification)."""
_KEPT = 64
"""Signers and signing keys kept (per key, region and day): a handful in practice."""
_PAYLOAD_HASH = "x-amz-content-sha256"
_UNSIGNABLE = frozenset(SIGNED_HEADERS_BLACKLIST)
"""Headers botocore never signs (``user-agent``, hop-by-hop ones): a signature over one is not
a boto3 client's, and botocore's own check refused it too."""


class SignatureRejected(Exception):
    """The request is not signed by a key this service knows; the reason is for the log only
    (AWS says no more than "Forbidden" to the caller)."""


@dataclass(frozen=True, slots=True)
class _Parsed:
    key_id: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str


def _parse(authorization: str) -> _Parsed:
    match = _AUTH.match(authorization.strip())
    if match is None:
        raise SignatureRejected("no SigV4 Authorization header")
    headers = tuple(match["headers"].split(";"))
    if "host" not in headers:
        raise SignatureRejected("the host header is not signed")
    return _Parsed(
        match["key"], match["date"], match["region"], match["service"], headers, match["sig"]
    )


class SigV4Verifier:
    """Checks requests against the secrets of the access keys it knows, for one service name
    (``execute-api`` for API Gateway's management API)."""

    def __init__(
        self,
        secrets: Mapping[str, str],
        service: str,
        *,
        max_skew_s: int = MAX_SKEW_S,
        now: Callable[[], float] = time.time,
        signer: type[SigV4Auth] = SigV4Auth,
    ) -> None:
        """``signer`` is botocore's signer of the service (S3 signs its own way:
        ``S3SigV4Auth``, which neither normalises nor double-encodes the path)."""
        self._signer = signer
        self._secrets = dict(secrets)
        self._service = service
        self._max_skew_s = max_skew_s
        self._now = now
        self._signers: dict[tuple[str, str, str], SigV4Auth] = {}
        self._keys: dict[tuple[str, str, str, str], bytes] = {}

    def verify(
        self,
        method: str,
        raw_path: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> str:
        """The access key id that signed the request; raises :class:`SignatureRejected`.

        ``raw_path`` is the path and query exactly as received (still percent-encoded), since
        that is what the client signed. ``headers`` maps each (case-insensitive) name to its
        value, repeated headers joined with commas.
        """
        lower = {k.lower(): v for k, v in headers.items()}
        parsed = _parse(lower.get("authorization", ""))
        secret = self._secrets.get(parsed.key_id)
        if secret is None:
            raise SignatureRejected("unknown access key id")
        if parsed.service != self._service:
            raise SignatureRejected(f"signed for {parsed.service}, not {self._service}")
        timestamp = self._timestamp(lower, parsed)
        missing = [h for h in parsed.signed_headers if h not in lower]
        if missing:
            raise SignatureRejected(f"signed headers missing: {missing}")
        payload_hash = hashlib.sha256(body).hexdigest()
        claimed = lower.get(_PAYLOAD_HASH)
        if claimed is not None and claimed != payload_hash:
            raise SignatureRejected("the payload hash does not match the body")
        key = self._signing_key(secret, parsed.date, parsed.region, parsed.service)
        if self._signer is SigV4Auth:
            to_sign = _string_to_sign(method, raw_path, lower, parsed, timestamp, payload_hash)
        else:
            to_sign = self._botocore_string_to_sign(
                method, raw_path, lower, parsed, body, timestamp
            )
        expected = hmac.new(key, to_sign, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parsed.signature):
            raise SignatureRejected("signature mismatch")
        return parsed.key_id

    def _botocore_string_to_sign(
        self,
        method: str,
        raw_path: str,
        headers: Mapping[str, str],
        parsed: _Parsed,
        body: bytes,
        timestamp: str,
    ) -> bytes:
        """The string to sign as the service's botocore signer computes it (S3's)."""
        signer = self._signer_for(parsed.key_id, self._secrets[parsed.key_id], parsed.region)
        request = AWSRequest(
            method=method.upper(),
            url=f"http://{headers['host']}{raw_path}",
            headers={h: headers[h] for h in parsed.signed_headers},
            data=body,
        )
        request.context["timestamp"] = timestamp
        canonical = signer.canonical_request(request)
        if signer.signed_headers(signer.headers_to_sign(request)) != ";".join(
            parsed.signed_headers
        ):
            raise SignatureRejected("signed headers the signer would not sign")
        to_sign: str = signer.string_to_sign(request, canonical)
        return to_sign.encode("utf-8")

    def _signer_for(self, key_id: str, secret: str, region: str) -> SigV4Auth:
        """botocore's signer of the service for the key and region, kept: it holds nothing of
        a request."""
        cache_key = (key_id, secret, region)
        signer = self._signers.get(cache_key)
        if signer is None:
            if len(self._signers) >= _KEPT:
                self._signers.clear()
            signer = self._signer(Credentials(key_id, secret), self._service, region)
            self._signers[cache_key] = signer
        return signer

    def _signing_key(self, secret: str, day: str, region: str, service: str) -> bytes:
        """The key of *Derive a signing key*, kept for the day: four HMACs per request
        otherwise, on the path of every IoT Core publish the fan-out sends."""
        cache_key = (secret, day, region, service)
        key = self._keys.get(cache_key)
        if key is None:
            if len(self._keys) >= _KEPT:
                self._keys.clear()
            key = sigv4.derive_key(secret, day, region, service)
            self._keys[cache_key] = key
        return key

    def _timestamp(self, headers: Mapping[str, str], parsed: _Parsed) -> str:
        raw = headers.get("x-amz-date", "")
        found = _AMZ_DATE.fullmatch(raw)
        try:
            if found is None:
                raise ValueError(raw)
            year, month, day, hour, minute, second = (int(f) for f in found.groups())
            signed_at = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:
            raise SignatureRejected("no valid X-Amz-Date") from None
        if raw[:8] != parsed.date:
            raise SignatureRejected("the credential scope's date is not the request's")
        if abs(self._now() - signed_at.timestamp()) > self._max_skew_s:
            raise SignatureRejected("signed too far from the server's clock")
        return raw

    async def verify_request(self, request: web.Request) -> str:
        """:meth:`verify` for an aiohttp request (reads the body, which aiohttp keeps)."""
        body = await request.read()
        headers = {k: ",".join(request.headers.getall(k)) for k in request.headers}
        return self.verify(request.method, request.raw_path, headers, body)


def _string_to_sign(
    method: str,
    raw_path: str,
    headers: Mapping[str, str],
    parsed: _Parsed,
    timestamp: str,
    payload_hash: str,
) -> bytes:
    """The string to sign as botocore's ``SigV4Auth`` would compute it for the request."""
    signed = parsed.signed_headers
    if list(signed) != sorted(set(signed)) or not _UNSIGNABLE.isdisjoint(signed):
        raise SignatureRejected("signed headers the signer would not sign")
    path, _, query = raw_path.partition("?")
    canonical = sigv4.canonical_request(method, path, query, headers, signed, payload_hash)
    scope = f"{parsed.date}/{parsed.region}/{parsed.service}/aws4_request"
    return sigv4.string_to_sign(timestamp, scope, canonical)


def forbidden_response(message: str = "Forbidden") -> web.Response:
    """API Gateway's refusal as boto3 reads it: 403 with ``x-amzn-ErrorType:
    ForbiddenException``, so the client raises ``ForbiddenException``."""
    return web.Response(
        status=403,
        text=json.dumps({"message": message}),
        content_type="application/json",
        headers={"x-amzn-ErrorType": "ForbiddenException"},
    )
