"""The runtime's metrics, served at ``/metrics`` in Prometheus text format.

Two sources feed one registry: the runtime's own counters (connections, invocations, errors, cold
starts, deliveries, 410s, durations), and the Embedded Metric Format lines the functions print
through Powertools Metrics, read from their logs the way CloudWatch extracts them on AWS. So the
handlers' own metrics need no second code path to show up locally.
"""

from __future__ import annotations

import json
import re
import threading
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = ["Registry"]

_BUCKETS_MS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)
_NAME = re.compile(r"[^a-zA-Z0-9_]")
Labels = tuple[tuple[str, str], ...]


@lru_cache(maxsize=1024)  # per EMF metric of every invocation; an app has a few dozen names
def _metric_name(raw: str) -> str:
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", raw).lower()
    return _NAME.sub("_", snake)


def _labels(labels: Mapping[str, str] | None) -> Labels:
    return tuple(sorted((labels or {}).items()))


def _render_labels(labels: Labels, extra: Iterable[tuple[str, str]] = ()) -> str:
    pairs = [*labels, *extra]
    if not pairs:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in pairs)
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class _Histogram:
    counts: list[int] = field(default_factory=lambda: [0] * (len(_BUCKETS_MS) + 1))
    total: float = 0.0
    n: int = 0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(_BUCKETS_MS, value)] += 1
        self.total += value
        self.n += 1


class Registry:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[str, dict[Labels, float]] = {}
        self._gauges: dict[str, dict[Labels, float]] = {}
        self._histograms: dict[str, dict[Labels, _Histogram]] = {}
        self._help: dict[str, str] = {}

    def inc(
        self, name: str, value: float = 1.0, labels: Mapping[str, str] | None = None, help: str = ""
    ) -> None:
        with self._lock:
            series = self._counters.setdefault(name, {})
            key = _labels(labels)
            series[key] = series.get(key, 0.0) + value
            self._help.setdefault(name, help)

    def set(
        self, name: str, value: float, labels: Mapping[str, str] | None = None, help: str = ""
    ) -> None:
        with self._lock:
            self._gauges.setdefault(name, {})[_labels(labels)] = value
            self._help.setdefault(name, help)

    def observe_ms(
        self, name: str, value: float, labels: Mapping[str, str] | None = None, help: str = ""
    ) -> None:
        with self._lock:
            series = self._histograms.setdefault(name, {})
            series.setdefault(_labels(labels), _Histogram()).observe(value)
            self._help.setdefault(name, help)

    def observe_emf(self, line: str, function: str) -> bool:
        """Feed one log line; True when it was an EMF document (and was counted)."""
        if not line.startswith("{") or '"_aws"' not in line:
            return False
        try:
            doc: dict[str, Any] = json.loads(line)
            directives = doc["_aws"]["CloudWatchMetrics"]
        except (ValueError, KeyError, TypeError):
            return False
        for directive in directives:
            namespace = _metric_name(str(directive.get("Namespace", "app")))
            dimension_sets = directive.get("Dimensions") or [[]]
            dims = {str(d): str(doc.get(d, "")) for d in dimension_sets[0]}
            dims["function"] = function
            for metric in directive.get("Metrics", []):
                name = str(metric.get("Name"))
                raw = doc.get(name)
                values = raw if isinstance(raw, list) else [raw]
                unit = str(metric.get("Unit", "Count"))
                full = f"{namespace}_{_metric_name(name)}"
                for value in values:
                    if not isinstance(value, int | float):
                        continue
                    if unit == "Milliseconds":
                        self.observe_ms(f"{full}_ms", float(value), dims, f"{name} (EMF)")
                    else:
                        self.inc(f"{full}_total", float(value), dims, f"{name} (EMF, {unit})")
        return True

    def render(self) -> str:
        lines: list[str] = []
        with self._lock:
            for name, series in sorted(self._counters.items()):
                lines += self._head(name, "counter")
                lines += [f"{name}{_render_labels(k)} {v:g}" for k, v in sorted(series.items())]
            for name, series in sorted(self._gauges.items()):
                lines += self._head(name, "gauge")
                lines += [f"{name}{_render_labels(k)} {v:g}" for k, v in sorted(series.items())]
            for name, hists in sorted(self._histograms.items()):
                lines += self._head(name, "histogram")
                for key, hist in sorted(hists.items()):
                    running = 0
                    for bound, count in zip((*_BUCKETS_MS, "+Inf"), hist.counts, strict=True):
                        running += count
                        le = (("le", str(bound)),)
                        lines.append(f"{name}_bucket{_render_labels(key, le)} {running}")
                    lines.append(f"{name}_sum{_render_labels(key)} {hist.total:g}")
                    lines.append(f"{name}_count{_render_labels(key)} {hist.n}")
        return "\n".join(lines) + "\n"

    def _head(self, name: str, kind: str) -> list[str]:
        text = self._help.get(name) or name
        return [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
