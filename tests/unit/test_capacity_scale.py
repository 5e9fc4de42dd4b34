"""The large-room model (``tools/capacity/scale.py``) and the two edges' prices
(``tools/capacity/edges.py``): table-driven checks of the arithmetic against figures worked out
by hand from the cited quotas and prices, and of which limit each room meets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tools.capacity.__main__ import main
from tools.capacity.edges import USAGE, Usage, api_gateway, iot_core
from tools.capacity.scale import (
    LATENCY,
    QUOTAS,
    STORE,
    Design,
    Path,
    room_ceiling,
    scale,
)
from tools.capacity.scale_report import AS_BUILT, TARGET_MS, TUNED, render_scale, required_rps

SINGLE = Design()
CHUNKED = Design(path=Path.CHUNKED, push_parallel=50)
"""One FIFO group per chunk of 500, 50 posts in flight."""
NO_WAIT = replace(LATENCY, dynamodb_request_ms=0, read_ms_per_mb=0, invocation_ms=0)
"""Only the posts take time: the figures below follow from post_ms alone."""


@pytest.mark.parametrize(
    ("size", "design", "last_ms"),
    [
        pytest.param(10, SINGLE, 20, id="single, 10: one wave of 16"),
        pytest.param(1_000, SINGLE, 63 * 20, id="single, 1,000: 63 waves"),
        pytest.param(10_000, SINGLE, 625 * 20, id="single, 10,000: 625 waves, ~12 s"),
        pytest.param(100_000, SINGLE, 6_250 * 20, id="single, 100,000: ~2 minutes"),
        pytest.param(500, CHUNKED, 32 * 20, id="at the threshold: still the single path"),
        pytest.param(
            1_000, CHUNKED, 60 + 15 + 10 * 20, id="chunked, 1,000: enqueue, pickup, 10 waves"
        ),
        pytest.param(
            10_000,
            CHUNKED,
            60 + 15 + 5_000 / 10_000 * 1000,
            id="chunked, 10,000: 2 batches of 10 chunks, past the 5,000 burst at 10,000/s",
        ),
        pytest.param(
            100_000,
            CHUNKED,
            60 + 2 * 15 + 95_000 / 10_000 * 1000,
            id="chunked, 100,000: 20 batches in 2 rounds of 16, then the throttle, 9.5 s",
        ),
    ],
)
def test_time_to_the_last_member(size: int, design: Design, last_ms: float) -> None:
    assert scale(size, design, latency=NO_WAIT).last_delivery_ms == pytest.approx(last_ms)


@pytest.mark.parametrize(
    ("size", "design", "limits"),
    [
        pytest.param(10, SINGLE, [], id="small room: nothing"),
        pytest.param(10_000, SINGLE, [], id="single, 10,000: slow, but 800 posts/s"),
        pytest.param(
            100_000,
            SINGLE,
            ["fan-out Timeout", "new connections"],
            id="single, 100,000: outlives the function's 30 s",
        ),
        pytest.param(
            10_000, CHUNKED, ["@connections post rate"], id="chunked, 10,000: the throttle"
        ),
        pytest.param(
            100_000,
            replace(CHUNKED, chunk_size=50),
            ["Lambda concurrency", "Lambda scaling rate", "@connections", "new connections"],
            id="chunks of 50: 2,000 invocations per message",
        ),
    ],
)
def test_the_limits_each_room_meets(size: int, design: Design, limits: list[str]) -> None:
    found = scale(size, design).limits
    assert len(found) == len(limits), found
    assert all(f.startswith(want) for f, want in zip(found, limits, strict=True)), found


@pytest.mark.parametrize(
    ("size", "fifo_serial", "rate", "binding"),
    [
        pytest.param(10, False, 50, "TOPIC_SEND_RATE_PER_SECOND", id="small: hubbub's ceiling"),
        pytest.param(1_000, False, 10, "@connections post rate", id="1,000: 10,000 RPS / N"),
        pytest.param(100_000, False, 0.1, "@connections post rate", id="100,000: one per 10 s"),
        pytest.param(1_000, True, 5, "one chunk at a time", id="FIFO: one 200 ms chunk a group"),
    ],
)
def test_what_bounds_a_rooms_message_rate(
    size: int, fifo_serial: bool, rate: float, binding: str
) -> None:
    found, why = room_ceiling(size, 50.0, 200.0, fifo_serial)
    assert found == pytest.approx(rate)
    assert why.startswith(binding)


def test_the_head_item_binds_when_the_rooms_own_ceiling_is_lifted() -> None:
    """2 WRU per send on one item: 1,000 WCU/s is 500 sends a second."""
    assert room_ceiling(1, 100_000.0, 1.0, False) == (500.0, "head item's partition")


@pytest.mark.parametrize(
    ("size", "design", "concurrency"),
    [
        pytest.param(100_000, SINGLE, 1, id="single: one invocation"),
        pytest.param(100_000, CHUNKED, 200, id="chunks of 500: 200"),
        pytest.param(100_000, replace(CHUNKED, chunk_size=1_000), 100, id="chunks of 1,000"),
        pytest.param(100_000, replace(CHUNKED, chunk_size=50), 1_000, id="capped at 1,000"),
    ],
)
def test_lambda_concurrency_per_message(size: int, design: Design, concurrency: int) -> None:
    assert scale(size, design).concurrency == concurrency


@pytest.mark.parametrize("size", [1_000, 10_000, 100_000])
def test_the_chunked_path_costs_within_the_target_of_the_floor(size: int) -> None:
    """API Gateway's $1 per million frames is the floor; queue, push invocations and reads
    add under 10% per delivery (about 1%)."""
    room = scale(size, CHUNKED)
    assert room.floor_usd == pytest.approx(size / 1e6)
    assert 0 < room.over_floor < 0.10


def test_the_target_needs_a_raised_account_throttle_and_says_how_far() -> None:
    """At the default 10,000 RPS a room of 100,000 waits ~10 s; the model finds the throttle
    that brings it under 2 s, and one 5,000 RPS lower does not."""
    assert scale(100_000, CHUNKED).last_delivery_ms > 5 * TARGET_MS
    needed = required_rps(100_000, CHUNKED)
    assert needed is not None
    at = replace(QUOTAS, callback_rps=needed, callback_burst=needed // 2)
    below = replace(QUOTAS, callback_rps=needed - 5_000, callback_burst=(needed - 5_000) // 2)
    assert scale(100_000, CHUNKED, quotas=at).last_delivery_ms <= TARGET_MS
    assert scale(100_000, CHUNKED, quotas=below).last_delivery_ms > TARGET_MS
    assert required_rps(100_000, SINGLE) is None, "the single path is too slow at any quota"


def test_the_report_states_the_verdict_for_each_design() -> None:
    text = render_scale([10, 100_000], [("as built", AS_BUILT), ("tuned", TUNED)])
    assert "- as built: **not met** at the default quotas" in text
    assert "not at any account throttle (2.55 s without one)" in text
    assert "- tuned: **not met** at the default quotas" in text
    assert "met with the API Gateway account throttle raised to 55,000 RPS" in text


@pytest.mark.parametrize(
    ("size", "design", "chunks", "concurrency", "enqueue_rounds", "post_window_ms"),
    [
        pytest.param(
            100_000,
            AS_BUILT,
            128,
            64,
            1,
            2 * 49 * 20,
            id="64 groups: 1,563 each, 2 chunks of 782 in turn",
        ),
        pytest.param(100_000, TUNED, 256, 256, 2, 25 * 20, id="256 groups: 391 each, one chunk"),
        pytest.param(1_000, AS_BUILT, 64, 64, 1, 1 * 20, id="a small room: 64 chunks of 16"),
        pytest.param(40, AS_BUILT, 40, 40, 1, 20, id="fewer members than groups"),
    ],
)
def test_fixed_fifo_groups_cut_each_groups_share_into_chunks_in_turn(
    size: int,
    design: Design,
    chunks: int,
    concurrency: int,
    enqueue_rounds: int,
    post_window_ms: float,
) -> None:
    """Each connection's group is a hash of its id, so one group's share of the room is posted
    by one consumer at a time, chunk after chunk."""
    design = replace(design, threshold=0)
    room = scale(size, design, latency=NO_WAIT, quotas=replace(QUOTAS, callback_rps=10**9))
    assert (room.chunks, room.concurrency) == (chunks, concurrency)
    # SendMessageBatch: 10 chunks each, 16 in flight; then the pickup; then the posting
    assert room.unthrottled_ms == pytest.approx(15 * enqueue_rounds + 60 + post_window_ms)


# -- the two edges --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "measured_total"),
    [
        pytest.param(10, 27.78, id="10"),
        pytest.param(100, 119.0, id="100"),
        pytest.param(1_000, 1_027.0, id="1,000"),
    ],
)
def test_the_api_gateway_edge_agrees_with_the_measured_table(
    size: int, measured_total: float
) -> None:
    """The arithmetic model lands within 2% of what tools.capacity measured on hubbub's code
    paths (docs/deploy.md, "US$ per million messages")."""
    assert api_gateway(size).total * 1e6 == pytest.approx(measured_total, rel=0.02)


@pytest.mark.parametrize(
    ("usage", "per_delivery"),
    [
        pytest.param(USAGE, 1, id="QoS 0: one message per delivery"),
        pytest.param(
            replace(USAGE, subscriber_qos=1, mqtt_version=5), 1, id="MQTT 5 QoS 1: PUBACK free"
        ),
        pytest.param(
            replace(USAGE, subscriber_qos=1, mqtt_version=3), 2, id="3.1.1 QoS 1: PUBACK billed"
        ),
    ],
)
def test_iot_core_bills_each_delivery_and_nothing_for_the_inbound_publish(
    usage: Usage, per_delivery: int
) -> None:
    """Basic Ingest in: only a rule and an action ($0.30 per million); one data-plane publish;
    one message per subscriber; connection minutes at $0.08; pings free."""
    cost = iot_core(100, usage)
    assert cost.messaging * 1e6 == pytest.approx(0.30 + 1 + 100 * per_delivery)
    assert cost.connection_minutes * 1e6 == pytest.approx(0.8)
    assert cost.keepalive == 0


def test_a_message_over_5_kb_is_two_iot_messages_but_one_api_gateway_frame() -> None:
    big = replace(STORE, frame_bytes=6_000)
    assert iot_core(10, store=big).messaging * 1e6 == pytest.approx(0.30 + 2 + 10 * 2)
    assert api_gateway(10, store=big).messaging * 1e6 == pytest.approx(12)


@pytest.mark.parametrize("size", [10, 100, 1_000])
def test_iot_core_saves_the_keepalive_and_minutes_not_the_deliveries(size: int) -> None:
    api, iot = api_gateway(size), iot_core(size)
    assert iot.total < api.total
    assert api.total - iot.total < 20 / 1e6, "the deliveries cost the same $1 per million"


def test_the_command_prints_both_tables_without_moto(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--scale", "--chunk-size", "1000", "--push-parallel", "100"]) == 0
    printed = capsys.readouterr().out
    assert "| 100,000 | yours: 100 chunks of <= 1000, 100 in flight |" in printed
    assert "| 100,000 | as built: 128 chunks of <= 1000, 64 groups, 16 in flight |" in printed
    assert "### A million messages: API Gateway or IoT Core" in printed
