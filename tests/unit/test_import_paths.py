"""What each Lambda handler's module imports: its cold start's Init Duration is that import.

Issue 17 holds every function's cold start under 300 ms. The action models (``protocol.actions``,
a pydantic model per action) are imported where frames are decoded, in ``Chat.handle`` and the
message handler, not by the functions that never decode one; the REST moderation routes share
only the field types (``protocol.fields``). Each case runs in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

_PROBE = (
    "import sys, importlib; importlib.import_module({module!r}); print({loaded!r} in sys.modules)"
)


@pytest.mark.parametrize(
    ("module", "loaded", "expected"),
    [
        ("hubbub.handlers.connect", "pydantic", False),
        ("hubbub.handlers.disconnect", "pydantic", False),
        ("hubbub.handlers.connect", "hubbub.protocol.actions", False),
        ("hubbub.handlers.http", "hubbub.protocol.actions", False),
        ("hubbub.handlers.message", "hubbub.protocol.actions", True),
    ],
)
def test_what_a_handler_module_imports(module: str, loaded: str, expected: bool) -> None:
    probe = _PROBE.format(module=module, loaded=loaded)
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == str(expected)


_EACH_FIRST = """
import importlib, pkgutil, sys
import hubbub
failed = []
for info in pkgutil.walk_packages(hubbub.__path__, "hubbub."):
    for loaded in [m for m in sys.modules if m == "hubbub" or m.startswith("hubbub.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(info.name)
    except Exception as exc:
        failed.append(f"{info.name}: {exc!r}")
print("\\n".join(failed))
"""


def test_every_module_imports_when_it_is_imported_first() -> None:
    """An import cycle only breaks when its modules are entered in one order: the template
    reader imported the stream lanes for their limits while the lanes imported the template's
    types, so ``import hubbub.runtime.server`` on its own failed, though ``hubbub serve``, which
    reads the template first, worked. Each module is imported with no other of hubbub's loaded
    (third-party ones stay, so it takes seconds, not minutes)."""
    out = subprocess.run(
        [sys.executable, "-c", _EACH_FIRST], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == ""
