"""What a stream mapping sends to its on-failure destination when it gives records up.

On AWS the SQS queue or SNS topic of ``DestinationConfig.OnFailure`` receives an *invocation
record*: metadata about the failed invocation and the stream positions of the discarded batch
(``DDBStreamBatchInfo``), never the records themselves, which a consumer reads back from the
stream while it still holds them. This module builds that document from what the poller knows;
the poller sends it, and keeps the records themselves in the runtime's own dead-letter table
(``checkpoints.py``), from which ``/_runtime/dead-letters/{id}/replay`` re-delivers them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hubbub.runtime.awsids import SHARD_ID, iso_seconds
from hubbub.runtime.dynamodb.retry import TOO_OLD

__all__ = ["FailedInvocation", "condition_for", "invocation_record"]

RETRY_ATTEMPTS_EXHAUSTED = "RetryAttemptsExhausted"
RECORD_AGE_EXCEEDED = "RecordAgeExceeded"


@dataclass(frozen=True, slots=True)
class FailedInvocation:
    """The last invocation of the records given up (None when they were never sent: too old)."""

    request_id: str
    invoke_count: int
    function_error: str | None
    """``Unhandled`` for an error the function raised; None when it returned failures."""


def condition_for(reason: str) -> str:
    return RECORD_AGE_EXCEEDED if reason == TOO_OLD else RETRY_ATTEMPTS_EXHAUSTED


def _iso_millis(epoch_ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms // 1000)) + (
        f".{epoch_ms % 1000:03d}Z"
    )


def invocation_record(
    *,
    records: Sequence[Mapping[str, Any]],
    reason: str,
    function_arn: str,
    stream_arn: str,
    invocation: FailedInvocation | None,
    now_ms: int,
    request_id: str,
) -> dict[str, Any]:
    """The document AWS sends for the DynamoDB Streams ``records`` given up (in stream order).

    ``request_id`` names the invocation when ``invocation`` is None (records too old to send).
    """
    first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
    request_context: dict[str, Any] = {
        "requestId": invocation.request_id if invocation else request_id,
        "functionArn": function_arn,
        "condition": condition_for(reason),
        "approximateInvokeCount": invocation.invoke_count if invocation else 0,
    }
    response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
    if invocation is not None and invocation.function_error is not None:
        response_context["functionError"] = invocation.function_error
    return {
        "requestContext": request_context,
        "responseContext": response_context,
        "version": "1.0",
        "timestamp": _iso_millis(now_ms),
        "DDBStreamBatchInfo": {
            "shardId": SHARD_ID,
            "startSequenceNumber": str(first["SequenceNumber"]),
            "endSequenceNumber": str(last["SequenceNumber"]),
            "approximateArrivalOfFirstRecord": iso_seconds(
                int(first["ApproximateCreationDateTime"])
            ),
            "approximateArrivalOfLastRecord": iso_seconds(int(last["ApproximateCreationDateTime"])),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }
