"""Shared pytest configuration: one timeout factor for every wait in the suite."""

from __future__ import annotations

import os

# Slow machines (CI under load) may scale every deadline in the suite by one factor.
TIMEOUT_FACTOR = float(os.environ.get("HUBBUB_TEST_TIMEOUT_FACTOR", "1"))
