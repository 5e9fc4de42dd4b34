"""The data plane's signer against botocore's ``SigV4Auth``: the same request at the same
instant gets the same headers, byte for byte, for every shape the adapters send."""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from hubbub.push.iot.signing import RequestSigner
from hubbub.runtime.sigv4 import SigV4Verifier

KEY, SECRET, TOKEN = "AKIASIGNING", "signing-secret", "session/token+with=odd chars"
AT = datetime.datetime(2026, 12, 6, 23, 59, 58, tzinfo=datetime.UTC)


def _botocore(
    credentials: Credentials,
    url: str,
    method: str,
    body: bytes,
    region: str,
    at: datetime.datetime = AT,
) -> dict[str, str]:
    """What botocore signs for the request at ``AT`` (the steps of its ``add_auth``, with the
    instant fixed rather than read from the clock)."""
    signer = SigV4Auth(credentials, "iotdata", region)
    request = AWSRequest(method=method, url=url, data=body)
    request.context["timestamp"] = at.strftime("%Y%m%dT%H%M%SZ")
    signer._modify_request_before_signing(request)
    canonical = signer.canonical_request(request)
    signature = signer.signature(signer.string_to_sign(request, canonical), request)
    signer._inject_signature_to_request(request, signature)
    return dict(request.headers.items())


@pytest.mark.parametrize(
    ("url", "method", "body"),
    [
        ("https://a1b2-ats.iot.eu-west-1.amazonaws.com/topics/room%2Flobby?qos=1", "POST", b"{}"),
        ("http://127.0.0.1:8765/topics/desk%2Fv_01%20x?qos=1", "POST", b'{"text": "hi"}'),
        ("https://example.com:8443/topics/room%2Fcaf%C3%A9?qos=1", "POST", "é".encode()),
        (
            "https://data-ats.iot.us-east-1.amazonaws.com/connections/paho%2Fann%201"
            "?preventWillMessage=true&cleanSession=true",
            "DELETE",
            b"",
        ),
        ("http://127.0.0.1:8765/connections/..?cleanSession=false", "DELETE", b""),
        ("http://127.0.0.1:8765/base/topics/room%2Fa?qos=1&a-b=2&a=1", "POST", b"x"),
    ],
)
@pytest.mark.parametrize("token", [None, TOKEN])
def test_the_headers_are_botocores(url: str, method: str, body: bytes, token: str | None) -> None:
    credentials = Credentials(KEY, SECRET, token)
    parts = urlsplit(url)
    host = parts.netloc.removesuffix(":443")
    signer = RequestSigner(credentials, "iotdata", "eu-west-1", host)
    ours = signer.headers(method, parts.path, parts.query, body, AT)
    assert ours == _botocore(credentials, url, method, body, "eu-west-1")


def test_the_signing_key_follows_the_day_and_the_credentials() -> None:
    credentials = Credentials(KEY, SECRET)
    url = "http://127.0.0.1:1/topics/room%2Fa?qos=1"
    signer = RequestSigner(credentials, "iotdata", "us-east-1", "127.0.0.1:1")
    for at in (AT, AT + datetime.timedelta(seconds=3), AT + datetime.timedelta(days=1)):
        ours = signer.headers("POST", "/topics/room%2Fa", "qos=1", b"m", at)
        assert ours == _botocore(credentials, url, "POST", b"m", "us-east-1", at)
    rotated = Credentials(KEY, "rotated-secret", TOKEN)
    signer._credentials = rotated
    ours = signer.headers("POST", "/topics/room%2Fa", "qos=1", b"m", AT)
    assert ours == _botocore(rotated, url, "POST", b"m", "us-east-1")


def test_the_runtime_accepts_what_it_signs() -> None:
    now = datetime.datetime.now(datetime.UTC)
    signer = RequestSigner(Credentials(KEY, SECRET), "iotdata", "us-east-1", "127.0.0.1:9")
    headers = signer.headers("POST", "/topics/room%2Fa", "qos=1", b"hello", now)
    verifier = SigV4Verifier({KEY: SECRET}, "iotdata")
    assert (
        verifier.verify(
            "POST", "/topics/room%2Fa?qos=1", {**headers, "Host": "127.0.0.1:9"}, b"hello"
        )
        == KEY
    )
