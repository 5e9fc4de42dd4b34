"""The project's template, read once per test module: as the runtime reads it and as raw YAML."""

from __future__ import annotations

from typing import Any

import pytest

from hubbub.runtime.cloudformation import AppSpec, load_app
from hubbub.runtime.cloudformation.yamltags import load_template
from tests.unit.runtime.cloudformation.builders import TEMPLATE


@pytest.fixture(scope="module")
def app() -> AppSpec:
    return load_app(TEMPLATE)


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return load_template(TEMPLATE)
