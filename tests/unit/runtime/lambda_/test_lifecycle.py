"""At which level the runtime logs an invocation's START/END/REPORT, and the REPORT line itself."""

from __future__ import annotations

import logging

import pytest

from hubbub.runtime.lambda_.lifecycle import end_level, report_line, start_level


@pytest.mark.parametrize(("cold", "level"), [(True, logging.INFO), (False, logging.DEBUG)])
def test_start(cold: bool, level: int) -> None:
    assert start_level(cold=cold) == level


@pytest.mark.parametrize(
    ("cold", "ok", "level"),
    [
        (True, True, logging.INFO),  # a cold start: its Init Duration is what operators read
        (True, False, logging.INFO),
        (False, False, logging.INFO),  # a failure
        (False, True, logging.DEBUG),  # the common case: a warm invocation that went well
    ],
)
def test_end_and_report(cold: bool, ok: bool, level: int) -> None:
    assert end_level(cold=cold, ok=ok) == level


@pytest.mark.parametrize(
    ("kwargs", "line"),
    [
        (
            {"duration_ms": 0.2, "max_rss_mb": 30, "init_ms": None, "ok": True, "payload": 1},
            "REPORT RequestId: r\tDuration: 0.20 ms\tBilled Duration: 1 ms\t"
            "Memory Size: 256 MB\tMax Memory Used: 30 MB",
        ),
        (
            {"duration_ms": 12.345, "max_rss_mb": None, "init_ms": 99.5, "ok": True, "payload": 1},
            "REPORT RequestId: r\tDuration: 12.35 ms\tBilled Duration: 13 ms\t"
            "Memory Size: 256 MB\tMax Memory Used: 0 MB\tInit Duration: 99.50 ms",
        ),
        (
            {
                "duration_ms": 3.0,
                "max_rss_mb": 40,
                "init_ms": None,
                "ok": False,
                "payload": {"errorType": "ValueError"},
            },
            "REPORT RequestId: r\tDuration: 3.00 ms\tBilled Duration: 3 ms\t"
            "Memory Size: 256 MB\tMax Memory Used: 40 MB\tStatus: error\tErrorType: ValueError",
        ),
    ],
)
def test_report_line(kwargs: dict[str, object], line: str) -> None:
    assert report_line("r", memory_mb=256, **kwargs) == line  # type: ignore[arg-type]
