"""Large rooms on AWS: how long a message takes to reach a room's last member, the Lambda
concurrency it takes, what it costs, and which AWS limit binds (issue 18, docs/deploy.md "Large
rooms").

Pure arithmetic, no I/O: rooms of 100,000 cannot be measured on moto in a test run, so this
model extends what ``scenarios`` measures (a subscription item's size, the send path's units)
with AWS's published quotas and prices (``QUOTA_SOURCES``, ``pricing.SOURCES``) and with latency
assumptions (``Latency``) that no offline run can measure, each printed with the table.

Two fan-out designs:

- **single**: today's path. The stream-triggered fan-out Queries the room's subscribers and posts
  to each with ``ApiGatewayPush``'s pool (16 in flight), all inside one invocation.
- **chunked**: above a threshold (default 500 recipients) the fan-out splits the recipients into
  chunks of ``chunk_size`` connection ids and sends each chunk as an SQS message (FIFO, with the
  message group derived from the connection ids, so that each connection's messages arrive in
  ``seq`` order); a push function posts its chunk with ``push_parallel`` posts in flight. Time to
  the last member is then one chunk's posting, not the room's, until an account quota binds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

from tools.capacity.pricing import PRICES, Prices

__all__ = [
    "LATENCY",
    "QUOTAS",
    "QUOTA_SOURCES",
    "SQS_PRICES",
    "SQS_SOURCES",
    "STORE",
    "Design",
    "Latency",
    "Path",
    "Quotas",
    "RoomScale",
    "SqsPrices",
    "Store",
    "room_ceiling",
    "scale",
]

MB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Quotas:
    """AWS's default quotas that a large room meets (us-east-1; ``QUOTA_SOURCES``)."""

    new_connections_per_s: int = 500
    """API Gateway: new WebSocket connections per second per account and Region (adjustable)."""
    callback_rps: int = 10_000
    """API Gateway's account throttle, shared by HTTP, REST and WebSocket APIs and the WebSocket
    callback API (``@connections``): requests per second (adjustable)."""
    callback_burst: int = 5_000
    """The token bucket's capacity behind that throttle (set by AWS from the rate)."""
    lambda_concurrency: int = 1_000
    """Concurrent executions per account and Region (adjustable)."""
    lambda_scale_per_10s: int = 1_000
    """New execution environments per function every 10 seconds."""
    sqs_esm_batches: int = 1_000
    """Batches one SQS event source mapping processes at once (standard queues; a FIFO queue's
    mapping is bounded by its active message groups instead)."""
    partition_wcu: int = 1_000
    """Write units per second one DynamoDB partition takes (one item never spreads wider)."""
    query_page_bytes: int = MB
    """A Query reads at most 1 MB per request; the rest is another request."""
    sqs_batch_messages: int = 10
    """Messages per ``SendMessageBatch`` / ``DeleteMessageBatch``."""
    sqs_billing_chunk_bytes: int = 64 * 1024
    """SQS bills each 64 KB of a request's payload as one request."""
    function_timeout_s: float = 30.0
    """The fan-out function's ``Timeout`` in template.yaml (Lambda allows up to 900 s)."""


QUOTAS = Quotas()

QUOTA_SOURCES: tuple[tuple[str, str], ...] = (
    (
        "API Gateway WebSocket quotas: 500 new connections per second per account and Region, "
        "2 h connections, 10 min idle, 32 KB frames",
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/"
        "apigateway-execution-service-websocket-limits-table.html",
    ),
    (
        "API Gateway account throttle: 10,000 RPS (burst bucket 5,000) across HTTP, REST, "
        "WebSocket and WebSocket callback APIs, adjustable",
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html",
    ),
    (
        "Lambda scaling: 1,000 execution environments every 10 s per function; 1,000 "
        "concurrent executions per account by default",
        "https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html",
    ),
    (
        "SQS event source mappings: standard queues up to 1,000 concurrent batches (starting "
        "at 5, +300 a minute); FIFO queues up to the number of active message groups",
        "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html",
    ),
    (
        "DynamoDB: each partition at most 3,000 read and 1,000 write units per second",
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
        "throttling-key-range-limit-exceeded-mitigation.html",
    ),
    (
        "SQS FIFO: 300 transactions per second per action (3,000 messages with batching) "
        "without high throughput mode",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
        "quotas-messages.html",
    ),
)


@dataclass(frozen=True, slots=True)
class SqsPrices:
    standard_request: float = 0.40 / 1e6
    fifo_request: float = 0.50 / 1e6
    """Per request (each 64 KB of payload is one), after the first million a month."""


SQS_PRICES = SqsPrices()

SQS_SOURCES: tuple[tuple[str, str], ...] = (
    (
        "SQS $0.40 (standard) and $0.50 (FIFO) per million requests, each 64 KB chunk of a "
        "payload billed as one request (transcribing the SQS pricing page)",
        "https://cloudburn.io/blog/amazon-sqs-pricing",
    ),
)


@dataclass(frozen=True, slots=True)
class Latency:
    """Not measurable offline: assumed, printed with every table."""

    post_ms: float = 20.0
    """One ``@connections`` POST from a Lambda function in the same Region."""
    dynamodb_request_ms: float = 6.0
    read_ms_per_mb: float = 25.0
    """A full 1 MB Query page's transfer and parsing, on top of the request itself."""
    sqs_send_ms: float = 15.0
    """One ``SendMessageBatch``."""
    sqs_to_push_ms: float = 60.0
    """From ``SendMessageBatch`` returning to a warm push invocation starting on the chunk
    (long-polling pollers already scaled to the room's traffic)."""
    invocation_ms: float = 3.0


LATENCY = Latency()


@dataclass(frozen=True, slots=True)
class Store:
    """What the store side costs per message, measured by ``scenarios`` (docs/deploy.md)."""

    subscription_item_bytes: int = 168
    """One subscription item as the fan-out's Query reads it: a room of 1,000 reads 42 RRU
    (strongly consistent, 4 KB each) in its 3 Queries, about 168 bytes a member."""
    send_read_units: float = 4.0
    send_write_units: float = 11.2
    """Measured: the transaction (head, message, dedupe), the recency index, the read marker, the
    sender's and the room's rate buckets."""
    send_requests: int = 7
    frame_bytes: int = 300
    """A ``message`` frame of a typical 78-character line, JSON."""
    connection_id_bytes: int = 19
    """A 16-character connection id in a JSON array, with its quotes and comma."""
    head_write_units_per_send: float = 2.0
    """The send transaction updates the topic head (under 1 KB), billed twice as transactional."""
    collection_write_units_per_send: float = 6.0
    """Head, message and dedupe record share the topic's partition key: 3 items x 2."""


STORE = Store()


class Path(StrEnum):
    SINGLE = "single"
    CHUNKED = "chunked"


@dataclass(frozen=True, slots=True)
class Design:
    """How a message reaches a room: the fan-out design and its parameters."""

    path: Path = Path.SINGLE
    threshold: int = 500
    """Chunked only above this many recipients; smaller rooms keep the single path."""
    chunk_size: int = 500
    push_parallel: int = 16
    """Posts in flight per push invocation (the chunked path): ``ApiGatewayPush``'s pool."""
    fanout_parallel: int = 16
    """``ApiGatewayPush``'s pool: posts (single) or ``SendMessageBatch`` calls (chunked) in
    flight in the fan-out invocation."""
    fifo: bool = True
    message_groups: int | None = None
    """FIFO: a fixed number of message groups, each connection's a hash of its id (the
    template's ``FanOutChunkGroups``, 64); None: one group per chunk."""
    memory_mb: int = 256

    def chunked_for(self, recipients: int) -> bool:
        return self.path is Path.CHUNKED and recipients > self.threshold


@dataclass(frozen=True, slots=True)
class RoomScale:
    """One message to a room of ``size``: time, concurrency, cost and the limits it meets."""

    size: int
    chunked: bool
    chunks: int
    last_delivery_ms: float
    unthrottled_ms: float
    """The same without API Gateway's account throttle: what the design itself takes."""
    concurrency: int
    """Lambda executions one message keeps busy at once."""
    usd: float
    """US$ for one message: store, fan-out, queue, push, and API Gateway's frames."""
    floor_usd: float
    """API Gateway's frames alone: one per member."""
    limits: list[str] = field(default_factory=list)
    max_messages_per_s: float = 0.0
    """Messages a second the room sustains before a quota binds, and ``binding`` says which."""
    binding: str = ""
    refill_s: float = 0.0
    """How long the whole room takes to (re)connect at the account's new-connection rate."""

    @property
    def over_floor(self) -> float:
        """Cost per delivery over the floor: 0.05 is 5% above API Gateway's $1 per million."""
        return self.usd / self.floor_usd - 1


def _read(size: int, store: Store, latency: Latency, quotas: Quotas) -> tuple[float, float, int]:
    """The fan-out's Queries of the room: (ms, read units, requests). One Query of the wildcard
    filters, then the topic's subscribers in 1 MB pages."""
    total = size * store.subscription_item_bytes
    pages = max(1, math.ceil(total / quotas.query_page_bytes))
    requests = 1 + pages
    ms = requests * latency.dynamodb_request_ms + total / MB * latency.read_ms_per_mb
    units = 0.5 * requests + total / 4096  # strongly consistent, 4 KB units, rounded per page
    return ms, units, requests


def _throttled_ms(posts: int, unthrottled_ms: float, quotas: Quotas) -> float:
    """The posting time API Gateway's account throttle allows: the burst bucket at once, then
    ``callback_rps`` a second (everything else in the account shares it too)."""
    over = max(0, posts - quotas.callback_burst)
    return max(unthrottled_ms, over / quotas.callback_rps * 1000)


def _lambda_usd(ms: float, invocations: float, memory_mb: int, prices: Prices) -> float:
    return invocations * prices.lambda_request + memory_mb / 1024 * ms / 1000 * (
        prices.lambda_gb_second
    )


def _send_usd(store: Store, latency: Latency, design: Design, prices: Prices) -> float:
    """The send path: its units, its invocation, the frame in and the ack out."""
    ms = latency.invocation_ms + store.send_requests * latency.dynamodb_request_ms
    return (
        store.send_read_units * prices.read_request_unit
        + store.send_write_units * prices.write_request_unit
        + _lambda_usd(ms, 1, design.memory_mb, prices)
        + 2 * prices.websocket_message
    )


@dataclass(frozen=True, slots=True)
class _Plan:
    chunks: int
    chunk_ids: int
    """Connection ids in the largest chunk."""
    concurrency: int
    rounds: int
    """Chunks one after the other: a FIFO group's share of the room, or waves past the cap."""
    cap: int


def _plan(size: int, design: Design, quotas: Quotas) -> _Plan:
    """How a room's recipients become chunks. With a fixed number of FIFO message groups (each
    connection's group a hash of its id), a group's share of the room is cut into chunks that
    its one consumer at a time posts in turn; otherwise each chunk is a group of its own and as
    many run at once as the event source and the account allow."""
    if design.fifo and design.message_groups:
        groups = min(design.message_groups, size)
        per_group = math.ceil(size / groups)
        in_turn = math.ceil(per_group / design.chunk_size)
        concurrency = min(groups, quotas.lambda_concurrency)
        waves = math.ceil(groups / concurrency)
        return _Plan(
            chunks=groups * in_turn,
            chunk_ids=math.ceil(per_group / in_turn),
            concurrency=concurrency,
            rounds=waves * in_turn,
            cap=min(groups, quotas.lambda_concurrency),
        )
    chunks = math.ceil(size / design.chunk_size)
    cap = quotas.lambda_concurrency if design.fifo else quotas.sqs_esm_batches
    concurrency = min(chunks, cap, quotas.lambda_concurrency)
    return _Plan(
        chunks=chunks,
        chunk_ids=design.chunk_size,
        concurrency=concurrency,
        rounds=math.ceil(chunks / concurrency),
        cap=cap,
    )


def room_ceiling(
    size: int,
    topic_send_per_s: float,
    post_window_ms: float,
    fifo_serial: bool,
    store: Store = STORE,
    quotas: Quotas = QUOTAS,
) -> tuple[float, str]:
    """The messages per second one room sustains, and what binds: hubbub's own per-topic
    ceiling, the head item's partition, the account's post rate shared by all members'
    frames, or (FIFO) one chunk at a time per message group."""
    candidates = [
        (topic_send_per_s, "TOPIC_SEND_RATE_PER_SECOND"),
        (quotas.partition_wcu / store.head_write_units_per_send, "head item's partition"),
        (quotas.callback_rps / size, "@connections post rate"),
    ]
    if fifo_serial:
        candidates.append((1000 / post_window_ms, "one chunk at a time per message group"))
    return min(candidates)


def scale(
    size: int,
    design: Design,
    *,
    topic_send_per_s: float = 50.0,
    store: Store = STORE,
    latency: Latency = LATENCY,
    quotas: Quotas = QUOTAS,
    prices: Prices = PRICES,
    sqs: SqsPrices = SQS_PRICES,
) -> RoomScale:
    """One message to a room of ``size`` members, each with one connection."""
    read_ms, read_units, _ = _read(size, store, latency, quotas)
    floor = size * prices.websocket_message
    usd = _send_usd(store, latency, design, prices) + read_units * prices.read_request_unit + floor
    limits: list[str] = []
    if not design.chunked_for(size):
        waves = math.ceil(size / design.fanout_parallel)
        unthrottled = latency.invocation_ms + read_ms + waves * latency.post_ms
        post_window = waves * latency.post_ms
        last = latency.invocation_ms + read_ms + _throttled_ms(size, post_window, quotas)
        usd += _lambda_usd(last, 1, design.memory_mb, prices)
        chunks, concurrency, fifo_serial = 0, 1, False
        if last / 1000 > quotas.function_timeout_s:
            limits.append(f"fan-out Timeout ({quotas.function_timeout_s:g} s)")
    else:
        plan = _plan(size, design, quotas)
        chunks, concurrency, cap = plan.chunks, plan.concurrency, plan.cap
        batches = math.ceil(chunks / quotas.sqs_batch_messages)
        enqueue_ms = math.ceil(batches / design.fanout_parallel) * latency.sqs_send_ms
        chunk_ms = math.ceil(plan.chunk_ids / design.push_parallel) * latency.post_ms
        post_window = plan.rounds * chunk_ms
        before = read_ms + enqueue_ms + latency.sqs_to_push_ms
        unthrottled = latency.invocation_ms + before + post_window
        last = latency.invocation_ms + before + _throttled_ms(size, post_window, quotas)
        grouped = design.fifo and design.message_groups
        if grouped and plan.rounds > 1:
            limits.append(f"{plan.cap} FIFO groups: {plan.rounds} chunks in turn")
        if not grouped and plan.chunks > cap:
            limits.append(f"Lambda concurrency ({cap:,})")
        if not grouped and plan.chunks > quotas.lambda_scale_per_10s:
            limits.append("Lambda scaling rate (1,000 environments per 10 s)")
        message_bytes = store.frame_bytes + plan.chunk_ids * store.connection_id_bytes
        units = math.ceil(message_bytes / quotas.sqs_billing_chunk_bytes)
        request = sqs.fifo_request if design.fifo else sqs.standard_request
        # each chunk is sent (batched), received (batched) and deleted (batched)
        requests = 2 * math.ceil(chunks * units / quotas.sqs_batch_messages) + math.ceil(
            chunks / quotas.sqs_batch_messages
        )
        push_ms = latency.invocation_ms + chunk_ms
        usd += (
            _lambda_usd(read_ms + enqueue_ms, 1, design.memory_mb, prices)
            + requests * request
            + _lambda_usd(push_ms * chunks, chunks, design.memory_mb, prices)
        )
        fifo_serial = design.fifo
    if last > unthrottled + 1:
        limits.append(f"@connections post rate ({quotas.callback_rps:,} RPS account throttle)")
    ceiling, binding = room_ceiling(size, topic_send_per_s, post_window, fifo_serial, store, quotas)
    refill_s = size / quotas.new_connections_per_s
    if refill_s > 60:
        limits.append(f"new connections ({quotas.new_connections_per_s}/s): refill {refill_s:g} s")
    return RoomScale(
        size=size,
        chunked=design.chunked_for(size),
        chunks=chunks,
        last_delivery_ms=last,
        unthrottled_ms=unthrottled,
        concurrency=concurrency,
        usd=usd,
        floor_usd=floor,
        limits=limits,
        max_messages_per_s=ceiling,
        binding=binding,
        refill_s=refill_s,
    )
