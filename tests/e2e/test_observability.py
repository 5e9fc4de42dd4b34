"""What an operator of ``hubbub serve`` sees: metrics, Lambda-style logs, a clean shutdown."""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import websockets

from hubbub.client import ClientError, HubbubClient
from tests.support.server import ServerProcess
from tests.support.waiting import eventually

Start = Callable[..., ServerProcess]


def scrape(server: ServerProcess) -> dict[str, float]:
    with urllib.request.urlopen(f"{server.base_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def total(samples: dict[str, float], prefix: str) -> float:
    return sum(v for k, v in samples.items() if k.startswith(prefix))


async def test_metrics_move_with_traffic(fresh_server: Start) -> None:
    server = fresh_server()
    before = scrape(server)
    clients = [await HubbubClient.connect(server.ws_url) for _ in range(3)]
    for n, client in enumerate(clients):
        await client.register(f"m{n}")
        await client.subscribe("room/metrics")
    for n in range(4):
        await clients[0].send("room/metrics", f"m{n}")
    for client in clients:
        await client.wait_for_messages("room/metrics", 4)
    await clients[2].close()
    await clients[0].send("room/metrics", "the last")  # meets the closed one: a 410
    await clients[1].wait_for_messages("room/metrics", 5)

    def settled() -> dict[str, float] | None:
        samples = scrape(server)
        gone = total(samples, 'connections_api_posts_total{status="410"}')
        lags = total(samples, "hubbub_fan_out_lag_ms_count")
        return samples if gone >= 1 and lags >= 5 else None

    after = await eventually(settled, what="a 410 and every fan-out counted")
    assert (
        total(after, "websocket_connections_total") - total(before, "websocket_connections_total")
        == 3
    )
    assert after["websocket_connections_open"] == 2
    invocations = 'lambda_invocations_total{function="MessageFunction"}'
    assert after[invocations] - before.get(invocations, 0) >= 3 * 2 + 5
    assert total(after, "lambda_cold_starts_total") >= 3
    assert total(after, 'connections_api_posts_total{status="200"}') >= 3 * 4
    assert total(after, "lambda_duration_ms_count") >= after[invocations]
    # the handlers' own EMF metrics, read from their logs like CloudWatch would
    assert total(after, "hubbub_actions_total") >= 11
    assert total(after, "hubbub_deliveries_total") >= 12
    assert total(after, "hubbub_fan_out_lag_ms_count") >= 5
    for client in clients[:2]:
        await client.close()


REPORT = re.compile(
    r"REPORT RequestId: (?P<rid>[0-9a-f-]{36})\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
    r"Memory Size: \d+ MB\tMax Memory Used: \d+ MB(?P<init>\tInit Duration: [\d.]+ ms)?"
)


async def test_every_invocation_logs_start_end_and_report(fresh_server: Start) -> None:
    """At DEBUG every invocation has its START, END and REPORT (cold starts with their Init
    Duration), as in CloudWatch; refused actions are logged as structured JSON at INFO."""
    server = fresh_server("--log-level", "DEBUG")
    client = await HubbubClient.connect(server.ws_url)
    await client.register("logger")
    await client.send("room/logs", "hello logs")
    await client.request("ping")
    with pytest.raises(ClientError):
        await client.request("dance")  # an unknown action: refused, so logged at INFO
    await client.close()

    def reports() -> list[re.Match[str]]:
        return [
            m for line in server.log_path.read_text().splitlines() if (m := REPORT.search(line))
        ]

    def enough() -> list[re.Match[str]] | None:
        found = reports()
        return found if len(found) >= 6 and sum(1 for m in found if m["init"]) >= 3 else None

    # $connect, register, send, ping, dance, the fan-out: 6, of which 3 cold starts
    found = await eventually(enough, what="REPORT lines, three with an Init Duration")
    log = server.log_path.read_text()
    for match in found:
        assert f"START RequestId: {match['rid']} Version: $LATEST" in log
        assert f"END RequestId: {match['rid']}" in log
    assert '"latencyMs"' in log and '"connectionId"' in log, "handlers log structured JSON"
    assert '"outcome":"unknown_action"' in log.replace(" ", "")


async def test_info_logs_cold_starts_but_not_each_warm_invocation(fresh_server: Start) -> None:
    """The default level keeps what operators read the lines for (cold starts, failures) and
    leaves out the three lines of every warm invocation that went well."""
    server = fresh_server()
    client = await HubbubClient.connect(server.ws_url)
    await client.register("quiet")
    pings = [await client.request("ping") for _ in range(5)]
    assert len(pings) == 5
    await client.close()
    log = await eventually(
        lambda: t if "Init Duration" in (t := server.log_path.read_text()) else None,
        what="a cold start's REPORT",
    )
    reports = [line for line in log.splitlines() if "REPORT RequestId:" in line]
    assert reports and all("Init Duration" in line for line in reports), reports
    assert '"action":"ping"' not in log.replace(" ", "")


async def test_sigterm_during_traffic_loses_no_acknowledged_message(
    fresh_server: Start, tmp_path: Path
) -> None:
    # five writers send unpaced to keep the server busy while it stops: the send limits (per
    # user and per room) are lifted, as the benchmarks lift them (tests/e2e/test_abuse.py and
    # tests/e2e/test_hot_rooms.py attack the limits themselves)
    env_file = tmp_path / "env.json"
    env_file.write_text(
        json.dumps(
            {
                "Parameters": {
                    "SEND_RATE_PER_SECOND": "100000",
                    "SEND_BURST": "100000",
                    "TOPIC_SEND_RATE_PER_SECOND": "100000",
                    "TOPIC_SEND_BURST": "100000",
                }
            }
        )
    )
    server = fresh_server("--env-vars", str(env_file))
    writers = [await HubbubClient.connect(server.ws_url) for _ in range(5)]
    for n, writer in enumerate(writers):
        await writer.register(f"w{n}")
    acked: set[int] = set()
    refusals: list[str] = []
    stop = asyncio.Event()

    async def write(writer: HubbubClient, index: int) -> None:
        n = 0
        while not stop.is_set():
            try:
                ack = await writer.send("room/sigterm", f"{index}-{n}", f"{index}-{n}", attempts=1)
            except ClientError as refused:
                # not acknowledged, so nothing was promised: resend the same message (a busy
                # store under this load, most often moto answering one request at a time)
                refusals.append(refused.code)
                continue
            except (ConnectionError, TimeoutError, websockets.ConnectionClosed):
                return
            acked.add(int(ack["seq"]))
            n += 1

    tasks = [asyncio.create_task(write(w, i)) for i, w in enumerate(writers)]
    await eventually(lambda: len(acked) >= 100, what="traffic flowing")
    code = await asyncio.to_thread(server.stop)
    stop.set()
    await asyncio.gather(*tasks)
    assert code == 0
    assert set(refusals) <= {"unavailable"}, refusals
    close_codes = {w.ws.close_code for w in writers}
    assert close_codes == {1001}

    server.start()
    reader = await HubbubClient.connect(server.ws_url)
    stored: set[int] = set()
    after = 0
    while True:
        page = await reader.request("history", topic="room/sigterm", after=after, limit=100)
        stored |= {m["seq"] for m in page["messages"]}
        if not page["hasMore"]:
            break
        after = page["messages"][-1]["seq"]
    await reader.close()
    assert acked <= stored, f"acknowledged but lost: {sorted(acked - stored)[:10]}"
    assert stored == set(range(1, len(stored) + 1))
