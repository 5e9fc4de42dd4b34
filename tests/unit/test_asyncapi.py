"""docs/asyncapi.yaml stays in step with the protocol code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hubbub.protocol.actions import ACTIONS
from hubbub.protocol.errors import ErrorCode

DOC: dict[str, Any] = yaml.safe_load(
    (Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml").read_text()
)


def test_every_client_action_is_documented_and_nothing_else() -> None:
    messages = DOC["components"]["messages"]
    documented = {
        m["payload"]["properties"]["action"]["const"]
        for m in messages.values()
        if "const" in m.get("payload", {}).get("properties", {}).get("action", {})
    }
    assert documented == set(ACTIONS)


def test_every_error_code_is_documented() -> None:
    error = DOC["components"]["messages"]["Error"]["payload"]["properties"]["code"]["enum"]
    assert set(error) == {code.value for code in ErrorCode}
