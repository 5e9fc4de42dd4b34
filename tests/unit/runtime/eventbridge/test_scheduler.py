"""Schedules firing on the runtime's clock (``runtime.eventbridge.scheduler``) and the events they
send (``runtime.eventbridge.events``).

A ``Schedule`` event is an EventBridge rule's "Scheduled Event" (AWS, "Using cron and rate
expressions to schedule rules in Amazon EventBridge":
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html, and the
Lambda guide's "Invoking a Lambda function on a schedule" for the event:
https://docs.aws.amazon.com/lambda/latest/dg/with-eventbridge-scheduler.html); a target's
``Input`` replaces the whole event. A ``ScheduleV2`` event is EventBridge Scheduler's templated
Lambda target, which sends its ``Input`` (API reference, Target:
https://docs.aws.amazon.com/scheduler/latest/APIReference/API_Target.html) and an empty object
without one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from hubbub.runtime.cloudformation import ScheduleSpec
from hubbub.runtime.eventbridge.events import schedule_event
from hubbub.runtime.eventbridge.scheduler import Scheduler
from hubbub.runtime.lambda_.pool import InvokeResult
from tests.support.waiting import eventually

REGION, ACCOUNT = "eu-west-1", "123456789012"
START_MS = 1_773_129_600_000  # 2026-03-10T08:00:00Z


def schedule(**changes: Any) -> ScheduleSpec:
    base = ScheduleSpec(
        logical_id="Tick.Every",
        function="Tick",
        kind="Schedule",
        expression="rate(1 minute)",
        enabled=True,
        name="TickEvery",
    )
    return replace(base, **changes)


@dataclass
class FakePool:
    events: list[Any] = field(default_factory=list)
    fail: bool = False

    async def invoke(self, event: Any) -> InvokeResult:
        self.events.append(event)
        if self.fail:
            return InvokeResult("r", False, {"errorType": "Boom", "errorMessage": "x"}, 1.0)
        return InvokeResult("r", True, {"done": len(self.events)}, 1.0)


@dataclass
class Clock:
    ms: int = START_MS

    def now_ms(self) -> int:
        return self.ms


def test_a_rule_sends_the_scheduled_event_envelope() -> None:
    fire = datetime(2026, 3, 10, 8, 1, 0, 123_000, tzinfo=UTC)
    event = schedule_event(schedule(), fire, region=REGION, account_id=ACCOUNT)
    parsed = EventBridgeModel.model_validate(event)
    assert parsed.detail_type == "Scheduled Event"
    assert parsed.source == "aws.events"
    assert parsed.account == ACCOUNT
    assert parsed.region == REGION
    assert parsed.resources == [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/TickEvery"]
    assert parsed.detail == {}
    assert event["version"] == "0"
    assert event["time"] == "2026-03-10T08:01:00Z"


@pytest.mark.parametrize("kind", ["Schedule", "ScheduleV2"])
def test_input_replaces_the_event(kind: str) -> None:
    spec = schedule(kind=kind, input={"job": "report", "n": [1, 2]})
    event = schedule_event(spec, datetime.now(UTC), region=REGION, account_id=ACCOUNT)
    assert event == {"job": "report", "n": [1, 2]}


def test_scheduler_without_input_sends_an_empty_object() -> None:
    spec = schedule(kind="ScheduleV2")
    assert schedule_event(spec, datetime.now(UTC), region=REGION, account_id=ACCOUNT) == {}


async def test_a_schedule_fires_when_the_clock_reaches_it() -> None:
    clock, pool = Clock(), FakePool()
    scheduler = Scheduler([schedule()], {"Tick": pool}, clock.now_ms, REGION, ACCOUNT)  # type: ignore[dict-item]
    scheduler.start()
    try:
        described = scheduler.describe()[0]
        assert described["nextFire"] == "2026-03-10T08:01:00+00:00"
        clock.ms += 59_000
        await asyncio.sleep(0)  # the loop looks again; nothing is due yet
        assert pool.events == []
        clock.ms += 61_000 * 5  # five periods jumped over: one fire, not five
        await eventually(lambda: pool.events, timeout=5, what="the schedule firing")
        assert len(pool.events) == 1
        assert pool.events[0]["time"] == "2026-03-10T08:01:00Z"
        next_fire = scheduler.describe()[0]["nextFire"]
        assert next_fire == "2026-03-10T08:07:00+00:00"
    finally:
        await scheduler.stop()


async def test_a_disabled_schedule_never_fires_but_can_be_fired_by_hand() -> None:
    clock, pool = Clock(), FakePool()
    spec = schedule(enabled=False)
    scheduler = Scheduler([spec], {"Tick": pool}, clock.now_ms, REGION, ACCOUNT)  # type: ignore[dict-item]
    scheduler.start()
    try:
        assert scheduler.describe()[0]["nextFire"] is None
        clock.ms += 3_600_000
        result = await scheduler.fire("Tick.Every")
        assert result.ok
        assert len(pool.events) == 1
        assert scheduler.describe()[0]["fired"] == 1
    finally:
        await scheduler.stop()


async def test_a_failing_function_is_counted_not_retried() -> None:
    clock, pool = Clock(), FakePool(fail=True)
    scheduler = Scheduler([schedule()], {"Tick": pool}, clock.now_ms, REGION, ACCOUNT)  # type: ignore[dict-item]
    result = await scheduler.fire("Tick.Every")
    assert not result.ok
    assert scheduler.describe()[0]["errors"] == 1
    assert len(pool.events) == 1
