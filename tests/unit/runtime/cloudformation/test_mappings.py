"""Reading stream mappings (``cloudformation.mappings``): SAM's DynamoDB events and
``AWS::Lambda::EventSourceMapping`` resources, with Lambda's defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hubbub.runtime.cloudformation import AppSpec, TemplateError, load_app
from tests.unit.runtime.cloudformation.builders import ACCOUNT, REGION, fn, stream_event, write

# -- the project's template -----------------------------------------------------------------


def test_the_stream_mapping_keeps_every_retry_setting(app: AppSpec) -> None:
    """The fan-out's DynamoDB event becomes a mapping with the template's batch, bisect, retry,
    age, partial-failure and on-failure settings."""
    (mapping,) = [m for m in app.mappings if m.function == "FanOutFunction"]
    assert mapping.name == "FanOutFunction.Messages"
    assert mapping.table == "ChatTable"
    assert mapping.batch_size == 100
    assert mapping.bisect_on_error is True
    assert mapping.maximum_retry_attempts == 3
    assert mapping.maximum_record_age_s == 3600
    assert mapping.report_batch_item_failures is True
    assert mapping.starting_position == "LATEST"
    assert mapping.maximum_batching_window_s == 0
    assert mapping.enabled is True
    assert mapping.on_failure == f"arn:aws:sqs:{REGION}:{ACCOUNT}:local-FanOutDeadLetterQueue"


# -- small templates ------------------------------------------------------------------------


def _table(stream: bool = True) -> dict[str, Any]:
    props: dict[str, Any] = {"TableName": "t"}
    if stream:
        props["StreamSpecification"] = {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    return {"Type": "AWS::DynamoDB::Table", "Properties": props}


def test_a_stream_event_on_a_table_without_a_stream_is_refused(tmp_path: Path) -> None:
    """A DynamoDB event needs a StreamSpecification on its table."""
    event = {"Type": "DynamoDB", "Properties": {"Stream": {"Fn::GetAtt": ["T", "StreamArn"]}}}
    path = write(tmp_path, {"T": _table(stream=False), "Fn": fn(Events={"E": event})})
    with pytest.raises(TemplateError, match="StreamSpecification"):
        load_app(path)


def test_mapping_defaults_follow_lambdas(tmp_path: Path) -> None:
    """A DynamoDB event with no settings gets Lambda's defaults: 100 records, infinite retries
    and age, no bisect, whole-batch failures."""
    event = {
        "Type": "DynamoDB",
        "Properties": {"Stream": {"Fn::GetAtt": ["T", "StreamArn"]}, "StartingPosition": "LATEST"},
    }
    app = load_app(write(tmp_path, {"T": _table(), "Fn": fn(Events={"E": event})}))
    (mapping,) = app.mappings
    assert (mapping.name, mapping.function, mapping.table) == ("Fn.E", "Fn", "T")
    assert mapping.batch_size == 100
    assert mapping.maximum_retry_attempts == -1
    assert mapping.maximum_record_age_s == -1
    assert mapping.bisect_on_error is False
    assert mapping.report_batch_item_failures is False
    assert mapping.on_failure is None


def test_an_event_source_mapping_resource_is_read_too(tmp_path: Path) -> None:
    """An AWS::Lambda::EventSourceMapping on a table stream becomes a mapping as well."""
    mapping_resource = {
        "Type": "AWS::Lambda::EventSourceMapping",
        "Properties": {
            "FunctionName": {"Ref": "Fn"},
            "EventSourceArn": {"Fn::GetAtt": ["T", "StreamArn"]},
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 7,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    }
    app = load_app(write(tmp_path, {"T": _table(), "Fn": fn(), "Esm": mapping_resource}))
    (mapping,) = app.mappings
    assert (mapping.name, mapping.function, mapping.table) == ("Esm", "Fn", "T")
    assert mapping.batch_size == 7
    assert mapping.starting_position == "TRIM_HORIZON"
    assert mapping.report_batch_item_failures is True


def test_a_parallelization_factor_is_read_and_defaults_to_one(tmp_path: Path) -> None:
    events = {"One": stream_event(), "Three": stream_event(ParallelizationFactor=3)}
    app = load_app(write(tmp_path, {"T": _table(), "Fn": fn(Events=events)}))
    assert {m.name: m.parallelization_factor for m in app.mappings} == {"Fn.One": 1, "Fn.Three": 3}


def test_a_tumbling_window_is_read_and_none_by_default(tmp_path: Path) -> None:
    events = {"Plain": stream_event(), "Windowed": stream_event(TumblingWindowInSeconds=60)}
    app = load_app(write(tmp_path, {"T": _table(), "Fn": fn(Events=events)}))
    assert {m.name: m.tumbling_window_s for m in app.mappings} == {"Fn.Plain": 0, "Fn.Windowed": 60}
    assert app.unsupported == []


@pytest.mark.parametrize(
    ("setting", "value", "bounds"),
    [
        ("ParallelizationFactor", 0, "1-10"),
        ("ParallelizationFactor", 11, "1-10"),
        ("ParallelizationFactor", "many", "1-10"),
        ("TumblingWindowInSeconds", -1, "0-900"),
        ("TumblingWindowInSeconds", 901, "0-900"),
        ("TumblingWindowInSeconds", "long", "0-900"),
        ("BatchSize", 0, "1-10000"),
        ("BatchSize", 10_001, "1-10000"),
        ("MaximumRetryAttempts", -2, "-1-10000"),
        ("MaximumRetryAttempts", 10_001, "-1-10000"),
        ("MaximumBatchingWindowInSeconds", 301, "0-300"),
        ("MaximumBatchingWindowInSeconds", -1, "0-300"),
        ("MaximumRecordAgeInSeconds", 0, r"60-604800, got .* \(or -1\)"),
        ("MaximumRecordAgeInSeconds", 59, r"60-604800, got .* \(or -1\)"),
        ("MaximumRecordAgeInSeconds", 604_801, r"60-604800, got .* \(or -1\)"),
    ],
)
def test_a_setting_outside_lambdas_bounds_is_refused(
    tmp_path: Path, setting: str, value: object, bounds: str
) -> None:
    """Lambda refuses to create such a mapping, so the template does not start."""
    event = stream_event(**{setting: value})
    path = write(tmp_path, {"T": _table(), "Fn": fn(Events={"E": event})})
    with pytest.raises(TemplateError, match=f"{setting} must be {bounds}"):
        load_app(path)


def test_settings_at_lambdas_bounds_are_taken(tmp_path: Path) -> None:
    """*CreateEventSourceMapping*: BatchSize 1-10,000, MaximumRetryAttempts -1-10,000,
    MaximumBatchingWindowInSeconds 0-300, MaximumRecordAgeInSeconds -1 or 60-604,800."""
    low = {"BatchSize": 1, "MaximumRetryAttempts": -1, "MaximumBatchingWindowInSeconds": 0}
    high = {"BatchSize": 10_000, "MaximumRetryAttempts": 10_000}
    events = {
        "Low": stream_event(**low, MaximumRecordAgeInSeconds=60),
        "High": stream_event(
            **high, MaximumBatchingWindowInSeconds=300, MaximumRecordAgeInSeconds=604_800
        ),
        "Forever": stream_event(MaximumRecordAgeInSeconds=-1),
    }
    app = load_app(write(tmp_path, {"T": _table(), "Fn": fn(Events=events)}))
    got = {
        m.name: (
            m.batch_size,
            m.maximum_retry_attempts,
            m.maximum_batching_window_s,
            m.maximum_record_age_s,
        )
        for m in app.mappings
    }
    assert got == {
        "Fn.Low": (1, -1, 0, 60),
        "Fn.High": (10_000, 10_000, 300, 604_800),
        "Fn.Forever": (100, -1, 0, -1),
    }
