"""What a deployed function can import, enforced in its local execution environment.

A worker runs on the interpreter of ``hubbub serve``, whose environment holds the runtime's own
dependencies (aiohttp, moto, cryptography...). A function deployed with ``sam build`` has far
less: its ``CodeUri``, the distributions its ``requirements.txt`` names and theirs (what SAM's
Python builder installs), the boto3 that Lambda's Python runtimes ship, and the standard
library. Without this, a function could import a module locally that its artefact lacks, and a
library that imports an optional dependency when it finds one would find it here and not on
AWS: PyJWT imports ``cryptography`` for its RSA and EC algorithms whenever it is installed,
65 ms of a token function's first invocation locally (docs/benchmarks.md, finding 32), none on
AWS, where the artefact has no ``cryptography``.

So when the function's code directory has a ``requirements.txt``, the runtime works out once
per code directory which top-level modules its artefact would hold (here: reading the installed
distributions' metadata takes tens of milliseconds, which no Lambda cold start pays) and hands
the list to each worker, whose ``import_guard`` refuses the rest. Without a
``requirements.txt`` nothing is restricted: the function may be built another way (a Makefile
build, a layer, a container image) whose contents the template does not show.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
from collections.abc import Iterable
from pathlib import Path

__all__ = ["RUNTIME_PROVIDED", "importable"]

RUNTIME_PROVIDED = ("boto3",)
"""What Lambda's Python runtimes ship beside the function (with their own dependencies)."""

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
_EXTRA = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _parse(line: str) -> tuple[str, frozenset[str], str] | None:
    """A requirement's name, extras and marker; None for a comment, an option or a blank."""
    text = line.split("#", 1)[0].strip()
    if not text or text.startswith("-"):
        return None
    found = _REQUIREMENT.match(text)
    if found is None:
        return None
    extras = frozenset(e.strip().lower() for e in (found.group(2) or "").split(",") if e.strip())
    marker = text.split(";", 1)[1] if ";" in text else ""
    return found.group(1), extras, marker


def _applies(marker: str, extras: frozenset[str]) -> bool:
    """Whether a dependency's marker holds: an ``extra == "x"`` marker when ``x`` was asked for;
    any other marker (python_version, sys_platform) is taken to hold, which can only allow a
    module too many, never refuse one the artefact has."""
    wanted = {e.lower() for e in _EXTRA.findall(marker)}
    return not wanted or bool(wanted & extras)


def _top_level(dist: importlib.metadata.Distribution) -> set[str]:
    """The top-level modules a distribution installs: its ``top_level.txt`` when it has one,
    else the first part of each installed path."""
    listed = dist.read_text("top_level.txt")
    if listed:
        return {name.strip() for name in listed.splitlines() if name.strip()}
    names: set[str] = set()
    for file in dist.files or ():
        first = file.parts[0]
        if first in ("..", "__pycache__") or first.endswith((".dist-info", ".data", ".pth")):
            continue
        names.add(first.split(".", 1)[0] if len(file.parts) == 1 else first)
    return names


def _closure(requirements: Iterable[tuple[str, frozenset[str]]]) -> set[str]:
    """The top-level modules of ``requirements`` and of everything they require, as installed
    here. A requirement that is not installed adds nothing: importing it fails anyway."""
    modules: set[str] = set()
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = list(requirements)
    while pending:
        name, extras = pending.pop()
        key = (name.lower().replace("_", "-").replace(".", "-"), extras)
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        modules |= _top_level(dist)
        for line in dist.requires or ():
            parsed = _parse(line)
            if parsed is not None and _applies(parsed[2], extras):
                pending.append((parsed[0], parsed[1]))
    return modules


@functools.cache
def importable(code_dir: Path) -> frozenset[str] | None:
    """The top-level modules the deployed artefact of ``code_dir`` has besides its own code and
    the standard library; None when there is no ``requirements.txt`` to say."""
    try:
        lines = (code_dir / "requirements.txt").read_text().splitlines()
    except OSError:
        return None
    named = [(p[0], p[1]) for p in map(_parse, lines) if p is not None]
    provided = [(name, frozenset[str]()) for name in RUNTIME_PROVIDED]
    return frozenset(_closure([*named, *provided]))
