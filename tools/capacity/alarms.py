"""Which of the template's functions would fail unseen: every function needs an ``Errors`` and a
``Throttles`` alarm (an unhandled error or a throttle is otherwise visible only to someone reading
its metrics), created under the function's own ``Condition`` so the stack deploys with the
optional features off (an alarm naming a function that was not created fails the deployment).

The check reads the untransformed SAM template, as ``permissions`` does; ``tests/unit`` runs it
on template.yaml, so a function added without its alarms fails a test.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["FUNCTION_TYPES", "REQUIRED_METRICS", "alarm_problems", "functions_of"]

FUNCTION_TYPES = frozenset({"AWS::Serverless::Function", "AWS::Lambda::Function"})
REQUIRED_METRICS = ("Errors", "Throttles")
"""The AWS/Lambda metrics every function is watched on."""


def functions_of(resources: Mapping[str, Any]) -> list[str]:
    """The logical ids of the template's functions, in template order."""
    return [name for name, res in resources.items() if res.get("Type") in FUNCTION_TYPES]


def _watched(alarm: Mapping[str, Any]) -> tuple[str, str] | None:
    """(function, metric) an alarm watches, when it watches one AWS/Lambda metric of a function
    named by ``!Ref`` (the shape of the template's function alarms)."""
    props = alarm.get("Properties", {})
    if props.get("Namespace") != "AWS/Lambda":
        return None
    for dimension in props.get("Dimensions", []):
        value = dimension.get("Value")
        if dimension.get("Name") == "FunctionName" and isinstance(value, dict) and "Ref" in value:
            return str(value["Ref"]), str(props.get("MetricName"))
    return None


def alarm_problems(resources: Mapping[str, Any]) -> list[str]:
    """What is wrong with the function alarms of a template's ``Resources``: one sentence per
    problem, empty when every function has each required alarm under its own condition."""
    alarms: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for res in resources.values():
        if res.get("Type") == "AWS::CloudWatch::Alarm" and (watched := _watched(res)):
            alarms.setdefault(watched, []).append(res)
    problems = []
    for function in functions_of(resources):
        condition = resources[function].get("Condition")
        for metric in REQUIRED_METRICS:
            found = alarms.get((function, metric), [])
            if not found:
                problems.append(f"{function} has no {metric} alarm")
            elif not any(alarm.get("Condition") == condition for alarm in found):
                problems.append(
                    f"{function}'s {metric} alarm is not under its condition ({condition})"
                )
            elif not all(alarm.get("Properties", {}).get("AlarmActions") for alarm in found):
                problems.append(f"{function}'s {metric} alarm notifies nobody (no AlarmActions)")
    return problems
