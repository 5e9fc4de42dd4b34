"""What a schedule hands its function.

A ``Schedule`` event (an EventBridge rule) sends the "Scheduled Event" envelope, with the rule's
ARN in ``resources`` and the scheduled time (to the second) in ``time``; a rule target's ``Input``
replaces the whole envelope with that constant JSON. A ``ScheduleV2`` event (EventBridge
Scheduler) sends its ``Input`` as is, and ``{}`` without one.
"""

from __future__ import annotations

import copy
import uuid
from datetime import UTC, datetime
from typing import Any

from hubbub.runtime.cloudformation import ScheduleSpec

__all__ = ["rule_arn", "schedule_event"]


def rule_arn(schedule: ScheduleSpec, *, region: str, account_id: str) -> str:
    return f"arn:aws:events:{region}:{account_id}:rule/{schedule.name}"


def schedule_event(
    schedule: ScheduleSpec, fire_time: datetime, *, region: str, account_id: str
) -> Any:
    if schedule.input is not None:
        return copy.deepcopy(schedule.input)
    if schedule.kind == "ScheduleV2":
        return {}
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": fire_time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn(schedule, region=region, account_id=account_id)],
        "detail": {},
    }
