"""The broker's routing and sessions, driven without sockets: persistent sessions keep QoS 1
messages for an absent client and send unacknowledged ones again with DUP; the in-flight window;
a second connection with the same client id takes over; retained messages reach exact filters
only; Basic Ingest never reaches subscribers; the hooks see what they should.

Sources: *MQTT* (persistent sessions, retained messages, differences from the specification),
*Lifecycle events*, *Basic Ingest*, *AWS IoT Core endpoints and quotas*.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

import pytest

from hubbub.runtime.iot import broker as broker_module
from hubbub.runtime.iot.broker import Broker
from hubbub.runtime.iot.decisions import Problem
from hubbub.runtime.iot.hooks import ALLOW_ALL, DisconnectReason, InboundMessage, Permissions
from hubbub.runtime.iot.lifecycle import LifecyclePublisher
from hubbub.runtime.iot.packets import Publish, Subscription
from hubbub.runtime.iot.quotas import IotQuotas


@dataclass
class FakeClient:
    client_id: str
    principal: str = "p"
    permissions: Permissions = ALLOW_ALL
    ip_address: str = "127.0.0.1"
    inflight_limit: int = 100
    sent: list[Publish] = field(default_factory=list)
    closed: list[Problem] = field(default_factory=list)

    def send_publish(self, message: Publish) -> bool:
        self.sent.append(message)
        return True

    def close(self, problem: Problem, *, prevent_will: bool = False) -> None:
        self.closed.append(problem)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def make() -> tuple[Broker, Clock]:
    clock = Clock()
    return Broker(IotQuotas(), monotonic=clock, now_ms=lambda: 1_700_000_000_000), clock


def join(broker: Broker, client: FakeClient, *filters: str, expiry: int = 0, clean: bool = True):  # type: ignore[no-untyped-def]
    session, present = broker.attach(client, clean, expiry)
    broker.subscribe(client, session, [Subscription(f, 1) for f in filters])
    return session, present


def watching(broker: Broker, *filters: str, duplicated: bool | list[bool] = False) -> FakeClient:
    """A client subscribed to lifecycle ``filters``, the broker publishing its lifecycle events
    (twice while ``duplicated[0]`` is true, when a list is given); nothing received yet."""
    flag = duplicated if isinstance(duplicated, list) else [duplicated]
    broker.hooks.lifecycle = LifecyclePublisher(broker, lambda: flag[0])
    watcher = FakeClient("watcher")
    join(broker, watcher, *filters)
    watcher.sent.clear()
    return watcher


def test_each_subscriber_gets_a_message_once_at_the_best_qos() -> None:
    broker, _ = make()
    a = FakeClient("a")
    join(broker, a, "room/+", "room/lobby")
    broker.publish("room/lobby", b"hi", qos=1)
    assert [(m.topic, m.qos) for m in a.sent] == [("room/lobby", 1)]


def test_persistent_session_keeps_qos1_and_redelivers_with_dup() -> None:
    broker, _ = make()
    a = FakeClient("a")
    session, present = join(broker, a, "room/+", expiry=3600, clean=False)
    assert not present
    broker.publish("room/x", b"sent, never acked", qos=1)
    broker.detach(a, broker.sessions["a"], DisconnectReason.CONNECTION_LOST)
    broker.publish("room/x", b"while away", qos=1)
    broker.publish("room/x", b"qos0 while away", qos=0)
    again = FakeClient("a")
    session2, present = broker.attach(again, False, 3600)
    assert present and session2 is session
    assert session2.filters() == {"room/+"}
    redelivered = session2.redeliveries()
    assert [(m.payload, m.dup) for m in redelivered] == [(b"sent, never acked", True)]
    broker.pump(again, session2)
    assert [m.payload for m in again.sent] == [b"while away"]


def test_clean_session_forgets_everything() -> None:
    broker, _ = make()
    a = FakeClient("a")
    join(broker, a, "room/+", expiry=3600, clean=False)
    broker.detach(a, broker.sessions["a"], DisconnectReason.CONNECTION_LOST)
    session, present = broker.attach(FakeClient("a"), True, 0)
    assert not present and not session.subscriptions
    broker.publish("room/x", b"nobody", qos=1)
    assert len(broker.index) == 0


def test_persistent_session_expires() -> None:
    broker, clock = make()
    a = FakeClient("a")
    join(broker, a, "room/+", expiry=3600, clean=False)
    broker.detach(a, broker.sessions["a"], DisconnectReason.CONNECTION_LOST)
    clock.t += 3599
    assert broker.expire_sessions() == 0
    clock.t += 1
    assert broker.expire_sessions() == 1
    assert "a" not in broker.sessions and len(broker.index) == 0


def test_inflight_window_holds_the_rest_until_acked() -> None:
    broker, _ = make()
    a = FakeClient("a", inflight_limit=2)
    session, _ = join(broker, a, "t")
    for i in range(5):
        broker.publish("t", str(i).encode(), qos=1)
    assert [m.payload for m in a.sent] == [b"0", b"1"]
    assert a.sent[0].packet_id is not None
    session.acknowledge(a.sent[0].packet_id)
    broker.pump(a, session)
    assert [m.payload for m in a.sent] == [b"0", b"1", b"2"]


def test_duplicate_client_id_closes_the_older_connection() -> None:
    broker, _ = make()
    old, new = FakeClient("same"), FakeClient("same")
    join(broker, old, "t")
    broker.attach(new, True, 0)
    assert old.closed == [Problem.SESSION_TAKEN_OVER]
    broker.detach(
        old, broker.sessions["same"], DisconnectReason.DUPLICATE_CLIENTID
    )  # the old loop ends later
    assert broker.live["same"].client is new
    broker.subscribe(new, broker.sessions["same"], [Subscription("t", 0)])
    broker.publish("t", b"x")
    assert [m.payload for m in new.sent] == [b"x"] and old.sent == []


def test_retained_message_reaches_exact_filters_only() -> None:
    broker, _ = make()
    broker.publish("config/a", b"v1", retain=True, qos=1)
    exact, wild = FakeClient("e"), FakeClient("w")
    s1, _ = broker.attach(exact, True, 0)
    s2, _ = broker.attach(wild, True, 0)
    got = broker.subscribe(exact, s1, [Subscription("config/a", 1)])
    assert [(m.payload, m.retain) for m in got] == [(b"v1", True)]
    assert broker.subscribe(wild, s2, [Subscription("config/+", 1)]) == []
    broker.publish("config/a", b"", retain=True)  # an empty retained payload deletes it
    assert "config/a" not in broker.retained


def test_basic_ingest_never_reaches_subscribers() -> None:
    offered: list[InboundMessage] = []

    class Rules:
        def offer(self, message: InboundMessage) -> bool:
            offered.append(message)
            return message.topic == "consumed/by/rule"

    broker, _ = make()
    broker.hooks.publish_sink = Rules()
    spy = FakeClient("spy")
    join(broker, spy, "$aws/rules/hubbub/room/lobby", "consumed/by/rule", "plain")
    broker.publish("$aws/rules/hubbub/room/lobby", b"x", client_id="c", principal="pr")
    broker.publish("consumed/by/rule", b"y")
    broker.publish("plain", b"z")
    assert [m.payload for m in spy.sent] == [b"z"]
    assert next((m.topic, m.client_id, m.principal) for m in offered) == (
        "$aws/rules/hubbub/room/lobby",
        "c",
        "pr",
    )
    assert len(offered) == 3


def test_receive_permission_filters_delivery() -> None:
    class NoSecrets:
        def can_connect(self, client_id: str) -> bool:
            return True

        def can_publish(self, topic: str) -> bool:
            return True

        def can_subscribe(self, topic_filter: str) -> bool:
            return True

        def can_receive(self, topic: str) -> bool:
            return not topic.startswith("secret")

    broker, _ = make()
    a = FakeClient("a", permissions=NoSecrets())
    join(broker, a, "#")
    broker.publish("secret", b"no")
    broker.publish("open", b"yes")
    assert [m.payload for m in a.sent] == [b"yes"]


def test_lifecycle_events_in_iot_core_shape() -> None:
    broker, _ = make()
    watcher = watching(broker, "$aws/events/presence/+/+", "$aws/events/subscriptions/#")
    device = FakeClient("device-1", principal="principal-1")
    join(broker, device, "room/lobby")
    broker.unsubscribe(device, broker.sessions["device-1"], ("room/lobby",))
    broker.detach(device, broker.sessions["device-1"], DisconnectReason.MQTT_KEEP_ALIVE_TIMEOUT)
    topics = [m.topic for m in watcher.sent]
    assert topics == [
        "$aws/events/presence/connected/device-1",
        "$aws/events/subscriptions/subscribed/device-1",
        "$aws/events/subscriptions/unsubscribed/device-1",
        "$aws/events/presence/disconnected/device-1",
    ]
    connected, subscribed, _, disconnected = (json.loads(m.payload) for m in watcher.sent)
    assert set(connected) == {
        "clientId",
        "timestamp",
        "eventType",
        "sessionIdentifier",
        "principalIdentifier",
        "ipAddress",
        "versionNumber",
    }
    assert connected["principalIdentifier"] == "principal-1"
    assert subscribed["topics"] == ["room/lobby"]
    assert disconnected["disconnectReason"] == "MQTT_KEEP_ALIVE_TIMEOUT"
    assert disconnected["clientInitiatedDisconnect"] is False
    assert disconnected["sessionIdentifier"] == connected["sessionIdentifier"]


def test_client_ids_with_wildcards_get_no_lifecycle_events() -> None:
    broker, _ = make()
    watcher = watching(broker, "$aws/events/presence/connected/+")
    broker.attach(FakeClient("odd+id"), True, 0)
    assert watcher.sent == []


def test_api_disconnect_closes_the_client() -> None:
    broker, _ = make()
    a = FakeClient("a")
    broker.attach(a, True, 0)
    assert broker.disconnect("a")
    assert a.closed == [Problem.API_DISCONNECT]
    assert not broker.disconnect("nobody")


def test_api_disconnect_can_end_a_persistent_session() -> None:
    broker, _ = make()
    a = FakeClient("a")
    session, _ = join(broker, a, "t", expiry=3600, clean=False)
    assert broker.disconnect("a", clean_session=True)
    broker.detach(a, session, DisconnectReason.API_INITIATED_DISCONNECT)
    assert "a" not in broker.sessions and len(broker.index) == 0


def test_connect_rate_per_client_id() -> None:
    broker, clock = make()
    assert broker.admit("c")
    assert not broker.admit("c")
    assert broker.admit("other")
    clock.t += 1.0
    assert broker.admit("c")


def test_messages_past_the_outbound_rate_are_discarded_per_client() -> None:
    """*AWS IoT Core endpoints and quotas*: "AWS IoT Core restricts each client connection to a
    maximum number of inbound and outbound publish requests per second. Publish requests that
    exceed that quota are discarded." (100, not adjustable.) A wildcard subscriber gets every
    room's messages, so on a busy site it is the one that loses them."""
    broker, clock = make()
    everything, lobby = FakeClient("everything"), FakeClient("lobby")
    join(broker, everything, "room/#")
    join(broker, lobby, "room/lobby")
    for i in range(150):
        broker.publish(f"room/r{i % 3}", f"{i}".encode(), qos=1)
    broker.publish("room/lobby", b"the lobby's own", qos=1)
    assert [m.payload for m in everything.sent] == [f"{i}".encode() for i in range(100)]
    assert [m.payload for m in lobby.sent] == [b"the lobby's own"]  # its own budget
    assert broker.sessions["everything"].discarded == 51 and broker.stats["discarded"] == 51
    for message in everything.sent:  # acknowledged: the window is not what holds them back
        broker.sessions["everything"].acknowledge(message.packet_id or 0)
    broker.publish("room/r0", b"still over", qos=0)
    assert len(everything.sent) == 100
    clock.t += 0.25  # 25 more a quarter of a second later, not the ones discarded
    for i in range(30):
        broker.publish("room/r0", f"later {i}".encode(), qos=0)
    assert [m.payload for m in everything.sent[100:]] == [f"later {i}".encode() for i in range(25)]


def test_the_outbound_rate_holds_for_an_absent_persistent_session_too() -> None:
    broker, clock = make()
    away = FakeClient("away")
    session, _ = join(broker, away, "room/+", expiry=3600, clean=False)
    broker.detach(away, session, DisconnectReason.CONNECTION_LOST)
    for i in range(120):
        broker.publish("room/x", f"{i}".encode(), qos=1)
    assert len(session.queue) == 100 and session.discarded == 20
    back = FakeClient("away")
    broker.attach(back, False, 3600)
    clock.t += 1.0
    broker.pump(back, session)
    assert [m.payload for m in back.sent] == [f"{i}".encode() for i in range(100)]


def test_the_outbound_rate_is_a_quota_that_can_be_lifted() -> None:
    clock = Clock()
    broker = Broker(IotQuotas(deliveries_per_second=1000), monotonic=clock)
    a = FakeClient("a")
    join(broker, a, "t")
    for _ in range(1000):
        broker.publish("t", b"x", qos=0)
    assert len(a.sent) == 1000 and broker.stats["discarded"] == 0


def test_discards_are_logged_at_most_every_ten_seconds_per_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker, clock = make()
    a = FakeClient("a")
    join(broker, a, "t")
    with caplog.at_level(logging.WARNING, logger="hubbub.runtime.iot"):
        for _ in range(130):
            broker.publish("t", b"x", qos=0)
        clock.t += 5.0  # 100 tokens back; 20 more discarded, not logged yet
        for _ in range(120):
            broker.publish("t", b"x", qos=0)
        clock.t += 5.0
        for _ in range(101):
            broker.publish("t", b"x", qos=0)
    lines = [r.getMessage() for r in caplog.records if "discarded" in r.getMessage()]
    assert lines == [
        "iot: 1 message(s) for client 'a' discarded: over IoT Core's 100 publishes a second "
        "per connection",
        "iot: 50 message(s) for client 'a' discarded: over IoT Core's 100 publishes a second "
        "per connection",
    ]


def _presence_versions(watcher: FakeClient) -> list[tuple[str, int]]:
    events = [json.loads(m.payload) for m in watcher.sent if "/presence/" in m.topic]
    return [(e["eventType"], e["versionNumber"]) for e in events]


def test_a_taken_over_connection_disconnects_with_its_own_version_number() -> None:
    """*Lifecycle events*: "The connect and disconnect messages for a client connection have the
    same version number", so a subscriber that ignores a disconnect older than the latest
    connect keeps the client present when a second connection takes over."""
    broker, _ = make()
    watcher = watching(broker, "$aws/events/presence/+/device")
    first, second = FakeClient("device"), FakeClient("device")
    first_session, _ = broker.attach(first, True, 0)
    second_session, _ = broker.attach(second, True, 0)  # takes over: the first is closed
    assert first.closed == [Problem.SESSION_TAKEN_OVER]
    broker.detach(first, first_session, DisconnectReason.DUPLICATE_CLIENTID)
    broker.detach(second, second_session, DisconnectReason.CLIENT_INITIATED_DISCONNECT)
    assert _presence_versions(watcher) == [
        ("connected", 0),
        ("connected", 1),
        ("disconnected", 0),
        ("disconnected", 1),
    ]


def test_version_numbers_start_again_after_an_hour_away() -> None:
    """*Lifecycle events*: "If a client is not connected for approximately one hour, the
    version number is reset to 0. For persistent sessions, the version number is reset to 0
    after a client has been disconnected longer than the configured time-to-live (TTL)"."""
    broker, clock = make()
    watcher = watching(broker, "$aws/events/presence/connected/+")

    def visit(client_id: str, expiry: int, away_s: float) -> None:
        device = FakeClient(client_id)
        session, _ = broker.attach(device, expiry == 0, expiry)
        broker.detach(device, session, DisconnectReason.CLIENT_INITIATED_DISCONNECT)
        clock.t += away_s

    for away_s in (3599.0, 3600.0, 10.0):
        visit("clean", 0, away_s)
    visit("clean", 0, 0.0)
    for away_s in (5000.0, 7200.0, 0.0):
        visit("persistent", 7200, away_s)
    visit("persistent", 7200, 0.0)
    assert _presence_versions(watcher) == [
        ("connected", 0),
        ("connected", 1),  # back within the hour
        ("connected", 0),  # after an hour away
        ("connected", 1),
        ("connected", 0),
        ("connected", 1),  # its session (two hours) still alive after 5,000 s
        ("connected", 0),  # gone with its session
        ("connected", 1),
    ]
    clock.t += 3600.0
    broker.expire_sessions()  # forgets the client ids gone long enough
    assert "clean" not in broker._versions and "persistent" in broker._versions


def test_lifecycle_events_twice_while_the_fault_is_on() -> None:
    """*Lifecycle events*: "You might receive duplicate messages"; the fault sends each one
    twice, the same payload, so subscribers' handling of repeats can be tried."""
    broker, _ = make()
    duplicated = [False]
    watcher = watching(broker, "$aws/events/presence/+/+", duplicated=duplicated)
    device = FakeClient("device")
    broker.attach(device, True, 0)
    duplicated[0] = True
    broker.detach(device, broker.sessions["device"], DisconnectReason.CONNECTION_LOST)
    topics = [m.topic for m in watcher.sent]
    assert topics == [
        "$aws/events/presence/connected/device",
        "$aws/events/presence/disconnected/device",
        "$aws/events/presence/disconnected/device",
    ]
    assert watcher.sent[1].payload == watcher.sent[2].payload


def test_absent_client_ids_are_remembered_up_to_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client churning through new client ids must not grow the broker for an hour each:
    past the bound the longest gone is forgotten, and connects again as version 0 (which the
    reset rule allows), while a recently gone id goes on counting."""
    monkeypatch.setattr(broker_module, "_VERSIONS_REMEMBERED", 3)
    broker, _ = make()
    watcher = watching(broker, "$aws/events/presence/connected/+")
    for client_id in ("a", "b", "c", "d", "e"):
        device = FakeClient(client_id)
        session, _ = broker.attach(device, True, 0)
        broker.detach(device, session, DisconnectReason.CLIENT_INITIATED_DISCONNECT)
    assert list(broker._gone) == ["c", "d", "e"]
    watcher.sent.clear()
    for client_id in ("a", "e"):
        broker.attach(FakeClient(client_id), True, 0)
    versions = [json.loads(m.payload)["versionNumber"] for m in watcher.sent]
    assert versions == [0, 1]  # "a" was forgotten, "e" was not


def test_messages_queued_for_absent_sessions_are_held_to_the_accounts_rate() -> None:
    """*AWS IoT Core endpoints and quotas*: queued messages per second per account (500);
    "New incoming messages that would exceed the limits are dropped", and what was queued
    stays. Here 3 a second, over two absent sessions together."""
    clock = Clock()
    broker = Broker(IotQuotas(queued_per_second=3), monotonic=clock)
    sessions = []
    for client_id in ("a", "b"):
        away = FakeClient(client_id)
        session, _ = join(broker, away, "room/+", expiry=3600, clean=False)
        broker.detach(away, session, DisconnectReason.CONNECTION_LOST)
        sessions.append(session)
    for i in range(3):
        broker.publish("room/x", f"{i}".encode(), qos=1)
    # three of the six take the account's three tokens, whichever sessions the broker routes to
    # first (its index has no order); the rest are dropped
    assert sorted(len(s.queue) for s in sessions) == [1, 2]
    assert broker.stats["dropped"] == 3
    kept = [[m.payload for m in s.queue] for s in sessions]
    clock.t += 1.0
    broker.publish("room/x", b"later", qos=1)
    assert [[m.payload for m in s.queue] for s in sessions] == [[*q, b"later"] for q in kept]
