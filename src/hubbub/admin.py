"""Administration of a local deployment from the command line: operators, tokens, rooms.

It builds the same ``Chat`` the Lambda handlers build, pointed at the data dir ``hubbub serve``
uses, with the environment the template gives the functions; so an operator added here is seen by
the running server at once (SQLite handles the concurrent access).
"""

from __future__ import annotations

from pathlib import Path

from hubbub.chat.service import Chat
from hubbub.handlers.bootstrap import build_chat
from hubbub.runtime.template import load_app

__all__ = ["local_chat"]


def local_chat(template: Path, data_dir: Path, function: str = "MessageFunction") -> Chat:
    app = load_app(template)
    spec = app.functions.get(function) or next(iter(app.functions.values()))
    env = {
        **spec.environment,
        "HUBBUB_RUNTIME_DATA_DIR": str(data_dir.resolve()),
        "HUBBUB_CLOCK_OFFSET_FILE": str((data_dir / "clock-offset").resolve()),
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    return build_chat(env)
