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
the list to each worker, whose ``import_guard`` refuses the rest. Requirements and their
environment markers are read as pip reads them (``packaging``), for the machine SAM builds for:
Lambda's Linux, the function's ``Runtime`` and ``Architectures``, so ``tomli; python_version <
"3.11"`` is not in a python3.12 artefact, whatever Python runs ``hubbub serve``. Without a
``requirements.txt`` nothing is restricted: the function may be built another way (a Makefile
build, a layer, a container image) whose contents the template does not show.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement

__all__ = ["RUNTIME_PROVIDED", "importable"]

RUNTIME_PROVIDED = ("boto3",)
"""What Lambda's Python runtimes ship beside the function (with their own dependencies)."""

_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}
_COMMENT = re.compile(r"(^|\s+)#.*$")
"""pip's rule: a comment starts at a ``#`` that begins the line or follows white space (so a
URL's ``#egg=`` fragment is not one)."""


def _target_environment(runtime: str, architecture: str) -> dict[str, str]:
    """The environment markers of the machine ``sam build`` installs for: Lambda's Linux, the
    function's Python (``python3.12`` -> 3.12) and architecture, not the machine running
    ``hubbub serve``. A requirement marked for another Python or platform is not in the
    artefact, so not importable here either."""
    version = runtime.removeprefix("python")
    return {
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": _MACHINE.get(architecture, architecture),
        "python_version": version,
        "python_full_version": f"{version}.0",
        "implementation_version": f"{version}.0",
    }


def _parse(line: str) -> Requirement | None:
    """A requirement line; None for a comment, a pip option (``-r``, ``--index-url``...), a
    blank, or a line pip would refuse (it refuses the build too)."""
    text = _COMMENT.sub("", line).strip()
    if not text or text.startswith("-"):
        return None
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


def _applies(marker: Marker | None, extras: frozenset[str], env: Mapping[str, str]) -> bool:
    """Whether a requirement is installed on the target: no marker, or its marker holds there
    for one of the extras asked of the distribution that requires it (or for none)."""
    if marker is None:
        return True
    return any(marker.evaluate({**env, "extra": extra}) for extra in (extras or {""}))


def _top_level(dist: importlib.metadata.Distribution) -> set[str]:
    """The top-level modules a distribution installs: its ``top_level.txt`` when it has one,
    else the first part of each installed path, else (an editable install whose backend
    writes no ``top_level.txt``: hatchling, flit, pdm) the modules in the directories its
    ``.pth`` file puts on ``sys.path``."""
    listed = dist.read_text("top_level.txt")
    if listed:
        return {name.strip() for name in listed.splitlines() if name.strip()}
    names: set[str] = set()
    pth: list[Path] = []
    for file in dist.files or ():
        first = file.parts[0]
        if first.endswith(".pth") and len(file.parts) == 1:
            pth.append(Path(str(dist.locate_file(file))))
        if first in ("..", "__pycache__") or first.endswith((".dist-info", ".data", ".pth")):
            continue
        names.add(first.split(".", 1)[0] if len(file.parts) == 1 else first)
    return names or {name for path in pth for name in _modules_on_paths_of(path)}


def _modules_on_paths_of(pth: Path) -> set[str]:
    """The top-level modules and packages in the directories a ``.pth`` file lists (its
    ``import`` lines, which run code, are not followed)."""
    try:
        lines = pth.read_text().splitlines()
    except OSError:
        return set()
    names: set[str] = set()
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith(("#", "import ", "import\t")):
            continue
        root = Path(entry) if Path(entry).is_absolute() else pth.parent / entry
        try:
            children = list(root.iterdir())
        except OSError:
            continue
        for child in children:
            if child.suffix == ".py" and child.stem.isidentifier():
                names.add(child.stem)
            elif child.is_dir() and child.name.isidentifier():
                names.add(child.name)
    return names


def _closure(
    requirements: Iterable[tuple[str, frozenset[str]]], env: Mapping[str, str]
) -> set[str]:
    """The top-level modules of ``requirements`` and of everything they require on the target,
    as installed here. A requirement that is not installed adds nothing: importing it fails
    anyway."""
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
            needed = _parse(line)
            if needed is not None and _applies(needed.marker, extras, env):
                pending.append((needed.name, _lowered(needed.extras)))
    return modules


def _lowered(extras: Iterable[str]) -> frozenset[str]:
    return frozenset(extra.lower() for extra in extras)


@functools.cache
def importable(
    code_dir: Path, runtime: str = "python3.12", architecture: str = "x86_64"
) -> frozenset[str] | None:
    """The top-level modules the deployed artefact of ``code_dir`` has besides its own code and
    the standard library, built for ``runtime`` on ``architecture``; None when there is no
    ``requirements.txt`` to say."""
    try:
        lines = (code_dir / "requirements.txt").read_text().splitlines()
    except OSError:
        return None
    env = _target_environment(runtime, architecture)
    named = [
        (r.name, _lowered(r.extras))
        for r in map(_parse, lines)
        if r is not None and _applies(r.marker, frozenset(), env)
    ]
    provided = [(name, frozenset[str]()) for name in RUNTIME_PROVIDED]
    return frozenset(_closure([*named, *provided], env))
