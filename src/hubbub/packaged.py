"""Where an installed hubbub finds what it ships: its own template and its version.

Its own module because both the server's command and the admin commands start from the same
template, and neither should import the other to find it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
from pathlib import Path

__all__ = ["PACKAGE_DIR", "default_template", "version"]

PACKAGE_DIR = Path(__file__).resolve().parent


def default_template() -> Path:
    """./template.yaml when there is one; else hubbub's own: the copy a built package carries, or
    the repository's root template.yaml in a checkout (an editable install)."""
    here = Path.cwd() / "template.yaml"
    if here.exists():
        return here
    packaged = importlib.resources.files("hubbub").joinpath("template.yaml")
    if packaged.is_file():
        return Path(str(packaged))
    return PACKAGE_DIR.parents[1] / "template.yaml"


def version() -> str:
    try:
        return importlib.metadata.version("hubbub")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "unknown"
