"""Lambda's rules for an SQS event source (``sqs.decisions``), row by row.

AWS: *Using Lambda with Amazon SQS* (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html)
for batching (BatchSize, MaximumBatchingWindowInSeconds) and deleting on success; *Handling
errors for an SQS event source in Lambda*
(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html) for
``ReportBatchItemFailures`` (only reported messages stay; an empty or unknown itemIdentifier
fails the whole batch); *Lambda event filtering*
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html) for filtering on
``body`` (JSON body against a JSON pattern, plain against plain; a mismatch drops the message).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from hubbub.runtime.lambda_.pool import InvokeResult
from hubbub.runtime.sqs.decisions import Settlement, keep_gathering, passes_filters, settle


@pytest.mark.parametrize(
    ("have", "batch_size", "elapsed_s", "window_s", "expected"),
    [
        pytest.param(0, 10, 0.0, 5.0, False, id="nothing received: nothing to gather"),
        pytest.param(3, 10, 0.0, 0.0, False, id="no window: invoke with one receive's messages"),
        pytest.param(3, 10, 0.5, 1.0, True, id="short batch, window open: receive again"),
        pytest.param(3, 10, 1.0, 1.0, False, id="window closed"),
        pytest.param(10, 10, 0.1, 5.0, False, id="batch full"),
        pytest.param(10, 100, 0.1, 5.0, True, id="over ten: several receives"),
    ],
)
def test_keep_gathering(
    have: int, batch_size: int, elapsed_s: float, window_s: float, expected: bool
) -> None:
    assert keep_gathering(have, batch_size, elapsed_s, window_s) is expected


def record(body: str, **extra: Any) -> dict[str, Any]:
    return {"messageId": "m1", "body": body, "eventSource": "aws:sqs", **extra}


JOB = json.dumps({"kind": "job", "n": 3})


@pytest.mark.parametrize(
    ("patterns", "body", "expected"),
    [
        pytest.param([], "anything", True, id="no filters: everything"),
        pytest.param([{"body": {"kind": ["job"]}}], JOB, True, id="json body, json pattern"),
        pytest.param([{"body": {"kind": ["other"]}}], JOB, False, id="json body, no match"),
        pytest.param([{"body": {"n": [{"numeric": [">", 2]}]}}], JOB, True, id="numeric in body"),
        pytest.param([{"body": ["plain"]}], "plain", True, id="plain body, plain pattern"),
        pytest.param([{"body": {"kind": ["job"]}}], "plain", False, id="plain body, json pattern"),
        pytest.param([{"body": [JOB]}], JOB, False, id="json body, plain pattern: dropped"),
        pytest.param([{"eventSource": ["aws:sqs"]}], "plain", True, id="metadata only"),
        pytest.param(
            [{"body": {"kind": ["x"]}}, {"body": {"kind": ["job"]}}], JOB, True, id="any filter"
        ),
        pytest.param([{"body": {"kind": ["job"]}}], "[1, 2]", False, id="json array body"),
    ],
)
def test_passes_filters(patterns: list[dict[str, Any]], body: str, expected: bool) -> None:
    assert passes_filters(patterns, record(body)) is expected


def ok(payload: Any = None) -> InvokeResult:
    return InvokeResult("rid", True, payload, 1.0)


def failures(*identifiers: Any) -> InvokeResult:
    return ok({"batchItemFailures": [{"itemIdentifier": i} for i in identifiers]})


SENT = ["a", "b", "c"]


@pytest.mark.parametrize(
    ("report", "result", "expected"),
    [
        pytest.param(False, ok(), Settlement(("a", "b", "c"), ()), id="success deletes all"),
        pytest.param(
            False,
            InvokeResult("rid", False, {"errorType": "Boom"}, 1.0),
            Settlement((), ("a", "b", "c")),
            id="function error keeps all",
        ),
        pytest.param(
            False, failures("b"), Settlement(("a", "b", "c"), ()), id="failures unread unless on"
        ),
        pytest.param(True, ok({}), Settlement(("a", "b", "c"), ()), id="no batchItemFailures"),
        pytest.param(True, failures(), Settlement(("a", "b", "c"), ()), id="empty list"),
        pytest.param(True, failures("b"), Settlement(("a", "c"), ("b",)), id="only b stays"),
        pytest.param(True, failures("c", "a"), Settlement(("b",), ("a", "c")), id="several stay"),
        pytest.param(
            True,
            failures("zzz"),
            Settlement((), ("a", "b", "c"), "malformed itemIdentifier 'zzz'"),
            id="unknown id fails the batch",
        ),
        pytest.param(
            True,
            failures(""),
            Settlement((), ("a", "b", "c"), "malformed itemIdentifier ''"),
            id="empty id fails the batch",
        ),
        pytest.param(
            True,
            failures(None),
            Settlement((), ("a", "b", "c"), "malformed itemIdentifier None"),
            id="null id fails the batch",
        ),
        pytest.param(
            True,
            ok({"batchItemFailures": "b"}),
            Settlement((), ("a", "b", "c"), "batchItemFailures is not a list: 'b'"),
            id="not a list",
        ),
    ],
)
def test_settle(report: bool, result: InvokeResult, expected: Settlement) -> None:
    assert settle(report, SENT, result) == expected
