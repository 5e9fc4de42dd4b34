"""The data directory is owner-only (issue 15, item 6): started with a permissive umask, a server
that has served, stored messages and added an operator leaves no file or directory in its data dir
that another local user could read, SQLite's own ``-wal``/``-shm`` files included."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hubbub.client import HubbubClient
from tests.support.server import REPO, ServerProcess


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def modes(directory: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(directory.stat().st_mode)}
    for root, dirs, files in os.walk(directory):
        for name in [*dirs, *files]:
            path = Path(root) / name
            found[str(path.relative_to(directory))] = stat.S_IMODE(path.lstat().st_mode)
    return found


async def test_every_file_and_directory_is_owner_only(tmp_path: Path, loose_umask: None) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    stale = data_dir / "left-by-an-earlier-version.txt"
    stale.write_text("x")
    os.chmod(stale, 0o644)
    server = ServerProcess(data_dir).start()
    try:
        async with await HubbubClient.connect(server.ws_url) as visitor:
            await visitor.register("Ada", "ada@example.com")
            await visitor.subscribe("room/private-files")
            for n in range(3):
                await visitor.send("room/private-files", f"hello {n}")
            await visitor.wait_for_messages("room/private-files", 3)
        added = subprocess.run(
            [
                sys.executable,
                "-m",
                "hubbub.cli",
                "operator",
                "add",
                "Grace",
                "--data-dir",
                str(data_dir),
            ],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=60,
            check=False,
        )
        assert added.returncode == 0, added.stderr
        found = modes(data_dir)
    finally:
        server.stop()
    names = set(found)
    assert {"runtime-key", "runtime-credentials.json", "runtime.sqlite3"} <= names
    assert any(n.endswith("-wal") for n in names), names  # SQLite's own files are checked too
    assert any("token" in n for n in names), names
    assert loose(data_dir, found) == {}
    assert loose(data_dir, modes(data_dir)) == {}  # and so after the server has stopped


def loose(data_dir: Path, found: dict[str, int]) -> dict[str, str]:
    """Entries another user could read: directories not 0700, files not 0600."""
    return {
        name: oct(mode)
        for name, mode in found.items()
        if (data_dir / name).exists() and mode != (0o700 if (data_dir / name).is_dir() else 0o600)
    }
