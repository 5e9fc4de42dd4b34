"""Every function of template.yaml is watched (``tools.capacity.alarms``) and has its
permissions checked (``tools.capacity.permissions``): a function added to the template without
its alarms, or left out of the least-privilege check, fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hubbub.runtime.cloudformation.yamltags import load_template
from tools.capacity.alarms import alarm_problems, functions_of
from tools.capacity.permissions import FUNCTIONS

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
NOTIFY = {"Fn::If": ["NotifyAlarms", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"}]}


def _function(condition: str | None = None) -> dict[str, Any]:
    res: dict[str, Any] = {"Type": "AWS::Serverless::Function", "Properties": {}}
    if condition:
        res["Condition"] = condition
    return res


def _alarm(
    function: str,
    metric: str,
    condition: str | None = None,
    *,
    namespace: str = "AWS/Lambda",
    actions: Any = NOTIFY,
) -> dict[str, Any]:
    props: dict[str, Any] = {
        "Namespace": namespace,
        "MetricName": metric,
        "Dimensions": [{"Name": "FunctionName", "Value": {"Ref": function}}],
    }
    if actions is not None:
        props["AlarmActions"] = actions
    res: dict[str, Any] = {"Type": "AWS::CloudWatch::Alarm", "Properties": props}
    if condition:
        res["Condition"] = condition
    return res


def _watched(condition: str | None = None) -> dict[str, Any]:
    return {
        "F": _function(condition),
        "FErrors": _alarm("F", "Errors", condition),
        "FThrottles": _alarm("F", "Throttles", condition),
    }


CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("both alarms", _watched(), []),
    ("both alarms, conditional", _watched("Opt"), []),
    ("no alarms", {"F": _function()}, ["F has no Errors alarm", "F has no Throttles alarm"]),
    (
        "no throttles",
        {**_watched(), "FThrottles": _alarm("G", "Throttles")},
        ["F has no Throttles alarm"],
    ),
    (
        "another namespace",
        {**_watched(), "FErrors": _alarm("F", "Errors", namespace="AWS/SQS")},
        ["F has no Errors alarm"],
    ),
    (
        "alarm without the function's condition",
        {**_watched("Opt"), "FErrors": _alarm("F", "Errors")},
        ["F's Errors alarm is not under its condition (Opt)"],
    ),
    (
        "alarm notifying nobody",
        {**_watched(), "FThrottles": _alarm("F", "Throttles", actions=None)},
        ["F's Throttles alarm notifies nobody (no AlarmActions)"],
    ),
    ("no functions", {"Q": {"Type": "AWS::SQS::Queue"}}, []),
]


@pytest.mark.parametrize(
    ("resources", "problems"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_alarm_problems(resources: dict[str, Any], problems: list[str]) -> None:
    assert alarm_problems(resources) == problems


def test_every_function_of_the_template_has_its_alarms() -> None:
    """template.yaml itself: each function (the optional MQTT, mail and chunked fan-out ones
    too) has an Errors and a Throttles alarm under its own condition."""
    resources = load_template(TEMPLATE)["Resources"]
    assert len(functions_of(resources)) >= 11
    assert alarm_problems(resources) == []


def test_the_permission_check_covers_every_function_of_the_template() -> None:
    """``permissions.FUNCTIONS`` (what the least-privilege test runs) names every function of the
    template, so a new function cannot skip the check."""
    assert sorted(FUNCTIONS) == sorted(functions_of(load_template(TEMPLATE)["Resources"]))
