"""The SAM artefact check catches a packaged test dependency and a handler that cannot import."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from tools.sam.check_artifact import check


def built(tmp_path: Path, handler_source: str, extra_dirs: tuple[str, ...] = ()) -> Path:
    build = tmp_path / "build"
    code = build / "Fn"
    (code / "app").mkdir(parents=True)
    (code / "app" / "__init__.py").write_text("")
    (code / "app" / "main.py").write_text(handler_source)
    for name in extra_dirs:
        (code / name).mkdir()
    template = {
        "Resources": {
            "Fn": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"CodeUri": "Fn", "Handler": "app.main.handler"},
            }
        }
    }
    (build / "template.yaml").write_text(yaml.safe_dump(template))
    return build


def test_a_clean_artefact_passes(tmp_path: Path) -> None:
    build = built(tmp_path, "def handler(event, context):\n    return event\n")
    assert check(build, sys.executable) == []


def test_a_packaged_test_dependency_is_reported(tmp_path: Path) -> None:
    build = built(tmp_path, "def handler(event, context):\n    return event\n", ("pytest",))
    assert check(build, sys.executable) == ["Fn: packages pytest"]


def test_a_handler_importing_what_is_not_packaged_is_reported(tmp_path: Path) -> None:
    build = built(tmp_path, "import yaml\n\ndef handler(event, context):\n    return event\n")
    problems = check(build, sys.executable)
    assert len(problems) == 1
    assert "does not import" in problems[0] and "yaml" in problems[0]
