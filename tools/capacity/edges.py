"""A million chat messages through API Gateway's WebSocket edge and through IoT Core's MQTT
edge, side by side (issue 14 item 5, docs/deploy.md "The MQTT edge on AWS").

Pure arithmetic on the same inputs as ``scale`` (the send path's units, a subscription item's
size, the latency assumptions) plus IoT Core's prices (``IOT_SOURCES``). What differs between the
edges is what each bills per message:

- API Gateway: the frame in, the ack out, one ``@connections`` post per member (32 KB units),
  $0.25 per million connection minutes, and each keepalive ping as a frame in, a ``pong`` out and
  a MessageFunction invocation.
- IoT Core: the client publishes to ``$aws/rules/hubbub/{topic}`` (Basic Ingest: no messaging
  charge, one rule triggered and one Lambda action); the ingest function runs the same send path;
  the fan-out publishes once per topic with ``iot-data`` Publish (an HTTP request, one message
  per 5 KB of body) and the broker delivers to each subscriber, each delivery a message (5 KB
  units of payload and topic). A QoS 1 delivery under MQTT 3.1.1 also meters the device's
  PUBACK as one message. $0.08 per million connection minutes; PINGREQ/PINGRESP are not metered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tools.capacity.pricing import PRICES, Prices
from tools.capacity.scale import LATENCY, STORE, Design, Latency, Store, scale

__all__ = [
    "IOT_PRICES",
    "IOT_SOURCES",
    "USAGE",
    "EdgeCost",
    "IotPrices",
    "Usage",
    "api_gateway",
    "iot_core",
]


@dataclass(frozen=True, slots=True)
class IotPrices:
    connection_minute: float = 0.08 / 1e6
    message: float = 1.00 / 1e6
    """Per message of up to 5 KB (payload and topic), the first billion a month."""
    rule_triggered: float = 0.15 / 1e6
    action_executed: float = 0.15 / 1e6
    message_unit_bytes: int = 5 * 1024


IOT_PRICES = IotPrices()

IOT_SOURCES: tuple[tuple[str, str], ...] = (
    (
        "IoT Core prices: connectivity, messaging, rules engine (rules triggered, actions "
        "executed), billed separately",
        "https://aws.amazon.com/iot-core/pricing/",
    ),
    (
        "IoT Core $0.08 per million connection minutes and $1 per million messages (first "
        "billion), transcribed from the pricing page",
        "https://raw.githubusercontent.com/api-evangelist/amazon-iot-core/refs/heads/main/"
        "plans/amazon-iot-core-plans-pricing.yml",
    ),
    (
        "IoT Core metering: PUBLISH in and out by payload and topic size, PUBACK received from "
        "a 3.1.1 device as one 5 KB message, PINGREQ/PINGRESP not metered",
        "https://aws.amazon.com/iot-core/pricing/additional-details/",
    ),
    (
        "Basic Ingest: publishing to $aws/rules/<rule>/... incurs no messaging cost",
        "https://docs.aws.amazon.com/iot/latest/developerguide/iot-basic-ingest.html",
    ),
)


@dataclass(frozen=True, slots=True)
class EdgeCost:
    """US$ for one chat message to a room, by what each edge bills."""

    edge: str
    size: int
    messaging: float
    """API Gateway frames, or IoT Core messages (and rules)."""
    compute: float
    """Lambda and DynamoDB (the send path and the fan-out)."""
    connection_minutes: float
    keepalive: float

    @property
    def total(self) -> float:
        return self.messaging + self.compute + self.connection_minutes + self.keepalive


@dataclass(frozen=True, slots=True)
class Usage:
    """How members use the room, as in ``pricing.Workload``: each member sends one message per
    ``minutes_per_message`` while connected, and WebSocket clients ping every
    ``ping_interval_s`` (MQTT clients keep their own keepalive, free of charge)."""

    minutes_per_message: float = 10.0
    ping_interval_s: float = 300.0
    subscriber_qos: int = 0
    mqtt_version: int = 5
    topic_bytes: int = 10


USAGE = Usage()


def api_gateway(
    size: int,
    usage: Usage = USAGE,
    *,
    store: Store = STORE,
    latency: Latency = LATENCY,
    prices: Prices = PRICES,
) -> EdgeCost:
    """Today's path: ``scale``'s single-path message, its minutes and its pings."""
    one = scale(size, Design(), store=store, latency=latency, prices=prices)
    frames = (2 + size) * prices.websocket_message
    pings = usage.minutes_per_message * 60 / usage.ping_interval_s
    ping_ms = latency.invocation_ms + latency.dynamodb_request_ms
    per_ping = (
        2 * prices.websocket_message
        + prices.lambda_request
        + Design().memory_mb / 1024 * ping_ms / 1000 * prices.lambda_gb_second
        + prices.read_request_unit  # the connection's GetItem
    )
    return EdgeCost(
        edge="API Gateway",
        size=size,
        messaging=frames,
        compute=one.usd - frames,
        connection_minutes=usage.minutes_per_message * prices.websocket_connection_minute,
        keepalive=pings * per_ping,
    )


def iot_core(
    size: int,
    usage: Usage = USAGE,
    *,
    store: Store = STORE,
    latency: Latency = LATENCY,
    prices: Prices = PRICES,
    iot: IotPrices = IOT_PRICES,
) -> EdgeCost:
    """The MQTT edge: Basic Ingest in, one data-plane publish per message, N deliveries."""
    units = math.ceil((store.frame_bytes + usage.topic_bytes) / iot.message_unit_bytes)
    per_delivery = units
    if usage.subscriber_qos == 1 and usage.mqtt_version == 3:
        per_delivery += 1  # the device's PUBACK, metered as one 5 KB message under 3.1.1
    messaging = (
        iot.rule_triggered
        + iot.action_executed
        + units * iot.message  # the fan-out's iot-data Publish (an HTTP request body)
        + size * per_delivery * iot.message
    )
    memory = Design().memory_mb / 1024
    send_ms = latency.invocation_ms + store.send_requests * latency.dynamodb_request_ms
    # the fan-out still Queries the topic for WebSocket subscribers (none here: 2 empty
    # Queries), then publishes once
    fanout_ms = latency.invocation_ms + 3 * latency.dynamodb_request_ms
    compute = (
        store.send_read_units * prices.read_request_unit
        + store.send_write_units * prices.write_request_unit
        + 1.0 * prices.read_request_unit
        + 2 * prices.lambda_request
        + memory * (send_ms + fanout_ms) / 1000 * prices.lambda_gb_second
    )
    return EdgeCost(
        edge="IoT Core",
        size=size,
        messaging=messaging,
        compute=compute,
        connection_minutes=usage.minutes_per_message * iot.connection_minute,
        keepalive=0.0,
    )
