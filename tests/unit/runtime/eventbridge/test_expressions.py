"""Schedule expressions and their next fire time (``runtime.eventbridge.expressions``), against
AWS's "Cron expressions reference" and "Rate expressions":
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html and
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html (six
fields, ``?`` in exactly one of the day fields, ``L``, ``W``, ``#``, weekdays 1-7 from Sunday,
years 1970-2199; a rate's unit is singular exactly for 1), and for ``at()`` and time zones the
EventBridge Scheduler guide, "Schedule types on EventBridge Scheduler":
https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hubbub.runtime.eventbridge.expressions import (
    Rate,
    ScheduleError,
    next_fire,
    parse_expression,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


ANCHOR = utc("2026-03-10T08:00:30")

NEXT = [
    # expression, after, expected (UTC)
    ("rate(1 minute)", "2026-03-10T08:00:30", "2026-03-10T08:01:30"),
    ("rate(5 minutes)", "2026-03-10T08:07:00", "2026-03-10T08:10:30"),
    ("rate(2 hours)", "2026-03-10T08:00:30", "2026-03-10T10:00:30"),
    ("rate(1 day)", "2026-03-12T09:00:00", "2026-03-13T08:00:30"),
    ("cron(0 10 * * ? *)", "2026-03-10T08:00:00", "2026-03-10T10:00:00"),
    ("cron(0 10 * * ? *)", "2026-03-10T10:00:00", "2026-03-11T10:00:00"),
    ("cron(15 12 * * ? *)", "2026-03-10T12:15:59", "2026-03-11T12:15:00"),
    ("cron(0/15 * * * ? *)", "2026-03-10T08:16:00", "2026-03-10T08:30:00"),
    ("cron(1/10 * * * ? *)", "2026-03-10T08:02:00", "2026-03-10T08:11:00"),
    ("cron(0 18 ? * MON-FRI *)", "2026-03-13T18:00:00", "2026-03-16T18:00:00"),  # Fri -> Mon
    ("cron(0 8 1 * ? *)", "2026-03-10T00:00:00", "2026-04-01T08:00:00"),
    ("cron(0 9 ? JAN,JUL 2 *)", "2026-03-10T00:00:00", "2026-07-06T09:00:00"),  # a Monday
    ("cron(0 0 L * ? *)", "2026-02-10T00:00:00", "2026-02-28T00:00:00"),
    ("cron(0 0 L * ? *)", "2028-02-10T00:00:00", "2028-02-29T00:00:00"),  # leap year
    ("cron(0 0 LW * ? *)", "2026-05-01T00:00:00", "2026-05-29T00:00:00"),  # 31st is a Sunday
    ("cron(0 0 15W * ? *)", "2026-03-01T00:00:00", "2026-03-16T00:00:00"),  # 15th is a Sunday
    ("cron(0 0 1W * ? *)", "2026-08-01T00:00:00", "2026-08-03T00:00:00"),  # 1st is a Saturday
    ("cron(0 0 ? * 3#2 *)", "2026-03-01T00:00:00", "2026-03-10T00:00:00"),  # 2nd Tuesday
    ("cron(0 0 ? * 6L *)", "2026-03-01T00:00:00", "2026-03-27T00:00:00"),  # last Friday
    ("cron(0 0 ? * L *)", "2026-03-10T00:00:00", "2026-03-14T00:00:00"),  # Saturday
    ("cron(30 6 ? * SUN 2027)", "2026-03-10T00:00:00", "2027-01-03T06:30:00"),
    ("cron(0 0 31 2 ? *)", "2026-03-10T00:00:00", None),  # never
    ("cron(0 0 1 1 ? 1999)", "2026-03-10T00:00:00", None),  # over
]


@pytest.mark.parametrize(("expression", "after", "expected"), NEXT)
def test_next_fire_time(expression: str, after: str, expected: str | None) -> None:
    got = next_fire(parse_expression(expression), utc(after), anchor=ANCHOR)
    assert got == (None if expected is None else utc(expected))


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("at(2026-03-10T09:00:00)", "2026-03-10T08:00:00", "2026-03-10T09:00:00"),
        ("at(2026-03-10T09:00:00)", "2026-03-10T09:00:00", None),
    ],
)
def test_at_fires_once(expression: str, after: str, expected: str | None) -> None:
    got = next_fire(parse_expression(expression, allow_at=True), utc(after), anchor=ANCHOR)
    assert got == (None if expected is None else utc(expected))


def test_a_time_zone_moves_cron_hours_with_daylight_saving() -> None:
    """ScheduleV2's ``ScheduleExpressionTimezone``: 09:00 in New York is 14:00 UTC in winter and
    13:00 UTC once daylight saving starts (8 March 2026)."""
    cron = parse_expression("cron(0 9 * * ? *)")
    zone = ZoneInfo("America/New_York")
    winter = next_fire(cron, utc("2026-03-06T15:00:00"), anchor=ANCHOR, zone=zone)
    summer = next_fire(cron, utc("2026-03-09T00:00:00"), anchor=ANCHOR, zone=zone)
    assert winter == utc("2026-03-07T14:00:00")
    assert summer == utc("2026-03-09T13:00:00")


def test_rates_parse_to_seconds() -> None:
    assert parse_expression("rate(1 minute)") == Rate(60)
    assert parse_expression("rate(3 hours)") == Rate(10800)
    assert parse_expression(" rate(7 days) ") == Rate(7 * 86400)


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("rate(1 minutes)", "singular"),
        ("rate(5 minute)", "singular"),
        ("rate(0 minutes)", "positive"),
        ("rate(10 seconds)", "rate(value"),
        ("rate(-1 hours)", "rate(value"),
        ("cron(0 10 * * *)", "6 fields"),
        ("cron(0 10 * * ? * *)", "6 fields"),
        ("cron(0 10 * * * *)", "exactly one"),
        ("cron(0 10 ? * ? *)", "exactly one"),
        ("cron(60 10 * * ? *)", "outside 0-59"),
        ("cron(0 24 * * ? *)", "outside 0-23"),
        ("cron(0 0 32 * ? *)", "outside 1-31"),
        ("cron(0 0 ? * 8 *)", "outside 1-7"),
        ("cron(0 0 * 13 ? *)", "outside 1-12"),
        ("cron(0 0 * * ? 2200)", "outside 1970-2199"),
        ("cron(0 0 ? * 3#1,6#3 *)", "not a value"),
        ("cron(0 0 ? * 3#6 *)", "outside 1-5"),
        ("cron(L 0 * * ? *)", "only days take"),
        ("cron(0 22-2 * * ? *)", "wraps around"),
        ("cron(0 0 * FOO ? *)", "not a value"),
        ("at(2026-03-10T09:00:00)", "ScheduleV2"),
        ("every(5 minutes)", "is not rate"),
    ],
)
def test_what_eventbridge_refuses_or_is_not_emulated_is_an_error(
    expression: str, reason: str
) -> None:
    with pytest.raises(ScheduleError, match=__import__("re").escape(reason)):
        parse_expression(expression)


def test_a_bad_at_is_refused() -> None:
    with pytest.raises(ScheduleError, match="yyyy-mm-dd"):
        parse_expression("at(2026-13-10T09:00:00)", allow_at=True)
