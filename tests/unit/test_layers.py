"""The layer rules of docs/architecture.md, read off every module's imports.

Arrows point one way: handlers -> chat -> ports <- adapters. The runtime loads handlers the way
Lambda does, from the template's ``Handler`` strings, so importing chat code would let a handler
behave differently locally than on AWS. protocol/ and chat/ stay pure so that they run unchanged
behind either edge and in unit tests without a network or a database.

Imports inside functions count too (lazy imports are still dependencies).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "hubbub"

IO_LIBRARIES = ("boto3", "botocore", "sqlite3", "aiohttp", "websockets", "moto")
ADAPTERS = (
    "hubbub.store.sqlite",
    "hubbub.store.dynamodb",
    "hubbub.push.aws",
    "hubbub.push.local",
    "hubbub.push.iot",
    "hubbub.files.s3",
    "hubbub.mail.ses",
)

# (package, prefixes its modules must not import, why)
RULES = [
    (
        "runtime",
        (
            "hubbub.chat",
            "hubbub.handlers",
            "hubbub.store",
            "hubbub.push",
            "hubbub.protocol",
            "hubbub.files",
        ),
        "the runtime runs any SAM app; it reaches hubbub's handlers only through the template",
    ),
    (
        "protocol",
        (*IO_LIBRARIES, "hubbub.chat", "hubbub.handlers", "hubbub.store", "hubbub.push"),
        "the wire format is data: no I/O and no knowledge of who serves it",
    ),
    (
        "chat",
        (*IO_LIBRARIES, *ADAPTERS, "hubbub.handlers", "hubbub.runtime"),
        "the domain talks to ports only; adapters are wired in by handlers/bootstrap.py",
    ),
    (
        "handlers",
        ("hubbub.runtime",),
        "handlers run on AWS, where there is no runtime: nothing local may leak into them",
    ),
    (
        "store",
        ("hubbub.chat", "hubbub.handlers", "hubbub.runtime", "hubbub.push"),
        "adapters implement ports; they never call back up into the domain",
    ),
    (
        "push",
        ("hubbub.chat", "hubbub.handlers", "hubbub.runtime", "hubbub.store"),
        "adapters implement ports; they never call back up into the domain",
    ),
    (
        "files",
        ("hubbub.chat", "hubbub.handlers", "hubbub.runtime", "hubbub.store", "hubbub.push"),
        "adapters implement ports; they never call back up into the domain",
    ),
    (
        "mail",
        ("hubbub.chat", "hubbub.handlers", "hubbub.runtime", "hubbub.store", "hubbub.push"),
        "adapters implement ports; they never call back up into the domain",
    ),
]


def imported_modules(path: Path) -> set[str]:
    """Every absolute module an import statement in ``path`` names, at any depth."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def violations(package: str, forbidden: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted((SRC / package).rglob("*.py")):
        for name in sorted(imported_modules(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                found.append(f"{path.relative_to(SRC.parent)} imports {name}")
    return found


@pytest.mark.parametrize(("package", "forbidden", "why"), RULES, ids=[r[0] for r in RULES])
def test_layer_rule_holds(package: str, forbidden: tuple[str, ...], why: str) -> None:
    assert (SRC / package).is_dir()
    assert violations(package, forbidden) == [], why


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    """A rule that can't fail is not a rule: a module that breaks one is reported, lazily or not."""
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from hubbub.chat.service import Chat\n    import boto3\n")
    names = imported_modules(module)
    assert "hubbub.chat.service" in names
    assert "boto3" in names
    assert "hubbub.chat.service.Chat" in names
