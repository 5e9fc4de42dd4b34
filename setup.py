"""The one build step pyproject.toml cannot declare: hubbub's own template.yaml goes into the
built package, so an installed ``hubbub serve`` runs with no checkout around it.

The repository keeps one template, at its root (``sam build`` and cfn-lint read it there). The
packaged copy is made at build time only, with the one change an installed package needs: the
functions' code is the directory that holds the installed ``hubbub`` package (site-packages),
not the checkout's ``src/``. An editable install copies nothing; the CLI falls back to the root.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
CHECKOUT_CODE_URI = "    CodeUri: src/\n"
PACKAGED_CODE_URI = "    CodeUri: ../\n"


def packaged_template(text: str) -> str:
    """The root template as the package carries it: beside ``hubbub/__init__.py``, so the code
    of its functions is one directory up."""
    if text.count(CHECKOUT_CODE_URI) != 1:
        raise ValueError(f"template.yaml must set {CHECKOUT_CODE_URI.strip()!r} once, in Globals")
    return text.replace(CHECKOUT_CODE_URI, PACKAGED_CODE_URI)


class BuildPyWithTemplate(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "hubbub" / "template.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(packaged_template((ROOT / "template.yaml").read_text()))


if __name__ == "__main__":  # setuptools runs this file as __main__; tests import it
    setup(cmdclass={"build_py": BuildPyWithTemplate})
