"""What an SQS event source mapping does with the messages it received, by Lambda's rules.

Kept apart from the poller (``sqs/poller.py``) so each rule reads, and is tested, as a table:

* batching: Lambda keeps receiving until it holds ``BatchSize`` messages or
  ``MaximumBatchingWindowInSeconds`` has passed since the first (no window: it invokes with what
  one receive returned);
* filtering: a message no filter matches is deleted unseen; a JSON ``body`` is matched as JSON,
  a plain one as a string, and a pattern of the other kind drops the message;
* the invocation's outcome: success deletes every message; a function error deletes none, so
  all come back once the queue's visibility timeout expires (and, past the RedrivePolicy's
  ``maxReceiveCount``, go to its dead-letter queue); with ``ReportBatchItemFailures`` only the
  messages named in ``batchItemFailures`` stay, and a response that names something not in the
  batch (or an empty or missing ``itemIdentifier``) fails the whole batch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hubbub.runtime.dynamodb.filters import matches
from hubbub.runtime.lambda_.pool import InvokeResult

__all__ = ["Settlement", "filter_view", "keep_gathering", "passes_filters", "settle"]


def keep_gathering(have: int, batch_size: int, elapsed_s: float, window_s: float) -> bool:
    """Receive again before invoking? Only while the batch is short and the window open."""
    return 0 < have < batch_size and window_s > 0 and elapsed_s < window_s


def filter_view(record: Mapping[str, Any], pattern: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The record as a pattern sees it: ``body`` parsed when it is a JSON object or array and
    the pattern's ``body`` is a sub-pattern; None when their kinds differ (the message is then
    dropped, as on AWS)."""
    if "body" not in pattern:
        return record
    body = record.get("body", "")
    try:
        parsed = json.loads(body)
    except (TypeError, ValueError):
        parsed = None
    body_is_json = isinstance(parsed, dict | list)
    pattern_is_json = isinstance(pattern["body"], Mapping)
    if body_is_json != pattern_is_json:
        return None
    return {**record, "body": parsed} if body_is_json else record


def passes_filters(patterns: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """True when there are no filters or one of them matches the record."""
    if not patterns:
        return True
    for pattern in patterns:
        view = filter_view(record, pattern)
        if view is not None and matches(pattern, view):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Settlement:
    """``delete``: the message ids done with; ``keep``: those left to come back after the
    visibility timeout; ``malformed``: why the response failed the whole batch, if it did."""

    delete: tuple[str, ...]
    keep: tuple[str, ...]
    malformed: str | None = None


def settle(report_failures: bool, sent: Sequence[str], result: InvokeResult) -> Settlement:
    """The messages ``sent`` (by messageId) after the invocation ended in ``result``."""
    everything = tuple(sent)
    if not result.ok:
        return Settlement((), everything)
    payload = result.payload
    if not report_failures or not isinstance(payload, dict):
        return Settlement(everything, ())
    failures = payload.get("batchItemFailures")
    if not failures:
        return Settlement(everything, ())
    if not isinstance(failures, list):
        return Settlement((), everything, f"batchItemFailures is not a list: {failures!r}")
    failed: set[str] = set()
    for failure in failures:
        ident = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(ident, str) or ident not in everything:
            return Settlement((), everything, f"malformed itemIdentifier {ident!r}")
        failed.add(ident)
    return Settlement(
        tuple(m for m in everything if m not in failed),
        tuple(m for m in everything if m in failed),
    )
