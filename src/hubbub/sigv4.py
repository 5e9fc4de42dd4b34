"""Signature Version 4's algorithm, for the two places that cannot afford botocore's signer.

*Create a signed AWS API request* (IAM user guide): a canonical request over the method, the
path, the query, the signed headers and the payload's hash; a string to sign over its digest;
a signing key derived from the secret for a day, region and service. botocore's ``SigV4Auth``
does the same through an ``AWSRequest``, header maps and URL parsing: about 56 us to sign and
80-100 us to check inside the runtime, where each IoT Core publish of the fan-out is signed by
``push/iot/signing.py`` and checked by ``runtime/sigv4.py`` (docs/benchmarks.md, findings 22
and 24). Both use this module instead, and share it rather than each keep a copy: it imports
nothing of either side, as ``streamlog.py`` serves the store and the runtime.

Every function follows botocore's ``SigV4Auth`` for services other than S3 (S3 neither
normalises nor double-encodes the path, and stays with botocore): paths lose dot segments and
empty segments and are percent-encoded once more; the query is taken as sent (already encoded)
and sorted; header values are trimmed and their inner whitespace collapsed.
``tests/unit/test_sigv4_algorithm.py`` holds each to botocore for the same request.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import quote

__all__ = [
    "ALGORITHM",
    "canonical_query",
    "canonical_request",
    "canonical_uri",
    "derive_key",
    "string_to_sign",
]

ALGORITHM = "AWS4-HMAC-SHA256"


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4, and no empty segments (AWS wants consecutive slashes gone)."""
    kept: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if kept:
                kept.pop()
            continue
        kept.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and kept else ""
    return first + "/".join(kept) + last


def canonical_uri(path: str) -> str:
    """The path as sent (still percent-encoded), normalised and encoded again."""
    return quote(_remove_dot_segments(path) if path else "/", safe="/~")


def canonical_query(query: str) -> str:
    """The ``name=value`` pairs sorted by name, then value (already percent-encoded)."""
    if not query:
        return ""
    pairs = sorted(pair.partition("=")[::2] for pair in query.split("&"))
    return "&".join(f"{name}={value}" for name, value in pairs)


def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    signed: Sequence[str],
    payload_hash: str,
) -> str:
    """``signed``: the lower-case names of the signed headers, sorted; ``headers`` has a value
    for each (repeated headers already joined with commas)."""
    lines = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed)
    return "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            lines,
            ";".join(signed),
            payload_hash,
        ]
    )


def string_to_sign(amz_date: str, scope: str, canonical: str) -> bytes:
    """``scope``: ``{day}/{region}/{service}/aws4_request``."""
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}".encode()


def derive_key(secret: str, day: str, region: str, service: str) -> bytes:
    """The signing key of a secret for one day (``YYYYMMDD``), region and service: four HMACs,
    worth keeping for the day by whoever signs or checks many requests."""
    key = f"AWS4{secret}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key
