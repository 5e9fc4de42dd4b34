"""Which failed publishes are tried again, and after how long: the AWS SDKs' *standard* retry
mode (the one the ``iot-data`` client was configured with), at two attempts.

Standard mode retries transient errors (HTTP 500, 502, 503, 504; ``RequestTimeout``,
``RequestTimeoutException``, ``PriorRequestNotComplete``; a connection that failed or timed
out) and throttling errors, after a full-jitter exponential backoff of base 2 capped at 20 s.
Anything else (a bad request, a refused signature, a payload over 128 KB) fails at once.
"""

from __future__ import annotations

__all__ = ["MAX_ATTEMPTS", "backoff_s", "retryable"]

MAX_ATTEMPTS = 2
"""The first try and one retry, as the client was configured (``max_attempts=2``)."""

_TRANSIENT_STATUS = frozenset({500, 502, 503, 504})
_TRANSIENT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete"}
)
_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "EC2ThrottledException",
    }
)
_MAX_BACKOFF_S = 20.0


def retryable(status: int, error_type: str) -> bool:
    """Whether a failed attempt is worth another: ``status`` 0 is no answer at all (the
    connection failed, timed out or dropped), else the answer's status and error code."""
    return (
        status == 0
        or status in _TRANSIENT_STATUS
        or error_type in _TRANSIENT_CODES
        or error_type in _THROTTLING_CODES
    )


def backoff_s(attempt: int, jitter: float) -> float:
    """The wait after failed attempt ``attempt`` (1-based), ``jitter`` drawn from [0, 1)."""
    return min(jitter * 2.0 ** (attempt - 1), _MAX_BACKOFF_S)
