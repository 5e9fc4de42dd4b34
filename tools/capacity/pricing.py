"""From measured units to US$ per million messages: the prices and the assumptions, in one place.

Prices are US East (N. Virginia), on-demand, as assumed on 2026-11-23 from the pages in
``SOURCES`` (stored copies; nothing here was looked up live). They change: re-check them.

What is measured (``scenarios``) and what is assumed (``Workload``) are kept apart: DynamoDB
request units, DynamoDB requests and ``@connections`` posts per path are measured; how long a
Lambda invocation runs, how many stream records share an invocation, and how long members stay
connected per message they send are assumptions, printed with every table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tools.capacity.scenarios import PathCost, RoomCosts

__all__ = [
    "PRICES",
    "SOURCES",
    "Breakdown",
    "Membership",
    "Prices",
    "Workload",
    "hubbub_membership",
    "hubbub_message",
    "sample_membership",
    "sample_message",
]


@dataclass(frozen=True, slots=True)
class Prices:
    read_request_unit: float = 0.125 / 1e6
    """DynamoDB on-demand, Standard table class, per read request unit."""
    write_request_unit: float = 0.625 / 1e6
    """DynamoDB on-demand, Standard table class, per write request unit."""
    lambda_request: float = 0.20 / 1e6
    lambda_gb_second: float = 0.0000133334
    """Lambda on Arm (arm64), the first tier (the first 7.5 billion GB-s of a month)."""
    websocket_message: float = 1.00 / 1e6
    """API Gateway WebSocket, per message sent or received (32 KB increments), first billion."""
    websocket_connection_minute: float = 0.25 / 1e6


PRICES = Prices()

SOURCES: tuple[tuple[str, str], ...] = (
    (
        "DynamoDB on-demand units and how reads and writes are counted",
        "https://aws.amazon.com/dynamodb/pricing/on-demand/",
    ),
    (
        "DynamoDB on-demand $0.625 per million WRU and $0.125 per million RRU (us-east-1), "
        "after the 50% cut effective 2024-11-01",
        "https://airbyte.com/data-engineering-resources/dynamodb-pricing",
    ),
    (
        "the 2024-11-01 on-demand price cut",
        "https://www.jusdb.com/blog/dynamodb-cost-optimization-a-comprehensive-guide-by-jusdb",
    ),
    (
        "Lambda arm64 $0.0000133334 per GB-s (x86_64 $0.0000166667), citing the Lambda "
        "pricing page",
        "https://app.unpkg.com/artillery@2.0.28/files/lib/platform/aws-lambda/prices.js",
    ),
    (
        "Lambda $0.20 per million requests",
        "https://raw.githubusercontent.com/api-evangelist/aws-lambda/refs/heads/main/plans/"
        "aws-lambda-plans-pricing.yml",
    ),
    (
        "API Gateway WebSocket: billed per message sent and received, 32 KB increments, and "
        "per connection minute",
        "https://aws.amazon.com/api-gateway/pricing/",
    ),
    (
        "WebSocket $0.25 per million connection minutes (quoting the pricing page)",
        "https://www.repost.aws/pt/questions/QU7IqgooGeQmqudOsmzTw5YQ/"
        "how-to-interpret-websocket-api-connection-minutes-pricing",
    ),
)


@dataclass(frozen=True, slots=True)
class Workload:
    """What cannot be measured offline. Every field is printed next to the results."""

    memory_mb: int = 256
    """The functions' MemorySize (read from template.yaml by ``__main__``)."""
    invocation_ms: float = 3.0
    """A warm invocation's own time besides its DynamoDB requests and posts."""
    dynamodb_request_ms: float = 6.0
    """One DynamoDB request from a Lambda function in the same region."""
    post_ms: float = 20.0
    """One ``@connections`` POST from a Lambda function."""
    hubbub_parallel_posts: int = 16
    """``ApiGatewayPush``'s pool (``max_workers``)."""
    sample_parallel_posts: int = 50
    """The samples' ``Promise.all`` over the SDK's HTTP agent (50 sockets)."""
    stream_batch: int = 1
    """Stream records per fan-out invocation: 1 is a quiet room; busy rooms batch up to 100."""
    minutes_per_message: float = 10.0
    """Connection minutes per message sent: every member sends one message per 10 minutes."""
    ping_interval_s: float = 300.0
    """What hubbub's clients ping at on AWS: ``hello.limits.pingIntervalMs``, half API Gateway's
    10 idle minutes. Each ping is a frame in, a ``pong`` out and an invocation."""

    def duration_ms(self, path: PathCost, parallel: int) -> float:
        """An invocation's billed time: its own, its DynamoDB requests, its waves of posts."""
        waves = math.ceil(path.posts / parallel) if path.posts else 0
        return math.ceil(
            self.invocation_ms + path.requests * self.dynamodb_request_ms + waves * self.post_ms
        )

    def gb_seconds(self, path: PathCost, parallel: int) -> float:
        return self.memory_mb / 1024 * self.duration_ms(path, parallel) / 1000

    @property
    def pings_per_message(self) -> float:
        return self.minutes_per_message * 60 / self.ping_interval_s


@dataclass(frozen=True, slots=True)
class Breakdown:
    """What one message costs: units and posts, and US$ by what is billed."""

    read_units: float
    write_units: float
    posts: float
    dynamodb: float
    lambda_: float
    api_messages: float
    connection_minutes: float
    keepalive: float

    @property
    def total(self) -> float:
        return (
            self.dynamodb
            + self.lambda_
            + self.api_messages
            + self.connection_minutes
            + self.keepalive
        )


def _dynamodb(read_units: float, write_units: float, prices: Prices) -> float:
    return read_units * prices.read_request_unit + write_units * prices.write_request_unit


def hubbub_message(room: RoomCosts, workload: Workload, prices: Prices = PRICES) -> Breakdown:
    """One message in hubbub: the ``send`` invocation, its stream record's share of a fan-out
    invocation, the frame in, the ack out, one post per subscriber, and the keepalive pings
    and connection minutes that go with it."""
    send, fanout, ping = room.paths["send"], room.paths["fanout"], room.paths["ping"]
    read_units = send.read_units + fanout.read_units
    write_units = send.write_units + fanout.write_units
    parallel = workload.hubbub_parallel_posts
    gb_s = workload.gb_seconds(send, parallel) + workload.gb_seconds(fanout, parallel)
    requests = 1 + 1 / workload.stream_batch
    lambda_ = requests * prices.lambda_request + gb_s * prices.lambda_gb_second
    messages = 2 + fanout.billed_messages  # the frame in, the ack (route response) out
    pings = workload.pings_per_message
    keepalive = pings * (
        2 * prices.websocket_message  # ping in, pong out
        + prices.lambda_request
        + workload.gb_seconds(ping, parallel) * prices.lambda_gb_second
        + _dynamodb(ping.read_units, ping.write_units, prices)
    )
    return Breakdown(
        read_units=read_units,
        write_units=write_units,
        posts=fanout.posts,
        dynamodb=_dynamodb(read_units, write_units, prices),
        lambda_=lambda_,
        api_messages=messages * prices.websocket_message,
        connection_minutes=workload.minutes_per_message * prices.websocket_connection_minute,
        keepalive=keepalive,
    )


def sample_message(room: RoomCosts, workload: Workload, prices: Prices = PRICES) -> Breakdown:
    """One message in the samples' design: one invocation that scans and posts, the frame in,
    one post per connection (no reply, no keepalive: idle clients are closed after 10 minutes)."""
    send = room.paths["send"]
    gb_s = workload.gb_seconds(send, workload.sample_parallel_posts)
    return Breakdown(
        read_units=send.read_units,
        write_units=send.write_units,
        posts=send.posts,
        dynamodb=_dynamodb(send.read_units, send.write_units, prices),
        lambda_=prices.lambda_request + gb_s * prices.lambda_gb_second,
        api_messages=(1 + send.billed_messages) * prices.websocket_message,
        connection_minutes=workload.minutes_per_message * prices.websocket_connection_minute,
        keepalive=0.0,
    )


@dataclass(frozen=True, slots=True)
class Membership:
    """One member coming and going: connect, join the room, leave (US$ for all of it)."""

    read_units: float
    write_units: float
    posts: float
    usd: float


def _invocations_usd(
    paths: list[PathCost], parallel: int, workload: Workload, prices: Prices
) -> float:
    gb_s = sum(workload.gb_seconds(path, parallel) for path in paths)
    return len(paths) * prices.lambda_request + gb_s * prices.lambda_gb_second


def hubbub_membership(room: RoomCosts, workload: Workload, prices: Prices = PRICES) -> Membership:
    """``$connect``, ``subscribe`` (its reply, ``joined`` to the others), ``$disconnect``
    (``left`` to the others)."""
    paths = [room.paths[name] for name in ("connect", "join", "leave")]
    read_units = sum(p.read_units for p in paths)
    write_units = sum(p.write_units for p in paths)
    posts = sum(p.posts for p in paths)
    messages = 2 + sum(p.billed_messages for p in paths)  # subscribe in, subscribed out
    usd = (
        _dynamodb(read_units, write_units, prices)
        + _invocations_usd(paths, workload.hubbub_parallel_posts, workload, prices)
        + messages * prices.websocket_message
    )
    return Membership(read_units, write_units, posts, usd)


def sample_membership(room: RoomCosts, workload: Workload, prices: Prices = PRICES) -> Membership:
    """``$connect`` (PutItem) and ``$disconnect`` (DeleteItem); the sample has nothing to join."""
    paths = [room.paths[name] for name in ("connect", "leave")]
    read_units = sum(p.read_units for p in paths)
    write_units = sum(p.write_units for p in paths)
    usd = _dynamodb(read_units, write_units, prices) + _invocations_usd(
        paths, workload.sample_parallel_posts, workload, prices
    )
    return Membership(read_units, write_units, 0.0, usd)
