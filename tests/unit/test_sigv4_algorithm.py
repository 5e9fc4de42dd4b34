"""``hubbub/sigv4.py`` against botocore's ``SigV4Auth``, the oracle: the same canonical request
and string to sign for the same request, over paths, queries and header values a client may
send (dot segments, empty segments, percent-encoded and unreserved characters, repeated query
names, values with inner whitespace), and the same signing key."""

from __future__ import annotations

import datetime
import hashlib
import hmac
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from hubbub import sigv4

HOST = "127.0.0.1:8123"
AT = datetime.datetime(2026, 12, 6, 23, 59, 58)
AMZ_DATE = AT.strftime("%Y%m%dT%H%M%SZ")

PATHS = [
    "/",
    "/topics/room%2Fbench",
    "/ws/@connections/abc%3D",
    "/a/./b/../c",
    "/a//b/",
    "/a/b/",
    "/..",
    "/a/~b/c-d_e.f",
    "/$aws/things/x",
    "/caf%C3%A9/a+b",
    "/a%20b/%7E",
]
QUERIES = ["", "qos=1", "retain=true&qos=1", "a=2&a=1", "a", "b=&a", "x=a%20b&y=%2F"]
HEADER_SETS = [
    {},
    {"Content-Type": "application/json"},
    {"X-Amz-Meta-Note": "  two   spaces\tand a tab  "},
    {"X-Custom": "one,two", "Accept": "*/*"},
]


def _botocore(
    method: str, path: str, query: str, extra: dict[str, str], body: bytes
) -> tuple[str, str, dict[str, str]]:
    """botocore's canonical request and string to sign, and the headers it sent."""
    url = f"http://{HOST}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, headers=dict(extra), data=body)
    signer = SigV4Auth(Credentials("AKIAEXAMPLE", "secret"), "iotdata", "eu-west-1")
    seen: list[str] = []
    own = signer.string_to_sign

    def spy(req: AWSRequest, canonical: str) -> str:
        seen.extend([canonical, own(req, canonical)])
        return seen[-1]

    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=AT),
        mock.patch.object(signer, "string_to_sign", spy),
    ):
        signer.add_auth(request)
    canonical, to_sign = seen
    headers = {k.lower(): str(v) for k, v in request.headers.items()}
    headers["host"] = HOST
    return canonical, to_sign, headers


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("query", QUERIES)
def test_the_canonical_request_is_botocores_for_every_path_and_query(path: str, query: str) -> None:
    body = b'{"text":"hi"}'
    canonical, to_sign, headers = _botocore("POST", path, query, {}, body)
    signed = sorted(["host", "x-amz-date"])
    ours = sigv4.canonical_request(
        "post", path, query, headers, signed, hashlib.sha256(body).hexdigest()
    )
    assert ours == canonical
    scope = f"{AMZ_DATE[:8]}/eu-west-1/iotdata/aws4_request"
    assert sigv4.string_to_sign(AMZ_DATE, scope, ours) == to_sign.encode()


@pytest.mark.parametrize("extra", HEADER_SETS)
@pytest.mark.parametrize("method", ["GET", "DELETE", "PUT"])
def test_signed_header_values_are_trimmed_as_botocore_trims_them(
    extra: dict[str, str], method: str
) -> None:
    canonical, _, headers = _botocore(method, "/a", "", extra, b"")
    signed = sorted({"host", "x-amz-date", *(name.lower() for name in extra)})
    ours = sigv4.canonical_request(
        method, "/a", "", headers, signed, hashlib.sha256(b"").hexdigest()
    )
    assert ours == canonical


def test_an_empty_path_is_the_root() -> None:
    assert sigv4.canonical_uri("") == "/"
    assert sigv4.canonical_uri("/a/b/../../..") == "/"


def test_the_signing_key_is_the_documented_chain() -> None:
    """The example of *Derive a signing key* in the IAM user guide's SigV4 reference."""
    key = sigv4.derive_key(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam"
    )
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"
    assert len(hmac.new(key, b"x", hashlib.sha256).hexdigest()) == 64
