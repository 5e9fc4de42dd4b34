"""hubbub's own template in the built package (setup.py's build step) and how the CLI finds it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from hubbub import cli
from hubbub.runtime.config import RuntimeConfig
from hubbub.runtime.server import LocalRuntime

REPO = Path(__file__).resolve().parents[2]


def _setup_module() -> ModuleType:
    """setup.py, imported (not run: it calls setup() only as __main__)."""
    spec = importlib.util.spec_from_file_location("hubbub_setup", REPO / "setup.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _spec(template: Path, tmp_path: Path) -> Any:
    """The template as ``hubbub serve`` reads it (nothing is started)."""
    return LocalRuntime(RuntimeConfig(template=template, data_dir=tmp_path / "data")).spec


def test_the_packaged_template_runs_the_installed_package(tmp_path: Path) -> None:
    """Beside hubbub/__init__.py in site-packages, the functions' code is site-packages."""
    site = tmp_path / "site-packages"
    (site / "hubbub").mkdir(parents=True)
    packaged = site / "hubbub" / "template.yaml"
    packaged.write_text(_setup_module().packaged_template((REPO / "template.yaml").read_text()))

    app = _spec(packaged, tmp_path)

    assert app.functions
    assert {fn.code_dir for fn in app.functions.values()} == {site}
    checkout = _spec(REPO / "template.yaml", tmp_path)
    assert set(app.functions) == set(checkout.functions)
    assert {fn.code_dir for fn in checkout.functions.values()} == {REPO / "src"}


@pytest.mark.parametrize(
    "text",
    [
        "Globals:\n  Function:\n    Runtime: python3.12\n",
        "Globals:\n  Function:\n    CodeUri: src/\nResources:\n  F:\n    CodeUri: src/\n",
    ],
    ids=["no CodeUri", "two CodeUris"],
)
def test_a_template_the_build_cannot_relocate_fails_the_build(text: str) -> None:
    with pytest.raises(ValueError, match="CodeUri"):
        _setup_module().packaged_template(text)


def test_a_template_in_the_working_directory_comes_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "template.yaml").write_text("Resources: {}\n")
    monkeypatch.chdir(tmp_path)
    assert cli.default_template() == tmp_path / "template.yaml"


def test_a_checkout_falls_back_to_the_root_template(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An editable install carries no copy: the one template is the repository's root one."""
    monkeypatch.chdir(tmp_path)
    assert not (REPO / "src" / "hubbub" / "template.yaml").exists()
    assert cli.default_template() == REPO / "template.yaml"
