"""IoT Core's reserved ``$`` topics (``hubbub.runtime.iot.reserved``), after *Reserved topics*:
which a client may publish to, which it may subscribe to, and that no other ``$`` topic can be
created."""

from __future__ import annotations

import pytest

from hubbub.runtime.iot.reserved import publish_allowed, subscribe_allowed


@pytest.mark.parametrize(
    ("topic", "allowed"),
    [
        ("room/a", True),  # not reserved
        ("a$b", True),  # only a leading $ reserves
        ("$aws/rules/hubbub/room/lobby", True),  # Basic Ingest
        ("$aws/rules/hubbub", True),
        ("$aws/rules//room", False),  # no rule name
        ("$aws/things/t1/shadow/update", True),
        ("$aws/things/t1/shadow/name/s1/get", True),
        ("$aws/things/t1/shadow/update/accepted", False),  # IoT Core publishes there
        ("$aws/things/t1/jobs/start-next", True),
        ("$aws/things/t1/jobs/j1/update", True),
        ("$aws/things/t1/defender/metrics/json", True),
        ("$aws/certificates/create/cbor", True),
        ("$aws/provisioning-templates/p/provision/json", True),
        ("$aws/things/t1/streams/s1/get/json", True),
        ("$aws/device_location/d1/get_position_estimate", True),
        ("$aws/events/presence/connected/c1", False),  # lifecycle events: the broker's own
        ("$aws/events/subscriptions/subscribed/c1", False),
        ("$aws/made-up/x", False),
        ("$sys/operators", False),
        ("$SYS/broker/uptime", False),
        ("$", False),
    ],
)
def test_publish_allowed(topic: str, allowed: bool) -> None:
    assert publish_allowed(topic) is allowed


@pytest.mark.parametrize(
    ("topic_filter", "allowed"),
    [
        ("room/+", True),
        ("#", True),  # a leading wildcard never matches $ topics: nothing reserved is asked
        ("$aws/events/presence/connected/c1", True),
        ("$aws/events/presence/+/+", True),
        ("$aws/events/#", True),
        ("$aws/events/subscriptions/#", True),
        ("$aws/things/t1/shadow/update/delta", True),
        ("$aws/things/+/shadow/name/+/get/accepted", True),
        ("$aws/things/t1/shadow/#", True),
        ("$aws/things/t1/jobs/notify-next", True),
        ("$aws/things/t1/tunnels/notify", True),
        ("$aws/sitewise/asset-models/m/assets/a/properties/p", True),
        ("$aws/#", True),
        ("$aws/rules/hubbub/room/lobby", False),  # Basic Ingest reaches the rule only
        ("$aws/rules/#", False),
        ("$aws/things/t1/shadow/update", False),  # publish only
        ("$aws/events", False),  # the parent level: '#' would need one more
        ("$sys/operators", False),
        ("$SYS/#", False),
        ("$made-up", False),
    ],
)
def test_subscribe_allowed(topic_filter: str, allowed: bool) -> None:
    assert subscribe_allowed(topic_filter) is allowed
