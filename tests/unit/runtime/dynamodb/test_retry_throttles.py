"""A throttled stream batch (``dynamodb.retry``): retried, with no attempt counted.

AWS: Lambda developer guide, *How Lambda processes records from DynamoDB Streams* / event source
mapping error handling: when the function is throttled, or Lambda returns an error without
invoking it, Lambda retries until the records expire; only function errors count against
``MaximumRetryAttempts``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from hubbub.runtime.dynamodb.retry import (
    Attempts,
    Bisect,
    GiveUp,
    Retry,
    Throttled,
    next_step,
    outcome_of,
)
from hubbub.runtime.lambda_.pool import THROTTLED, InvokeResult


@dataclass(frozen=True)
class Settings:
    bisect_on_error: bool = False
    maximum_retry_attempts: int = -1
    maximum_record_age_s: int = -1
    report_batch_item_failures: bool = False


def test_a_throttled_invocation_is_its_own_outcome() -> None:
    result = InvokeResult("r", False, dict(THROTTLED), 0.0, throttled=True)
    assert outcome_of(Settings(), [1, 2], result) == Throttled()


@pytest.mark.parametrize(
    ("settings", "attempts"),
    [
        (Settings(), Attempts()),
        (Settings(maximum_retry_attempts=0), Attempts()),  # a failure would give up at once
        (Settings(maximum_retry_attempts=2), Attempts(1, 2)),  # a failure would exhaust them
        (Settings(bisect_on_error=True), Attempts()),  # a failure would bisect
    ],
)
def test_a_throttled_batch_is_retried_whole_without_counting_an_attempt(
    settings: Settings, attempts: Attempts
) -> None:
    decision = next_step(settings, [1, 2, 3], 3, Throttled(), attempts)
    assert decision == Retry(attempts)
    assert not isinstance(decision, Bisect | GiveUp)
