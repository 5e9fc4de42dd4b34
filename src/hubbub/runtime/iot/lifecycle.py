"""IoT Core's lifecycle events, published by the broker on its reserved topics in the shape the
*Lifecycle events* page documents:

- ``$aws/events/presence/connected/<clientId>`` and ``.../disconnected/<clientId>``;
- ``$aws/events/subscriptions/subscribed/<clientId>`` and ``.../unsubscribed/<clientId>``.

They go through :meth:`Broker.publish`, so subscribers and topic rules see them alike. Client ids
with ``#`` or ``+`` get none, as on AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hubbub.runtime.iot.broker import Broker
from hubbub.runtime.iot.hooks import ConnectedEvent, DisconnectedEvent, SubscriptionEvent

__all__ = ["LifecyclePublisher", "connected_json", "disconnected_json", "subscription_json"]


def connected_json(event: ConnectedEvent) -> dict[str, Any]:
    return {
        "clientId": event.client_id,
        "timestamp": event.timestamp_ms,
        "eventType": "connected",
        "sessionIdentifier": event.session_identifier,
        "principalIdentifier": event.principal_identifier,
        "ipAddress": event.ip_address,
        "versionNumber": event.version_number,
    }


def disconnected_json(event: DisconnectedEvent) -> dict[str, Any]:
    return {
        "clientId": event.client_id,
        "timestamp": event.timestamp_ms,
        "eventType": "disconnected",
        "sessionIdentifier": event.session_identifier,
        "principalIdentifier": event.principal_identifier,
        "clientInitiatedDisconnect": event.client_initiated_disconnect,
        "disconnectReason": str(event.disconnect_reason),
        "versionNumber": event.version_number,
    }


def subscription_json(event: SubscriptionEvent, event_type: str) -> dict[str, Any]:
    return {
        "clientId": event.client_id,
        "timestamp": event.timestamp_ms,
        "eventType": event_type,
        "sessionIdentifier": event.session_identifier,
        "principalIdentifier": event.principal_identifier,
        "topics": list(event.topics),
    }


class LifecyclePublisher:
    """The default :class:`LifecycleSink`: each event as a QoS 1 message on its topic (twice
    while ``duplicated()`` says so, as IoT Core may send it)."""

    def __init__(self, broker: Broker, duplicated: Callable[[], bool] = lambda: False) -> None:
        self.broker = broker
        self._duplicated = duplicated

    def _publish(self, topic: str, client_id: str, body: dict[str, Any]) -> None:
        if "#" in client_id or "+" in client_id:
            return
        payload = json.dumps(body).encode()
        for _ in range(2 if self._duplicated() else 1):
            self.broker.publish(f"{topic}/{client_id}", payload, qos=1)

    def connected(self, event: ConnectedEvent) -> None:
        self._publish("$aws/events/presence/connected", event.client_id, connected_json(event))

    def disconnected(self, event: DisconnectedEvent) -> None:
        body = disconnected_json(event)
        self._publish("$aws/events/presence/disconnected", event.client_id, body)

    def subscribed(self, event: SubscriptionEvent) -> None:
        body = subscription_json(event, "subscribed")
        self._publish("$aws/events/subscriptions/subscribed", event.client_id, body)

    def unsubscribed(self, event: SubscriptionEvent) -> None:
        body = subscription_json(event, "unsubscribed")
        self._publish("$aws/events/subscriptions/unsubscribed", event.client_id, body)
