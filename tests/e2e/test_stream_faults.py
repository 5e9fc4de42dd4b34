"""The fan-out path under stream faults: a poison record, and ``@connections`` posts that hang."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hubbub.client import HubbubClient
from tests.support.server import ServerProcess
from tests.support.waiting import eventually

Start = Callable[..., ServerProcess]


def _slowest_fan_out_bucket(server: ServerProcess) -> float:
    """The smallest histogram bound that holds every FanOutFunction invocation (from /metrics)."""
    with urllib.request.urlopen(f"{server.base_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    total = None
    buckets: list[tuple[float, int]] = []
    for line in text.splitlines():
        if line.startswith("lambda_duration_ms_bucket") and 'function="FanOutFunction"' in line:
            bound = line.split('le="')[1].split('"')[0]
            count = int(line.rsplit(" ", 1)[1])
            if bound == "+Inf":
                total = count
            else:
                buckets.append((float(bound), count))
    assert total
    return min(bound for bound, count in buckets if count == total)


@pytest.mark.store
async def test_a_poison_record_is_dead_lettered_and_the_rest_delivered_once(
    fresh_server: Start,
) -> None:
    server = fresh_server()
    topic = "room/poison"
    watcher = await HubbubClient.connect(server.ws_url)
    await watcher.subscribe(topic)
    senders = [await HubbubClient.connect(server.ws_url) for _ in range(2)]
    for n, sender in enumerate(senders):
        await sender.register(f"s{n}")

    server.admin("faults", {"streams_paused": True})
    for n in range(50):
        await senders[0].send(topic, f"before {n}")
    assert server.admin("poison", {})["poisoned"] == 1
    for n in range(49):
        await senders[1].send(topic, f"after {n}")
    server.admin("faults", {"streams_paused": False})  # one batch of 100, poison at #51

    await watcher.wait_for_messages(topic, 99, timeout=30)
    # each consumer of the stream (the fan-out, the relay) gives up on it and dead-letters it
    mappings = ["FanOutFunction.Messages", "RelayFunction.Messages"]

    def both() -> list[dict[str, Any]] | None:
        found: list[dict[str, Any]] = server.admin("dead-letters")
        return found if len(found) == len(mappings) else None

    letters = await eventually(both, what="a dead letter from each consumer")
    assert sorted(letter["mapping"] for letter in letters) == mappings
    for letter in letters:
        assert letter["record"]["dynamodb"]["NewImage"]["pk"] == {"S": "T#room/poison"}
        assert letter["reason"] == "record failed: retries exhausted"
        assert letter["replayedMs"] is None
    (fan_out,) = [letter for letter in letters if letter["mapping"] == mappings[0]]
    with pytest.raises(urllib.error.HTTPError) as refused:  # still poison: the function says so
        server.admin(f"dead-letters/{fan_out['id']}/replay", {})
    refused.value.close()
    assert refused.value.code == 502
    assert all(letter["replayedMs"] is None for letter in server.admin("dead-letters"))
    marker = await senders[0].send(topic, "after the poison")
    await watcher.wait_for_seq(topic, marker["seq"])
    assert sorted(watcher.messages[topic]) == list(range(1, 101))
    assert watcher.duplicates == 0, "records after the poison were delivered twice"
    stats = server.admin("stats")["functions"]["FanOutFunction"]
    assert stats["errors"] == 0  # partial batch responses, never a failed invocation
    for client in [watcher, *senders]:
        await client.close()


async def test_hung_posts_cannot_run_the_fan_out_into_its_timeout(
    fresh_server: Start, tmp_path: Path
) -> None:
    """With the AWS push adapter talking to the runtime's @connections endpoint over boto3."""
    env = {
        "Parameters": {
            "HUBBUB_PUSH": "apigateway",
            "PUSH_READ_TIMEOUT_SECONDS": "0.5",
            "PUSH_BUDGET_SECONDS": "2",
            "PUSH_BREAKER_THRESHOLD": "3",
        }
    }
    env_file = tmp_path / "env.json"
    env_file.write_text(json.dumps(env))
    server = fresh_server("--env-vars", str(env_file))
    topic = "room/hung"
    watchers = [await HubbubClient.connect(server.ws_url) for _ in range(5)]
    for watcher in watchers:
        await watcher.subscribe(topic)
    sender = await HubbubClient.connect(server.ws_url)
    await sender.register("sender")
    ready = await sender.send(topic, "before the hang")
    for watcher in watchers:
        await watcher.wait_for_seq(topic, ready["seq"])

    batches = server.admin("stats")["streams"]["FanOutFunction.Messages"]["batches"]
    server.admin("faults", {"post_hang_s": 3})
    started = time.monotonic()
    hung = await sender.send(topic, "during the hang")
    await eventually(
        lambda: (
            server.admin("stats")["streams"]["FanOutFunction.Messages"]["batches"] >= batches + 2
        ),
        timeout=20,
        what="the hung record failed twice",
    )
    elapsed = time.monotonic() - started
    # two attempts, each held to the 2 s push budget; nowhere near the 30 s function timeout
    assert elapsed < 10
    stats = server.admin("stats")["functions"]["FanOutFunction"]
    assert stats["timeouts"] == 0, "a hung @connections endpoint ran the function into its timeout"
    assert stats["errors"] == 0, "affected records are reported, not the whole invocation failed"
    assert _slowest_fan_out_bucket(server) <= 2500
    assert hung["seq"] not in watchers[0].messages.get(topic, {})

    server.admin("faults", {"post_hang_s": 0})
    for watcher in watchers:
        await watcher.wait_for_seq(topic, hung["seq"], timeout=30)
    await asyncio.gather(*(w.close() for w in [*watchers, sender]))
