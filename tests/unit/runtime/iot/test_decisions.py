"""The broker's pure decisions, table by table: CONNACK codes, keep-alive, session expiry,
PUBLISH verdicts, SUBACK codes, wills, and the token bucket behind the rate quotas.

Sources: *MQTT* ("AWS IoT differences from MQTT specifications": QoS 2 gets no PUBACK or SUBACK),
*AWS IoT Core endpoints and quotas* (payload 128 KB, 50 subscriptions per connection, 8 per
SUBSCRIBE, 7 slashes, 100 publishes/s per connection, 1 CONNECT/s per client id, keep-alive 30 to
1200 s), *Lifecycle events* (disconnect reasons and which send the will).
"""

from __future__ import annotations

import pytest

from hubbub.runtime.iot.decisions import (
    Problem,
    Refusal,
    client_id_refusal,
    connack_code,
    effective_keepalive,
    keepalive_timeout_s,
    publish_verdict,
    session_expiry_s,
    subscribe_problem,
    subscribe_verdicts,
    will_is_sent,
)
from hubbub.runtime.iot.hooks import ALLOW_ALL, DisconnectReason
from hubbub.runtime.iot.packets import MQTT5, MQTT311, Connect, Properties, Publish, Subscribe
from hubbub.runtime.iot.packets import Subscription as Sub
from hubbub.runtime.iot.quotas import IotQuotas, TokenBucket

Q = IotQuotas()


class Deny:
    """A policy that refuses everything under ``secret/``."""

    def can_connect(self, client_id: str) -> bool:
        return client_id != "banned"

    def can_publish(self, topic: str) -> bool:
        return not topic.startswith("secret/")

    def can_subscribe(self, topic_filter: str) -> bool:
        return not topic_filter.startswith("secret/")

    def can_receive(self, topic: str) -> bool:
        return not topic.startswith("secret/")


@pytest.mark.parametrize(
    ("refusal", "version", "code"),
    [
        (Refusal.UNSUPPORTED_VERSION, MQTT311, 0x01),
        (Refusal.BAD_CLIENT_ID, MQTT311, 0x02),
        (Refusal.NOT_AUTHORIZED, MQTT311, 0x05),
        (Refusal.THROTTLED, MQTT311, 0x03),
        (Refusal.UNSUPPORTED_VERSION, MQTT5, 0x84),
        (Refusal.BAD_CLIENT_ID, MQTT5, 0x85),
        (Refusal.NOT_AUTHORIZED, MQTT5, 0x87),
        (Refusal.THROTTLED, MQTT5, 0x9F),
    ],
)
def test_connack_codes(refusal: Refusal, version: int, code: int) -> None:
    assert connack_code(refusal, version) == code


@pytest.mark.parametrize(
    ("connect", "refusal"),
    [
        (Connect("ok"), None),
        (Connect("x" * 128), None),
        (Connect("x" * 129), Refusal.BAD_CLIENT_ID),
        (Connect("", clean_start=True), None),  # the broker assigns one
        (Connect("", clean_start=False), Refusal.BAD_CLIENT_ID),
        (Connect("", version=MQTT5, clean_start=False), None),
    ],
)
def test_client_id(connect: Connect, refusal: Refusal | None) -> None:
    assert client_id_refusal(connect, Q) is refusal


@pytest.mark.parametrize(
    ("requested", "effective"),
    [(0, 1200), (1, 30), (29, 30), (30, 30), (60, 60), (1200, 1200), (1201, 1200), (65535, 1200)],
)
def test_keepalive(requested: int, effective: int) -> None:
    assert effective_keepalive(requested, Q) == effective


def test_keepalive_timeout_is_one_and_a_half_keepalives() -> None:
    assert keepalive_timeout_s(60) == 90.0


@pytest.mark.parametrize(
    ("connect", "expiry"),
    [
        (Connect("c", clean_start=True), 0),
        (Connect("c", clean_start=False), 3600),
        (Connect("c", version=MQTT5, clean_start=False), 0),  # no Session Expiry Interval
        (Connect("c", version=MQTT5, properties=Properties(((0x11, 300),))), 300),
        (Connect("c", version=MQTT5, properties=Properties(((0x11, 2**32 - 1),))), 3600),
    ],
)
def test_session_expiry(connect: Connect, expiry: int) -> None:
    assert session_expiry_s(connect, Q) == expiry


TOPIC = Problem.TOPIC_INVALID


@pytest.mark.parametrize(
    ("publish", "version", "route", "problem", "puback"),
    [
        (Publish("room/a", b"x", 1, packet_id=1), MQTT311, True, None, 0),
        (Publish("room/a", b"x", 2, packet_id=1), MQTT311, False, Problem.QOS_NOT_SUPPORTED, 0),
        (Publish("room/a", b"x", 2, packet_id=1), MQTT5, False, Problem.QOS_NOT_SUPPORTED, 0),
        (Publish("room/a", b"x" * (128 * 1024)), MQTT311, True, None, 0),
        (Publish("room/a", b"x" * (128 * 1024 + 1)), MQTT311, False, Problem.PACKET_TOO_LARGE, 0),
        (Publish("a/b/c/d/e/f/g/h/i", b""), MQTT311, False, Problem.TOPIC_INVALID, 0),
        (Publish("$aws/rules/r/a/b/c/d/e/f/g/h", b""), MQTT311, True, None, 0),
        (Publish("secret/x", b"", 1, packet_id=1), MQTT311, False, Problem.NOT_AUTHORIZED, 0),
        (Publish("secret/x", b"", 1, packet_id=1), MQTT5, False, None, 0x87),
        # *Reserved topics*: an unsupported publish to a $ topic ends the connection, in both
        # versions, whatever the policy says
        (Publish("$aws/events/presence/connected/x", b""), MQTT311, False, TOPIC, 0),
        (Publish("$aws/events/presence/connected/x", b"", 1, packet_id=1), MQTT5, False, TOPIC, 0),
        (Publish("$sys/operators", b"", 1, packet_id=1), MQTT5, False, TOPIC, 0),
        (Publish("$SYS/x", b""), MQTT311, False, TOPIC, 0),
        (Publish("$aws/things/t/shadow/update", b"{}"), MQTT311, True, None, 0),
    ],
)
def test_publish_verdict(
    publish: Publish, version: int, route: bool, problem: Problem | None, puback: int
) -> None:
    verdict = publish_verdict(publish, version, Deny(), Q)
    assert (verdict.route, verdict.problem, verdict.puback_reason) == (route, problem, puback)


def subscribe(*filters: str, qos: int = 1) -> Subscribe:
    return Subscribe(1, tuple(Sub(f, qos) for f in filters))


@pytest.mark.parametrize(
    ("packet", "version", "current", "codes"),
    [
        (subscribe("room/+", "desk/#"), MQTT311, frozenset(), (1, 1)),
        (subscribe("room/+", qos=0), MQTT311, frozenset(), (0,)),
        (subscribe("room/+", qos=2), MQTT311, frozenset(), None),  # no SUBACK for QoS 2
        (subscribe("room/#/x", "secret/a"), MQTT311, frozenset(), (0x80, 0x80)),
        (subscribe("room/#/x", "secret/a"), MQTT5, frozenset(), (0x8F, 0x87)),
        (subscribe("$share/g/room/+"), MQTT5, frozenset(), (0x9E,)),
        (subscribe(*[f"t/{i}" for i in range(9)]), MQTT311, frozenset(), (1,) * 8 + (0x80,)),
        (subscribe(*[f"t/{i}" for i in range(9)]), MQTT5, frozenset(), (1,) * 8 + (0x97,)),
        (subscribe("new/a"), MQTT5, frozenset(f"f/{i}" for i in range(50)), (0x97,)),
        (subscribe("f/3"), MQTT5, frozenset(f"f/{i}" for i in range(50)), (1,)),  # re-subscribe
        (subscribe("a", "b"), MQTT5, frozenset(f"f/{i}" for i in range(49)), (1, 0x97)),
    ],
)
def test_subscribe_verdicts(
    packet: Subscribe, version: int, current: frozenset[str], codes: tuple[int, ...] | None
) -> None:
    assert subscribe_verdicts(packet, version, Deny(), Q, current) == codes


@pytest.mark.parametrize(
    ("packet", "problem"),
    [
        (subscribe("room/+", "$aws/events/presence/connected/+"), None),
        (subscribe("$share/g/room/+"), None),  # refused per filter in the SUBACK instead
        (subscribe("$aws/things/t/shadow/update/accepted"), None),
        (subscribe("room/+", "$sys/operators"), Problem.TOPIC_FILTER_INVALID),
        (subscribe("$SYS/#"), Problem.TOPIC_FILTER_INVALID),
        (subscribe("$aws/rules/hubbub/room"), Problem.TOPIC_FILTER_INVALID),
    ],
)
def test_an_unsupported_reserved_filter_ends_the_connection(
    packet: Subscribe, problem: Problem | None
) -> None:
    """*Reserved topics*: an unsupported subscribe to a $ topic can terminate the connection;
    the whole SUBSCRIBE is refused, even its valid filters (no SUBACK is sent)."""
    assert subscribe_problem(packet) is problem


def test_allow_all_grants_everything_valid() -> None:
    assert subscribe_verdicts(subscribe("secret/a"), MQTT5, ALLOW_ALL, Q, frozenset()) == (1,)


@pytest.mark.parametrize(
    ("reason", "sent"),
    [
        (DisconnectReason.CLIENT_INITIATED_DISCONNECT, False),
        (DisconnectReason.CONNECTION_LOST, True),
        (DisconnectReason.MQTT_KEEP_ALIVE_TIMEOUT, True),
        (DisconnectReason.DUPLICATE_CLIENTID, True),
        (DisconnectReason.CLIENT_ERROR, True),
        (DisconnectReason.API_INITIATED_DISCONNECT, True),
    ],
)
def test_will_is_sent(reason: DisconnectReason, sent: bool) -> None:
    assert will_is_sent(reason) is sent


def test_token_bucket_holds_to_its_rate() -> None:
    bucket = TokenBucket(rate=100.0, burst=100.0, now=0.0)
    assert all(bucket.try_take(0.0) for _ in range(100))
    assert not bucket.try_take(0.0)
    assert bucket.wait_s(0.0) == pytest.approx(0.01)
    assert bucket.try_take(0.011)
    # reserve: a flood of 300 at t=0 must wait until t=2 for the last one
    flood = TokenBucket(rate=100.0, burst=100.0, now=0.0)
    delays = [flood.reserve(0.0) for _ in range(300)]
    assert delays[99] == 0.0 and delays[-1] == pytest.approx(2.0)


def test_one_connect_per_second() -> None:
    bucket = TokenBucket(rate=1.0, burst=1.0, now=10.0)
    assert bucket.try_take(10.0)
    assert not bucket.try_take(10.5)
    assert bucket.try_take(11.0)
