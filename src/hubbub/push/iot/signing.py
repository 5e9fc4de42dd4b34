"""Signature Version 4 for the two requests this package sends to IoT Core's data plane.

Why not botocore's ``SigV4Auth``, which signed them until now: a signature costs it about 56 us
of CPU (an ``AWSRequest``, header maps, URL parsing, the four-HMAC signing key derived anew every
time) and its import about 45 ms of the fan-out's first invocation (``botocore.utils``, urllib3
and the regular expressions they compile). The fan-out signs once per stored message, in the
shard's serial path (docs/benchmarks.md, finding 22). The requests are always of one shape, a
POST of a body or a DELETE, to a path whose one variable segment is percent-encoded with nothing
left safe, and a query of plain ``key=value`` pairs, signed over ``host``, ``x-amz-date`` and,
with temporary credentials, ``x-amz-security-token``, as boto3 signs them. The algorithm (the
canonical request, the string to sign, the signing key) is ``hubbub/sigv4.py``, which the
runtime's verifier shares; this keeps the key for the day and the credentials it came from.
``tests/unit/test_iot_signing.py`` holds the result to botocore's ``SigV4Auth`` for the same
request and instant, and the runtime's verifier accepts what it signs.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from typing import Any, Protocol

from hubbub.sigv4 import ALGORITHM, canonical_request, derive_key, string_to_sign

__all__ = ["Credentials", "RequestSigner"]


class Credentials(Protocol):
    access_key: str
    secret_key: str
    token: str | None


def _frozen(credentials: Any) -> Credentials:
    """A consistent (key, secret, token) now: botocore's refreshable credentials hand them out
    through ``get_frozen_credentials``; Lambda's, from the environment, never change."""
    freeze = getattr(credentials, "get_frozen_credentials", None)
    frozen: Credentials = freeze() if freeze is not None else credentials
    return frozen


class RequestSigner:
    def __init__(self, credentials: Any, service: str, region: str, host: str) -> None:
        """``host``: the ``Host`` header as the connection sends it (with the port when it is
        not the scheme's)."""
        self._credentials = credentials
        self._service = service
        self._region = region
        self._host = host  # trimmed with the other signed values in the canonical request
        self._key: tuple[str, str, bytes] = ("", "", b"")  # (secret, day, signing key)

    def _signing_key(self, secret: str, day: str) -> bytes:
        cached_secret, cached_day, key = self._key
        if cached_secret != secret or cached_day != day:
            key = derive_key(secret, day, self._region, self._service)
            self._key = (secret, day, key)
        return key

    def headers(
        self,
        method: str,
        path: str,
        query: str,
        body: bytes,
        now: datetime.datetime | None = None,
    ) -> dict[str, str]:
        """The headers that sign ``method path?query`` with ``body``: ``X-Amz-Date``,
        ``X-Amz-Security-Token`` with temporary credentials, and ``Authorization``."""
        credentials = _frozen(self._credentials)
        moment = now or datetime.datetime.now(datetime.UTC)
        amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        signed = {"host": self._host, "x-amz-date": amz_date}
        if credentials.token:
            signed["x-amz-security-token"] = credentials.token
        names = sorted(signed)
        canonical = canonical_request(
            method, path, query, signed, names, hashlib.sha256(body).hexdigest()
        )
        scope = f"{day}/{self._region}/{self._service}/aws4_request"
        signature = hmac.new(
            self._signing_key(credentials.secret_key, day),
            string_to_sign(amz_date, scope, canonical),
            hashlib.sha256,
        ).hexdigest()
        headers = {"X-Amz-Date": amz_date}
        if credentials.token:
            headers["X-Amz-Security-Token"] = credentials.token
        headers["Authorization"] = (
            f"{ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}"
        )
        return headers
