"""The SAM artefact check catches a packaged test dependency, a handler that cannot import, and
modules shipped without the bytecode a read-only task root cannot write."""

from __future__ import annotations

import compileall
import py_compile
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


def compiled(
    build: Path,
    mode: py_compile.PycInvalidationMode = py_compile.PycInvalidationMode.UNCHECKED_HASH,
) -> Path:
    """The artefact as docs/deploy.md has it compiled after ``sam build``."""
    assert compileall.compile_dir(build, quiet=1, invalidation_mode=mode)
    return build


HANDLER = "def handler(event, context):\n    return event\n"


def test_a_clean_artefact_passes(tmp_path: Path) -> None:
    build = compiled(built(tmp_path, HANDLER))
    assert check(build, sys.executable) == []


def test_a_packaged_test_dependency_is_reported(tmp_path: Path) -> None:
    build = compiled(built(tmp_path, HANDLER, ("pytest",)))
    assert check(build, sys.executable) == ["Fn: packages pytest"]


def test_modules_without_bytecode_are_reported_and_the_check_writes_none(tmp_path: Path) -> None:
    build = built(tmp_path, HANDLER)
    problems = check(build, sys.executable)
    tag = sys.implementation.cache_tag
    assert problems == [
        f"Fn: 2 modules without {tag} bytecode, e.g. app/__init__.py"
        " (python3.12 -m compileall -q -j 0 --invalidation-mode unchecked-hash BUILD_DIR)"
    ]
    assert list(build.rglob("*.pyc")) == []  # the import check did not compile them itself


def test_bytecode_checked_against_a_timestamp_is_reported(tmp_path: Path) -> None:
    """``sam deploy`` dates every zipped file 1980: a timestamp-checked ``.pyc`` goes stale."""
    build = compiled(built(tmp_path, HANDLER), py_compile.PycInvalidationMode.TIMESTAMP)
    (problem,) = check(build, sys.executable)
    assert problem.startswith("Fn: 2 modules' bytecode is checked against its source")


def test_a_handler_importing_what_is_not_packaged_is_reported(tmp_path: Path) -> None:
    build = compiled(
        built(tmp_path, "import yaml\n\ndef handler(event, context):\n    return event\n")
    )
    problems = check(build, sys.executable)
    assert len(problems) == 1
    assert "does not import" in problems[0] and "yaml" in problems[0]
