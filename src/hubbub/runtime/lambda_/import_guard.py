"""The import rule of a deployed function, applied inside its local execution environment.

The runtime hands the worker the top-level modules the function's artefact would hold besides
its own code and the standard library (``artefact.py`` says how it knows); this finder, first
on ``sys.meta_path``, refuses a top-level import of anything else with ``ModuleNotFoundError``,
as Lambda's Python runtime would, so that a library's ``except ImportError`` takes the path it
takes on AWS, and a missing requirement shows locally with a message that says why. It is
imported at every cold start, so it uses nothing the interpreter has not loaded already
(``os.path``, not ``pathlib``).
"""

from __future__ import annotations

import importlib.machinery
import os
import sys
from collections.abc import Collection, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

__all__ = ["ArtefactFinder", "guard"]


class ArtefactFinder:
    """First on ``sys.meta_path``: refuses a top-level module the artefact would not have. (A
    meta path finder is anything with ``find_spec``; ``importlib.abc`` would load ``pathlib``
    and ``importlib.resources`` into every worker for nothing.)"""

    def __init__(self, code_dir: str, allowed: frozenset[str]) -> None:
        self.code_dir = code_dir
        self.allowed = allowed | frozenset(sys.stdlib_module_names)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if path is not None or fullname in self.allowed:
            return None  # a submodule (its package was allowed), or allowed: others decide
        if importlib.machinery.PathFinder.find_spec(fullname, [self.code_dir]) is not None:
            return None  # the function's own code
        found = importlib.machinery.PathFinder.find_spec(fullname)
        if found is None or _in_stdlib(found):
            return None  # not installed at all (Python's own error says so), or the stdlib's
        raise ModuleNotFoundError(
            f"No module named '{fullname}' (installed where hubbub serve runs, but neither in "
            f"{self.code_dir} nor required by its requirements.txt, so not in the deployed "
            "function)",
            name=fullname,
        )


def _in_stdlib(spec: ModuleSpec) -> bool:
    """Whether ``spec`` is the interpreter's own: under the standard library's directory (where
    ``sys.stdlib_module_names`` leaves out internals such as ``_sysconfigdata_*``), not in a
    site directory beneath it."""
    locations = [spec.origin, *(spec.submodule_search_locations or [])]
    for location in filter(None, locations):
        try:
            inside = os.path.relpath(location, _STDLIB).split(os.sep)
        except ValueError:  # on another drive (Windows): not beneath the standard library
            continue
        if inside[0] != os.pardir:
            return not {"site-packages", "dist-packages"} & set(inside)
    return False


_STDLIB = os.path.dirname(os.__file__)


def guard(code_dir: str, allowed: Collection[str]) -> ArtefactFinder:
    """Install the finder for ``code_dir``, first in line."""
    finder = ArtefactFinder(code_dir, frozenset(allowed))
    sys.meta_path.insert(0, finder)
    return finder
