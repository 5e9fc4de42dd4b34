"""Publish each stored message once on its topic through IoT Core's ``iot-data`` Publish.

The broker fans it out to every MQTT subscriber allowed to receive it, so one request serves a
room of any size. QoS 1, so a subscriber at QoS 1 gets it at least once (and drops a repeat by
``seq``).

Why the request is built here rather than by a boto3 client: the fan-out publishes once per
message, and a boto3 call spends about a millisecond of CPU in botocore's request pipeline
(parameter validation, event hooks, endpoint rules, the user agent, response parsing) on what
is one signed POST with an empty answer. That was most of the fan-out function's CPU at 100
subscribers (docs/benchmarks.md, finding 16). The SigV4 signature (signing name ``iotdata``) is
``signing.py``'s, held to botocore's ``SigV4Auth`` by its tests (finding 22); the credentials
are the environment's, as Lambda gives them, else botocore's chain; when no endpoint is
configured, it is the one botocore resolves for ``iot-data`` in the region. The request is the
one boto3 sends (``POST /topics/{topic}?qos=1``, the payload as the body), on AWS as locally, on
one kept-alive connection per thread. ``IotDataClient`` is that machinery; ``hangup.py`` sends
IoT Core's DeleteConnection through it too.

IoT Core's HTTP API takes one message per request, so a stream batch costs a round trip per
message. A batch's topics are published side by side (``lanes`` threads, each on its own
connection), each topic's messages one after another, so no subscriber sees a topic out of
order and a batch of many rooms takes about as long as its busiest room. The relay function
publishes them, not the fan-out, whose WebSocket posts need not wait for these round trips.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from hubbub.push.connections import OneWriteConnection, OneWriteTlsConnection
from hubbub.push.iot.signing import RequestSigner
from hubbub.push.port import Broadcast, Published

__all__ = [
    "EnvCredentials",
    "IotDataBroadcast",
    "IotDataClient",
    "PublishRefused",
    "configured_endpoint",
    "endpoint_for",
    "refusal",
]

SIGNING_NAME = "iotdata"
"""IoT Core's data plane signs as ``iotdata`` (botocore's service model, ``signingName``)."""


class PublishRefused(Exception):
    """IoT Core answered the Publish with an error (its ``x-amzn-ErrorType``, e.g.
    ``ForbiddenException``): the stream record is retried."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(f"{error_type} ({status}): {message}")
        self.status = status
        self.error_type = error_type


def configured_endpoint(env: Mapping[str, str]) -> str | None:
    """The endpoint the standard configuration names for ``iot-data`` in the environment (the
    service-specific variable first, then the global one), unless configured endpoints are to
    be ignored; None leaves it to botocore's resolution."""
    if env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "").lower() == "true":
        return None
    return env.get("AWS_ENDPOINT_URL_IOT_DATA_PLANE") or env.get("AWS_ENDPOINT_URL") or None


class IotDataClient:
    """Signed requests to IoT Core's data plane on one kept-alive connection per thread: what
    the Publish here and the DeleteConnection of ``hangup.py`` share."""

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        credentials: Any = None,
        connect_timeout_s: float = 1.0,
        read_timeout_s: float = 2.0,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """Nothing is resolved or imported until the first request: a stack whose rooms see no
        message pays nothing at init."""
        self._env = os.environ if env is None else env
        self._endpoint = endpoint
        self._region = region
        self._credentials = credentials
        self._connect_timeout = connect_timeout_s
        self._read_timeout = read_timeout_s
        self._signer: RequestSigner | None = None
        self._local = threading.local()
        self._opened: list[http.client.HTTPConnection] = []  # every thread's, for close()
        self._opened_lock = threading.Lock()

    # setup, once ------------------------------------------------------------------------------
    def _ready(self) -> RequestSigner:
        if self._signer is None:
            region = (
                self._region
                or self._env.get("AWS_REGION")
                or self._env.get("AWS_DEFAULT_REGION", "us-east-1")
            )
            if self._endpoint is None:
                self._endpoint = endpoint_for(self._env, region)
            parts = urlsplit(self._endpoint)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(
                    f"iot-data endpoint must be http(s)://host, got {self._endpoint!r}"
                )
            self._scheme, self._host, self._port = parts.scheme, parts.hostname, parts.port
            self._base = parts.path.rstrip("/")
            self._signer = RequestSigner(
                self._credentials or _credentials(self._env),
                SIGNING_NAME,
                region,
                _host_header(parts.scheme, parts.hostname, parts.port),
            )
        return self._signer

    def _conn(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            if self._scheme == "https":
                context = ssl.create_default_context(cafile=self._env.get("AWS_CA_BUNDLE"))
                conn = OneWriteTlsConnection(
                    self._host, self._port, timeout=self._connect_timeout, context=context
                )
            else:
                conn = OneWriteConnection(self._host, self._port, timeout=self._connect_timeout)
            conn.read_timeout = self._read_timeout
            self._local.conn = conn
            with self._opened_lock:
                self._opened.append(conn)
        return conn

    # the request --------------------------------------------------------------------------------
    def request(self, method: str, path: str, data: bytes = b"") -> tuple[int, str | None, bytes]:
        """``path`` (with its query) signed and sent: (status, ``x-amzn-ErrorType``, body)."""
        signer = self._ready()
        path = f"{self._base}{path}"
        bare, _, query = path.partition("?")
        headers = signer.headers(method, bare, query, data)
        try:
            return self._send(method, path, data, headers)
        except (OSError, http.client.HTTPException):
            # a kept-alive connection the endpoint closed while the environment was frozen:
            # once more on a new one (a publish that did land is dropped by seq; a connection
            # deleted already answers 404)
            return self._send(method, path, data, headers)

    def _send(
        self, method: str, path: str, data: bytes, headers: dict[str, str]
    ) -> tuple[int, str | None, bytes]:
        conn = self._conn()
        try:
            conn.request(method, path, body=data, headers=headers)
            response = conn.getresponse()
            body = response.read()
        except BaseException:
            self._forget(conn)
            raise
        return response.status, response.getheader("x-amzn-ErrorType"), body

    def _forget(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        self._local.conn = None
        with self._opened_lock:
            if conn in self._opened:
                self._opened.remove(conn)

    def close(self) -> None:
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()


class IotDataBroadcast(IotDataClient, Broadcast):
    def __init__(self, *, lanes: int = 8, **client: Any) -> None:
        """``client``: :class:`IotDataClient`'s settings (endpoint, region, credentials,
        timeouts, env)."""
        super().__init__(**client)
        self._lanes = max(1, lanes)
        self._pool: ThreadPoolExecutor | None = None

    def publish(self, topic: str, data: bytes) -> None:
        path = f"/topics/{quote(topic, safe='')}?qos=1"
        status, error_type, body = self.request("POST", path, data)
        if status >= 300:
            raise refusal(status, error_type, body)

    def publish_all(self, messages: Sequence[tuple[str, bytes]]) -> Published:
        """Each topic's run of messages on a lane of its own, side by side, each in order; the
        earliest refusal of any lane wins. A single topic is published here, on this thread."""
        by_topic: dict[str, list[int]] = {}
        for index, (topic, _) in enumerate(messages):
            by_topic.setdefault(topic, []).append(index)
        if len(by_topic) <= 1 or self._lanes == 1:
            return Broadcast.publish_all(self, messages)  # one after another, here
        self._ready()  # once, before the threads share it
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._lanes, thread_name_prefix="iot-publish")
        lanes = [self._pool.submit(self._lane, messages, run) for run in by_topic.values()]
        refusals = [r for r in (lane.result() for lane in lanes) if r.failed_at is not None]
        return min(refusals, key=lambda r: r.failed_at or 0, default=Published())

    def _lane(self, messages: Sequence[tuple[str, bytes]], run: Sequence[int]) -> Published:
        for index in run:
            topic, data = messages[index]
            try:
                self.publish(topic, data)
            except Exception as exc:
                return Published(index, str(exc))
        return Published()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        super().close()


def refusal(status: int, error_type: str | None, body: bytes) -> PublishRefused:
    name = (error_type or "").split(":", 1)[0] or f"HTTP{status}"
    try:
        message = str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        message = body[:200].decode("utf-8", "replace")
    return PublishRefused(status, name, message)


@dataclass(frozen=True, slots=True)
class EnvCredentials:
    """The execution role's credentials as Lambda hands them to the function (its defined
    runtime environment variables), in the three attributes the signer reads."""

    access_key: str
    secret_key: str
    token: str | None


def _credentials(env: Mapping[str, str]) -> Any:
    """Lambda's credentials are in the environment, read here as botocore's environment
    provider reads them (importing that provider's module took about a tenth of the first
    publish); elsewhere botocore's chain finds them."""
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        token = env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN") or None
        return EnvCredentials(key, secret, token)
    import botocore.session

    found = botocore.session.get_session().get_credentials()
    if found is None:
        raise RuntimeError("no AWS credentials for iot-data")
    return found


def _host_header(scheme: str, host: str, port: int | None) -> str:
    """The ``Host`` header http.client sends: the port only when it is not the scheme's."""
    name = f"[{host}]" if ":" in host else host
    default = 443 if scheme == "https" else 80
    return name if port is None or port == default else f"{name}:{port}"


def endpoint_for(env: Mapping[str, str], region: str) -> str:
    """The configured endpoint, else the one botocore resolves for ``iot-data`` in ``region``:
    its endpoint rule set for the service over its partitions (``data-ats.iot`` in the
    standard partition), evaluated by botocore's own provider. Not a client built to read it:
    that imports botocore's client machinery, decodes its 1.2 MB endpoints table and lists
    every service's data directory, 70-150 ms of the fan-out's first invocation on AWS, where
    no endpoint is configured (docs/benchmarks.md, finding 18)."""
    configured = configured_endpoint(env)
    if configured is not None:
        return configured
    from botocore.endpoint_provider import EndpointProvider
    from botocore.loaders import Loader

    loader = Loader()
    provider = EndpointProvider(
        loader.load_data("iot-data/2015-05-28/endpoint-rule-set-1"), loader.load_data("partitions")
    )
    resolved = provider.resolve_endpoint(
        Region=region,
        UseFIPS=env.get("AWS_USE_FIPS_ENDPOINT", "").lower() == "true",
        UseDualStack=env.get("AWS_USE_DUALSTACK_ENDPOINT", "").lower() == "true",
    )
    return str(resolved.url)
