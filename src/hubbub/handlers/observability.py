"""One Powertools Logger and one Metrics object for every handler of an execution environment.

Both are cheap to construct (no I/O), so they are module-level as Powertools intends. Logs are JSON
with the request id, connection id and route; metrics are CloudWatch EMF lines, which the local
runtime also reads to serve ``/metrics``.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

__all__ = ["MetricUnit", "logger", "metrics"]

logger = Logger(service="hubbub")
metrics = Metrics(namespace="hubbub", service="hubbub")
