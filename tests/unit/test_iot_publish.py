"""The MQTT edge's publish: the request boto3's ``iot-data`` client would send, built from
botocore's parts (endpoint rule set, credentials, SigV4 signer, HTTP session), and the standard
retry mode's decisions.

AWS: *Publish* (AWS IoT Core API reference, ``POST /topics/{topic}``, the payload as the body);
*Retry behavior* (AWS SDKs and Tools reference guide, standard mode); *Service-specific
endpoints* (same guide, ``AWS_ENDPOINT_URL_<SERVICE>``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from hubbub.push.iot.adapter import IotDataBroadcast, IotPublishError, endpoint_url
from hubbub.push.iot.retries import backoff_s, retryable
from hubbub.runtime.sigv4 import SigV4Verifier

KEY, SECRET_KEY = "AKIDLOCAL", "local-secret"


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Broker:
    """A data plane that records every request and answers from ``answers`` (then 200)."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
def broker() -> Iterator[Broker]:
    state = Broker()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            state.seen.append(Seen("POST", self.path, dict(self.headers.items()), body))
            status, headers, payload = state.answers.pop(0) if state.answers else (200, {}, b"")
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _env(broker: Broker) -> dict[str, str]:
    return {
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": KEY,
        "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        "AWS_SESSION_TOKEN": "session-token",
        "AWS_ENDPOINT_URL_IOT_DATA_PLANE": broker.url,
    }


def _no_wait(seconds: float) -> None:
    pass


def _adapter(broker: Broker) -> IotDataBroadcast:
    return IotDataBroadcast(_env(broker), sleep=_no_wait, jitter=lambda: 0.5)


def _error(status: int, error_type: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"message": message}).encode()
    return status, {"x-amzn-ErrorType": error_type, "Content-Type": "application/json"}, body


def test_the_request_is_the_one_boto3_sends_signed_for_iotdata(broker: Broker) -> None:
    topic, payload = "room/a b+#", b'{"type":"message","text":"hi"}'
    adapter = _adapter(broker)
    adapter.publish(topic, payload)
    adapter.close()
    client = boto3.client(
        "iot-data",
        region_name="eu-west-1",
        endpoint_url=broker.url,
        aws_access_key_id=KEY,
        aws_secret_access_key=SECRET_KEY,
        aws_session_token="session-token",
    )
    client.publish(topic=topic, qos=1, payload=payload)
    ours, boto = broker.seen
    assert (ours.method, ours.path, ours.body) == (boto.method, boto.path, boto.body)
    assert ours.path == "/topics/room%2Fa%20b%2B%23?qos=1"
    assert ours.headers["X-Amz-Security-Token"] == "session-token"
    assert "Content-Type" not in ours.headers and "Content-Type" not in boto.headers
    verifier = SigV4Verifier({KEY: SECRET_KEY}, "iotdata")
    assert verifier.verify(ours.method, ours.path, ours.headers, ours.body) == KEY


@pytest.mark.parametrize(
    "env",
    [
        {"AWS_REGION": "us-east-1"},
        {"AWS_REGION": "eu-central-1"},
        {"AWS_REGION": "cn-north-1"},
        {"AWS_REGION": "us-gov-west-1"},
        {"AWS_REGION": "us-east-1", "AWS_USE_FIPS_ENDPOINT": "true"},
        {"AWS_DEFAULT_REGION": "ap-southeast-2"},
    ],
)
def test_the_endpoint_is_the_one_botocore_resolves(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_IOT_DATA_PLANE", "AWS_USE_FIPS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    region = env.get("AWS_REGION") or env["AWS_DEFAULT_REGION"]
    client = boto3.client(
        "iot-data", region_name=region, aws_access_key_id="k", aws_secret_access_key="s"
    )
    assert endpoint_url(env) == client.meta.endpoint_url


def test_a_configured_endpoint_wins_service_specific_first() -> None:
    base = {"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": "http://127.0.0.1:1"}
    assert endpoint_url(base) == "http://127.0.0.1:1"
    specific = {**base, "AWS_ENDPOINT_URL_IOT_DATA_PLANE": "http://127.0.0.1:2"}
    assert endpoint_url(specific) == "http://127.0.0.1:2"
    ignored = {**specific, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}
    assert endpoint_url(ignored) == "https://data-ats.iot.us-east-1.amazonaws.com"


def test_a_throttled_publish_is_tried_once_more(broker: Broker) -> None:
    broker.answers.append(_error(429, "ThrottlingException", "slow down"))
    _adapter(broker).publish("room/a", b"x")
    assert len(broker.seen) == 2


def test_a_refused_publish_raises_its_error_at_once(broker: Broker) -> None:
    broker.answers.append(_error(413, "RequestEntityTooLargeException", "over 128 KB"))
    with pytest.raises(IotPublishError) as raised:
        _adapter(broker).publish("room/a", b"x")
    assert (raised.value.status, raised.value.error_type) == (413, "RequestEntityTooLargeException")
    assert "over 128 KB" in str(raised.value)
    assert len(broker.seen) == 1


def test_two_failed_attempts_raise_the_last_error(broker: Broker) -> None:
    broker.answers += [_error(503, "ServiceUnavailableException", "busy")] * 2
    with pytest.raises(IotPublishError) as raised:
        _adapter(broker).publish("room/a", b"x")
    assert raised.value.error_type == "ServiceUnavailableException"
    assert len(broker.seen) == 2


def test_an_unreachable_broker_is_tried_twice_then_raises() -> None:
    env = {**_env(Broker()), "AWS_ENDPOINT_URL_IOT_DATA_PLANE": "http://127.0.0.1:9"}
    waits: list[float] = []
    adapter = IotDataBroadcast(env, connect_timeout_s=0.5, sleep=waits.append, jitter=lambda: 0.5)
    with pytest.raises(IotPublishError) as raised:
        adapter.publish("room/a", b"x")
    assert raised.value.status == 0
    assert waits == [0.5]


@pytest.mark.parametrize(
    ("status", "error_type", "again"),
    [
        (0, "EndpointConnectionError", True),
        (0, "ReadTimeoutError", True),
        (500, "InternalFailureException", True),
        (502, "", True),
        (503, "ServiceUnavailableException", True),
        (504, "", True),
        (429, "ThrottlingException", True),
        (400, "RequestTimeoutException", True),
        (400, "LimitExceededException", True),
        (400, "InvalidRequestException", False),
        (401, "UnauthorizedException", False),
        (403, "ForbiddenException", False),
        (405, "MethodNotAllowedException", False),
        (413, "RequestEntityTooLargeException", False),
    ],
)
def test_standard_mode_retries_transient_and_throttling_errors_only(
    status: int, error_type: str, again: bool
) -> None:
    assert retryable(status, error_type) is again


@pytest.mark.parametrize(
    ("attempt", "jitter", "wait"),
    [(1, 0.0, 0.0), (1, 0.5, 0.5), (2, 0.5, 1.0), (3, 0.99, 3.96), (9, 0.5, 20.0)],
)
def test_the_backoff_is_full_jitter_base_2_capped_at_20_s(
    attempt: int, jitter: float, wait: float
) -> None:
    assert backoff_s(attempt, jitter) == pytest.approx(wait)


def test_without_credentials_in_the_environment_botocore_s_chain_is_asked(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Outside Lambda (a container role, a profile), the signer gets what botocore finds."""
    env = {k: v for k, v in _env(broker).items() if not k.startswith("AWS_SECRET")}
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    IotDataBroadcast(env, sleep=_no_wait).publish("room/a", b"x")
    seen = broker.seen[0]
    assert "X-Amz-Security-Token" not in seen.headers
    verifier = SigV4Verifier({KEY: SECRET_KEY}, "iotdata")
    assert verifier.verify(seen.method, seen.path, seen.headers, seen.body) == KEY
