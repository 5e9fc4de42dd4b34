"""The web client's ES modules hold together without a build step: every relative import names
a file that exists and names it exports, no module grows past 600 lines, and widget.js stays a
classic script (host pages load it alone, with only its URL in their script-src)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hubbub.web.site import STATIC_DIR

pytestmark = pytest.mark.browser

MODULES = sorted(p for p in STATIC_DIR.rglob("*.js") if p.name != "widget.js")
IMPORT = re.compile(r"^import\s*\{([^}]*)\}\s*from\s*\"([^\"]+)\";", re.MULTILINE)
EXPORTED = re.compile(
    r"^export\s+(?:async\s+)?(?:function\*?|class|const|let)\s+([A-Za-z_$][\w$]*)", re.MULTILINE
)
REEXPORT = re.compile(r"^export\s*\{([^}]*)\};", re.MULTILINE)


def names(clause: str) -> set[str]:
    """`a, b as c` -> {a, b}: the names as the exporting module spells them."""
    return {part.split(" as ")[0].strip() for part in clause.split(",") if part.strip()}


def exports(module: Path) -> set[str]:
    source = module.read_text()
    found = set(EXPORTED.findall(source))
    for clause in REEXPORT.findall(source):
        found |= names(clause)
    return found


@pytest.mark.parametrize("module", MODULES, ids=lambda p: p.relative_to(STATIC_DIR).as_posix())
def test_each_import_names_a_module_and_what_it_exports(module: Path) -> None:
    source = module.read_text()
    imports = IMPORT.findall(source)
    assert len(imports) == len(re.findall(r"^import\b", source, re.MULTILINE))  # all understood
    for clause, spec in imports:
        assert spec.startswith(("./", "../")), spec
        target = (module.parent / spec).resolve()
        assert target.is_relative_to(STATIC_DIR) and target.is_file(), spec
        assert names(clause) <= exports(target), (spec, names(clause) - exports(target))


def test_the_client_library_keeps_its_public_api() -> None:
    public = {"HubbubClient", "HubbubError", "ConnectionLost", "STATES", "isWildcard", "newId"}
    assert exports(STATIC_DIR / "hubbub.js") == public


@pytest.mark.parametrize("script", sorted(STATIC_DIR.rglob("*.js")), ids=lambda p: p.name)
def test_no_script_is_over_600_lines(script: Path) -> None:
    assert len(script.read_text().splitlines()) <= 600


def test_the_widget_loader_is_one_classic_script() -> None:
    source = (STATIC_DIR / "widget.js").read_text()
    assert not re.search(r"^\s*(import|export)\b", source, re.MULTILINE)
    assert "import(" not in source
