"""Signature Version 4 for the two requests this package sends to IoT Core's data plane.

Why not botocore's ``SigV4Auth``, which signed them until now: a signature costs it about 56 us
of CPU (an ``AWSRequest``, header maps, URL parsing, the four-HMAC signing key derived anew every
time) and its import about 45 ms of the fan-out's first invocation (``botocore.utils``, urllib3
and the regular expressions they compile). The fan-out signs once per stored message, in the
shard's serial path (docs/benchmarks.md, finding 22). The requests are always of one shape, a
POST of a body or a DELETE, to a path whose one variable segment is percent-encoded with nothing
left safe, and a query of plain ``key=value`` pairs, signed over ``host``, ``x-amz-date`` and,
with temporary credentials, ``x-amz-security-token``, as boto3 signs them; for that shape this is
the algorithm of *Create a signed AWS API request* (the canonical request, the string to sign,
the signing key), with the key kept for the day and the credentials it was derived from.
``tests/unit/test_iot_signing.py`` holds the result to botocore's ``SigV4Auth`` for the same
request and instant, and the runtime's verifier (botocore again) accepts what it signs.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
from typing import Any, Protocol
from urllib.parse import quote

__all__ = ["Credentials", "RequestSigner"]

_ALGORITHM = "AWS4-HMAC-SHA256"


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


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, and no empty segments, as the canonical URI of every service
    but S3 wants them."""
    kept: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if kept:
                kept.pop()
            continue
        kept.append(segment)
    if not kept:
        return "/"
    return "/" + "/".join(kept) + ("/" if path.endswith("/") else "")


def _canonical_query(query: str) -> str:
    """The pairs sorted by name, then value (the query is already percent-encoded)."""
    if not query:
        return ""
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&"))
    return "&".join(f"{name}={value}" for name, value in pairs)


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()


class RequestSigner:
    def __init__(self, credentials: Any, service: str, region: str, host: str) -> None:
        """``host``: the ``Host`` header as the connection sends it (with the port when it is
        not the scheme's)."""
        self._credentials = credentials
        self._service = service
        self._region = region
        self._host = " ".join(host.split())
        self._key: tuple[str, str, bytes] = ("", "", b"")  # (secret, day, signing key)

    def _signing_key(self, secret: str, day: str) -> bytes:
        cached_secret, cached_day, key = self._key
        if cached_secret != secret or cached_day != day:
            key = _hmac(f"AWS4{secret}".encode(), day)
            for part in (self._region, self._service, "aws4_request"):
                key = _hmac(key, part)
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
            signed["x-amz-security-token"] = " ".join(credentials.token.split())
        names = sorted(signed)
        canonical = "\n".join(
            [
                method.upper(),
                quote(_remove_dot_segments(path), safe="/~"),
                _canonical_query(query),
                "".join(f"{name}:{signed[name]}\n" for name in names),
                ";".join(names),
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{day}/{self._region}/{self._service}/aws4_request"
        to_sign = "\n".join(
            [_ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest()]
        )
        signature = hmac.new(
            self._signing_key(credentials.secret_key, day), to_sign.encode("utf-8"), hashlib.sha256
        ).hexdigest()
        headers = {"X-Amz-Date": amz_date}
        if credentials.token:
            headers["X-Amz-Security-Token"] = credentials.token
        headers["Authorization"] = (
            f"{_ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={signature}"
        )
        return headers
