"""Schedule expressions as EventBridge reads them, and the next time one fires: a pure function
of the expression and "now", so the firing loop only sleeps and calls it.

- ``rate(value unit)``: minute(s), hour(s), day(s); the unit is singular exactly when the value
  is 1. Rules fire every period counted from when the rule was created (here: the anchor, the
  runtime's start).
- ``cron(minutes hours day-of-month month day-of-week year)``: ``, - * /`` in every field;
  ``?`` in exactly one of day-of-month and day-of-week; ``L`` (last day), ``LW`` (last weekday)
  and ``nW`` (weekday nearest day n) in day-of-month; ``L`` (Saturday), ``nL`` (last weekday n of
  the month) and ``n#k`` (k-th weekday n) in day-of-week, where 1 is Sunday; month and weekday
  names (``JAN``, ``MON``).
- ``at(yyyy-mm-ddThh:mm:ss)``: once (EventBridge Scheduler only).

Anything else raises :class:`ScheduleError` with the reason, so a template is refused at load.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TypeAlias

__all__ = ["At", "Cron", "Expression", "Rate", "ScheduleError", "next_fire", "parse_expression"]

_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = {name.upper(): i for i, name in enumerate(calendar.month_abbr) if name}
_DAYS = {name: i + 1 for i, name in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}
_LAST_YEAR = 2199


class ScheduleError(ValueError):
    """The expression is not one EventBridge accepts, or uses what is not emulated."""


@dataclass(frozen=True, slots=True)
class Rate:
    seconds: int


@dataclass(frozen=True, slots=True)
class At:
    when: datetime
    """Naive: wall time in the schedule's time zone."""


DayTest: TypeAlias = Callable[[date], bool]


@dataclass(frozen=True, slots=True)
class Cron:
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    years: frozenset[int]
    day: DayTest
    """Whether a date of those months and years matches day-of-month or day-of-week."""


Expression: TypeAlias = Rate | Cron | At


def parse_expression(text: str, *, allow_at: bool = False) -> Expression:
    text = text.strip()
    match = re.fullmatch(r"(rate|cron|at)\((.*)\)", text)
    if match is None:
        raise ScheduleError(f"{text!r} is not rate(...), cron(...) or at(...)")
    kind, body = match.groups()
    if kind == "rate":
        return _rate(body.strip())
    if kind == "at":
        if not allow_at:
            raise ScheduleError("at(...) is for ScheduleV2 (EventBridge Scheduler) only")
        try:
            return At(datetime.strptime(body.strip(), "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            raise ScheduleError(f"at({body}) is not yyyy-mm-ddThh:mm:ss") from None
    return _cron(body.split())


def _rate(body: str) -> Rate:
    match = re.fullmatch(r"(\d+)\s+(minute|minutes|hour|hours|day|days)", body)
    if match is None:
        raise ScheduleError(f"rate({body}) is not rate(value minute|hour|day[s])")
    value, unit = int(match.group(1)), match.group(2)
    if value < 1:
        raise ScheduleError(f"rate({body}): the value must be a positive number")
    if (value == 1) == unit.endswith("s"):
        raise ScheduleError(f"rate({body}): use the singular unit for 1 and the plural otherwise")
    return Rate(value * _UNITS[unit.rstrip("s")])


def _number(token: str, low: int, high: int, names: dict[str, int], field: str) -> int:
    value = names.get(token.upper()) if names else None
    if value is None:
        if not token.isdigit():
            raise ScheduleError(f"{field}: {token!r} is not a value")
        value = int(token)
    if not low <= value <= high:
        raise ScheduleError(f"{field}: {value} is outside {low}-{high}")
    return value


def _values(
    text: str, low: int, high: int, field: str, names: dict[str, int] | None = None
) -> tuple[int, ...]:
    """A plain field: ``*``, ``a``, ``a-b``, with an optional ``/step``, comma-separated."""
    out: set[int] = set()
    for item in text.split(","):
        base, _, step_text = item.partition("/")
        step = _number(step_text, 1, high, {}, field) if step_text else 1
        if base == "*":
            start, end = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start = _number(first, low, high, names or {}, field)
            end = _number(last, low, high, names or {}, field)
            if end < start:
                raise ScheduleError(f"{field}: range {base} wraps around (not supported)")
        else:
            start = _number(base, low, high, names or {}, field)
            end = high if step_text else start
        out.update(range(start, end + 1, step))
    return tuple(sorted(out))


def _weekday(day: date) -> int:
    """EventBridge numbers weekdays 1 (Sunday) to 7 (Saturday)."""
    return (day.weekday() + 1) % 7 + 1


def _last_day(day: date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def _nearest_weekday(day: date, wanted: int) -> bool:
    """``nW``: the weekday nearest day n of the month, not crossing into another month."""
    last = _last_day(day)
    target = date(day.year, day.month, min(wanted, last))
    if target.weekday() == 5:  # Saturday: Friday, or Monday when n is the 1st
        target = target - timedelta(days=1) if target.day > 1 else target + timedelta(days=2)
    elif target.weekday() == 6:  # Sunday: Monday, or Friday when n is the last day
        target = target + timedelta(days=1) if target.day < last else target - timedelta(days=2)
    return day == target


def _day_of_month(text: str) -> DayTest:
    if text == "L":
        return lambda d: d.day == _last_day(d)
    if text == "LW":
        return lambda d: _nearest_weekday(d, _last_day(d))
    if text.endswith("W"):
        wanted = _number(text[:-1], 1, 31, {}, "day-of-month")
        return lambda d: _nearest_weekday(d, wanted)
    days = frozenset(_values(text, 1, 31, "day-of-month"))
    return lambda d: d.day in days


def _day_of_week(text: str) -> DayTest:
    if text == "L":
        return lambda d: _weekday(d) == 7
    if re.fullmatch(r"\w+L", text):
        weekday = _number(text[:-1], 1, 7, _DAYS, "day-of-week")
        return lambda d: _weekday(d) == weekday and d.day + 7 > _last_day(d)
    if "#" in text:
        day_text, _, nth_text = text.partition("#")
        weekday = _number(day_text, 1, 7, _DAYS, "day-of-week")
        nth = _number(nth_text, 1, 5, {}, "day-of-week")
        return lambda d: _weekday(d) == weekday and (d.day - 1) // 7 + 1 == nth
    days = frozenset(_values(text, 1, 7, "day-of-week", _DAYS))
    return lambda d: _weekday(d) in days


def _cron(fields: list[str]) -> Cron:
    if len(fields) != 6:
        raise ScheduleError(
            f"cron needs 6 fields (minutes hours day-of-month month day-of-week year), "
            f"not {len(fields)}"
        )
    minutes, hours, dom, month, dow, year = fields
    if (dom == "?") == (dow == "?"):
        raise ScheduleError("cron: exactly one of day-of-month and day-of-week must be ?")
    plain = (("minutes", minutes), ("hours", hours), ("month", month), ("year", year))
    for name, value in plain:  # (month names hold L and W: JUL, a bare L is not a value)
        if any(c in value for c in "?#") or (name != "month" and any(c in value for c in "LW")):
            raise ScheduleError(f"cron {name}: {value!r} uses a wildcard only days take")
    months = frozenset(_values(month, 1, 12, "month", _MONTHS))
    years = frozenset(_values(year, 1970, _LAST_YEAR, "year"))
    by_day = _day_of_week(dow) if dom == "?" else _day_of_month(dom)
    return Cron(
        _values(minutes, 0, 59, "minutes"), _values(hours, 0, 23, "hours"), months, years, by_day
    )


def next_fire(
    expression: Expression, after: datetime, *, anchor: datetime, zone: tzinfo = UTC
) -> datetime | None:
    """The first fire time strictly after ``after`` (aware datetimes), or None when there is
    none left (a past ``at``, a cron whose years are over)."""
    if isinstance(expression, Rate):
        elapsed = (after - anchor).total_seconds()
        periods = max(0, int(elapsed // expression.seconds) + 1)
        return anchor + timedelta(seconds=periods * expression.seconds)
    if isinstance(expression, At):
        when = expression.when.replace(tzinfo=zone)
        return when if when > after else None
    day = after.astimezone(zone).date()
    while day.year <= _LAST_YEAR:
        if day.year not in expression.years:  # skip whole years and months that cannot match
            day = date(day.year + 1, 1, 1)
            continue
        if day.month not in expression.months:
            day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
            continue
        if expression.day(day):
            for hour in expression.hours:
                for minute in expression.minutes:
                    candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                    if candidate > after:
                        return candidate.astimezone(UTC)
        day += timedelta(days=1)
    return None
