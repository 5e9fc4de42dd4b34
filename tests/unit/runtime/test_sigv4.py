"""SigV4 verification: the signature is recomputed from the request, not trusted from its key id.

AWS: Signature Version 4 signing process, "Create a canonical request" and "Elements of an AWS API
request signature" (IAM user guide, reference_sigv4-create-signed-request): the signature covers
the method, path, query, signed headers and the payload hash, and a request more than 5 minutes
from AWS's clock is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from hubbub.runtime.sigv4 import SignatureRejected, SigV4Verifier

KEY, SECRET = "AKIALOCALTEST", "s3cret-of-the-runtime"
HOST = "127.0.0.1:8000"
PATH = "/ws/@connections/abc%3D"
NOW = datetime(2026, 12, 6, 8, 0, 0, tzinfo=UTC)


def signed(
    *,
    key: str = KEY,
    secret: str = SECRET,
    method: str = "POST",
    path: str = PATH,
    body: bytes = b'{"x":1}',
    at: datetime = NOW,
    service: str = "execute-api",
    extra: dict[str, str] | None = None,
) -> tuple[str, str, dict[str, str], bytes]:
    """A request as botocore signs it at ``at`` (the signer's clock pinned); ``extra`` headers
    are signed with it."""
    request = AWSRequest(method=method, url=f"http://{HOST}{path}", data=body, headers=extra)
    with mock.patch("botocore.auth.get_current_datetime", return_value=at.replace(tzinfo=None)):
        SigV4Auth(Credentials(key, secret, "local"), service, "us-east-1").add_auth(request)
    headers = {k: str(v) for k, v in request.headers.items()}
    headers["Host"] = HOST
    return method, path, headers, body


def verifier(now: datetime = NOW) -> SigV4Verifier:
    return SigV4Verifier({KEY: SECRET}, "execute-api", now=now.timestamp)


def test_a_request_signed_with_the_secret_is_accepted() -> None:
    assert verifier().verify(*signed()) == KEY


def test_get_and_delete_with_no_body_are_accepted() -> None:
    assert verifier().verify(*signed(method="GET", body=b"")) == KEY
    assert verifier().verify(*signed(method="DELETE", body=b"")) == KEY


def _with(
    request: tuple[str, str, dict[str, str], bytes], **changes: object
) -> tuple[str, str, dict[str, str], bytes]:
    method, path, headers, body = request
    headers = dict(headers)
    for name, value in dict(changes.pop("headers", {})).items():  # type: ignore[call-overload]
        headers[name] = value
    return (
        str(changes.get("method", method)),
        str(changes.get("path", path)),
        headers,
        changes.get("body", body),  # type: ignore[return-value]
    )


def _forged_zeros() -> tuple[str, str, dict[str, str], bytes]:
    method, path, headers, body = signed()
    auth = headers["Authorization"]
    headers["Authorization"] = auth[: auth.index("Signature=")] + "Signature=" + "0" * 64
    return method, path, headers, body


@pytest.mark.parametrize(
    ("why", "request_", "now"),
    [
        ("the right key id, a wrong secret", signed(secret="guessed"), NOW),
        ("a key id the runtime never issued", signed(key="AKIASOMEONEELSE"), NOW),
        ("a hand-forged signature of zeros", _forged_zeros(), NOW),
        ("replayed 6 minutes later", signed(), NOW + timedelta(minutes=6)),
        ("signed 6 minutes in the future", signed(), NOW - timedelta(minutes=6)),
        ("another body under the same signature", _with(signed(), body=b'{"x":2}'), NOW),
        (
            "another connection under the same signature",
            _with(signed(), path="/ws/@connections/other"),
            NOW,
        ),
        ("another method under the same signature", _with(signed(), method="DELETE"), NOW),
        ("a query added after signing", _with(signed(), path=PATH + "?a=1"), NOW),
        (
            "a payload hash that is not the body's",
            _with(signed(), headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}),
            NOW,
        ),
        ("signed for another service", signed(service="iotdata"), NOW),
        ("no Authorization header", _with(signed(), headers={"Authorization": ""}), NOW),
        (
            "an X-Amz-Date changed after signing",
            _with(signed(), headers={"X-Amz-Date": "20261206T080100Z"}),
            NOW,
        ),
        (
            "an X-Amz-Date with a thirteenth month",
            _with(signed(), headers={"X-Amz-Date": "20261306T080000Z"}),
            NOW,
        ),
        ("an X-Amz-Date that is no date", _with(signed(), headers={"X-Amz-Date": "today"}), NOW),
    ],
)
def test_a_request_not_signed_by_the_secret_is_refused(
    why: str, request_: tuple[str, str, dict[str, str], bytes], now: datetime
) -> None:
    with pytest.raises(SignatureRejected):
        verifier(now).verify(*request_)


def test_a_clock_skew_within_five_minutes_is_allowed() -> None:
    assert verifier(NOW + timedelta(minutes=4, seconds=50)).verify(*signed()) == KEY
    assert verifier(NOW - timedelta(minutes=4, seconds=50)).verify(*signed()) == KEY


def test_a_query_string_signed_with_the_request_is_accepted() -> None:
    assert verifier().verify(*signed(method="GET", path=PATH + "?b=2&a=x%20y", body=b"")) == KEY


def test_one_verifier_accepts_across_days_and_keys_and_still_refuses_forgeries() -> None:
    """Signing keys are kept per secret, day, region and service: a kept key neither lets a
    forgery through nor stops the next day's or another key's requests."""
    clock = [NOW]
    other_key, other_secret = "AKIAOTHERKEY", "another-secret"
    checker = SigV4Verifier(
        {KEY: SECRET, other_key: other_secret}, "execute-api", now=lambda: clock[0].timestamp()
    )
    assert checker.verify(*signed()) == KEY
    with pytest.raises(SignatureRejected):
        checker.verify(*signed(secret="guessed"))
    assert checker.verify(*signed(key=other_key, secret=other_secret)) == other_key
    clock[0] = tomorrow = NOW + timedelta(days=1)
    assert checker.verify(*signed(at=tomorrow)) == KEY
    with pytest.raises(SignatureRejected):
        checker.verify(*_forged_zeros())


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/topics/room%2Fbench?qos=1&retain=true",
        "/a/./b/../c%3D",
        "/a//b/?b=2&a=1&a=0",
        "/caf%C3%A9/~x+y?x=a%20b&flag",
    ],
)
@pytest.mark.parametrize(
    "extra", [None, {"Content-Type": "application/json", "X-Note": "  a   b\t c "}]
)
def test_whatever_botocore_signs_is_accepted_and_a_changed_path_is_not(
    path: str, extra: dict[str, str] | None
) -> None:
    """The verifier computes the canonical request itself (``hubbub/sigv4.py``): it must agree
    with botocore on dot segments, empty segments, encoded characters, unsorted and repeated
    query names and untrimmed header values, and still see a path changed after signing."""
    request = signed(path=path, extra=extra)
    assert verifier().verify(*request) == KEY
    method, signed_path, headers, body = request
    with pytest.raises(SignatureRejected):
        verifier().verify(method, signed_path.replace("/", "/x", 1), headers, body)


def test_a_header_botocore_never_signs_is_refused_when_signed() -> None:
    """botocore leaves ``user-agent`` out of every signature; one that covers it was not made
    by a boto3 client, and refusing it is what checking with botocore's signer did."""
    method, path, headers, body = signed()
    auth = headers["Authorization"].replace(
        "SignedHeaders=host;x-amz-date", "SignedHeaders=host;user-agent;x-amz-date"
    )
    headers = {**headers, "Authorization": auth, "User-Agent": "curl/8"}
    with pytest.raises(SignatureRejected, match="would not sign"):
        verifier().verify(method, path, headers, body)
