"""Shared pytest configuration: one timeout factor for every wait in the suite."""

from __future__ import annotations

import os

import pytest

# Slow machines (CI under load) may scale every deadline in the suite by one factor.
TIMEOUT_FACTOR = float(os.environ.get("HUBBUB_TEST_TIMEOUT_FACTOR", "1"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main thread
    for the rest of the session, which the asyncio tests cannot share."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)
