"""Publish each stored message once on its topic through IoT Core's ``iot-data`` Publish.

The broker fans it out to every MQTT subscriber allowed to receive it, so one request serves a
room of any size. QoS 1, so a subscriber at QoS 1 gets it at least once (and drops a repeat by
``seq``).

The request is the one boto3's ``iot-data`` client sends (``POST /topics/{topic}?qos=1``, the
payload as the body, SigV4 for the signing name ``iotdata``), built from botocore's own parts:
its endpoint rule set for the service (``AWS_ENDPOINT_URL_IOT_DATA_PLANE`` or
``AWS_ENDPOINT_URL`` when configured, else the partition's ``data-ats.iot`` endpoint), its SigV4
signer and its urllib3 HTTP session, with the execution role's credentials from the environment.
Not the client itself: importing boto3 and building that client took 130-180 ms of the fan-out
function's first invocation (boto3's S3 transfer manager, botocore's client machinery, decoding
the 1.2 MB endpoints table, listing every service's data directory); these parts take about a
third of that (docs/benchmarks.md, finding 16). Retries are the standard mode's, two attempts.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hubbub.push.iot.retries import MAX_ATTEMPTS, backoff_s, retryable
from hubbub.push.port import Broadcast

__all__ = ["EnvCredentials", "IotDataBroadcast", "IotPublishError", "endpoint_url"]

SIGNING_NAME = "iotdata"
_RULESET = "iot-data/2015-05-28/endpoint-rule-set-1"


class IotPublishError(Exception):
    """IoT Core refused the publish, or could not be reached (``status`` 0: no answer)."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        answer = f" ({status})" if status else ""
        super().__init__(f"{error_type}{answer}: {message}")
        self.status = status
        self.error_type = error_type


def _flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() == "true"


def endpoint_url(env: Mapping[str, str]) -> str:
    """The data plane's endpoint as botocore resolves it for ``iot-data``: the configured one
    (service-specific first, as the SDKs' *Service-specific endpoints* setting reads), passed
    through the service's rule set like any other, else the rule set's for the region."""
    from botocore.endpoint_provider import EndpointProvider
    from botocore.loaders import Loader

    params: dict[str, Any] = {
        "Region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"),
        "UseFIPS": _flag(env, "AWS_USE_FIPS_ENDPOINT"),
        "UseDualStack": _flag(env, "AWS_USE_DUALSTACK_ENDPOINT"),
    }
    if not _flag(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        configured = env.get("AWS_ENDPOINT_URL_IOT_DATA_PLANE") or env.get("AWS_ENDPOINT_URL")
        if configured:
            params["Endpoint"] = configured
    loader = Loader()
    provider = EndpointProvider(loader.load_data(_RULESET), loader.load_data("partitions"))
    return str(provider.resolve_endpoint(**params).url).rstrip("/")


@dataclass(frozen=True, slots=True)
class EnvCredentials:
    """The execution role's credentials as Lambda hands them to the function (its *defined
    runtime environment variables*), in the three attributes botocore's signer reads."""

    access_key: str
    secret_key: str
    token: str | None


def _credentials(env: Mapping[str, str]) -> Any:
    """From the environment when it has them, as on Lambda (botocore's environment provider
    reads the same variables, but importing its credentials module took a tenth of this
    adapter's first publish); anywhere else, botocore's whole provider chain."""
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        token = env.get("AWS_SESSION_TOKEN") or env.get("AWS_SECURITY_TOKEN") or None
        return EnvCredentials(key, secret, token)
    import botocore.session

    found = botocore.session.get_session().get_credentials()
    if found is None:
        raise IotPublishError(0, "NoCredentialsError", "no AWS credentials to sign with")
    return found


class _Signed:
    """What a publish needs, built on the first one: endpoint, signer and HTTP session."""

    def __init__(self, env: Mapping[str, str], connect_s: float, read_s: float) -> None:
        from botocore.auth import SigV4Auth
        from botocore.httpsession import URLLib3Session

        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
        self.url = endpoint_url(env)
        self.signer = SigV4Auth(_credentials(env), SIGNING_NAME, region)
        self.http = URLLib3Session(timeout=(connect_s, read_s))

    def send(self, topic: str, data: bytes) -> tuple[int, Mapping[str, str], bytes]:
        from botocore.awsrequest import AWSRequest
        from botocore.utils import percent_encode

        request = AWSRequest(
            method="POST", url=f"{self.url}/topics/{percent_encode(topic)}?qos=1", data=data
        )
        self.signer.add_auth(request)
        response = self.http.send(request.prepare())
        return response.status_code, response.headers, response.content


def _error(status: int, headers: Mapping[str, str], body: bytes) -> IotPublishError:
    """A rest-json error: its type in ``x-amzn-ErrorType`` (before any ``:``), else the body's
    ``code``; its message in the body's ``message``."""
    import json

    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        parsed = {}
    if not isinstance(parsed, dict):
        parsed = {}
    error_type = (headers.get("x-amzn-ErrorType") or "").split(":")[0]
    error_type = error_type or str(parsed.get("code") or parsed.get("__type") or status)
    message = str(parsed.get("message") or parsed.get("Message") or "")
    return IotPublishError(status, error_type.rpartition("#")[2], message)


class IotDataBroadcast(Broadcast):
    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        connect_timeout_s: float = 1.0,
        read_timeout_s: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self._env = dict(os.environ if env is None else env)
        self._connect_timeout = connect_timeout_s
        self._read_timeout = read_timeout_s
        self._sleep = sleep
        self._jitter = jitter
        self._signed: _Signed | None = None

    def _api(self) -> _Signed:
        if self._signed is None:
            self._signed = _Signed(self._env, self._connect_timeout, self._read_timeout)
        return self._signed

    def publish(self, topic: str, data: bytes) -> None:
        api = self._api()
        attempt = 1
        while True:
            failure = self._attempt(api, topic, data)
            if failure is None:
                return
            if attempt >= MAX_ATTEMPTS or not retryable(failure.status, failure.error_type):
                raise failure
            self._sleep(backoff_s(attempt, self._jitter()))
            attempt += 1

    @staticmethod
    def _attempt(api: _Signed, topic: str, data: bytes) -> IotPublishError | None:
        """One try: None when it was published, else why not (a connection that failed or
        timed out counts as transient, as botocore counts it)."""
        from botocore.exceptions import ConnectionError, HTTPClientError

        try:
            status, headers, body = api.send(topic, data)
        except (ConnectionError, HTTPClientError) as exc:  # what standard mode counts transient
            return IotPublishError(0, type(exc).__name__, str(exc))
        if 200 <= status < 300:
            return None
        return _error(status, headers, body)

    def close(self) -> None:
        if self._signed is not None:
            self._signed.http.close()
