"""The data directory is private to the user who runs the server: it holds desk messages, DMs,
visitor emails, the token secret, the TLS CA's key and the runtime's credentials.

The directory is 0700 and every file in it 0600, whatever the umask the server was started with.
Two mechanisms, because not every file is created by code we write: SQLite creates its database
files (0644 less the umask) and their ``-wal``/``-shm`` files (with the database's mode), so the
server and its workers run with a umask of 0o077; and :func:`make_private` sweeps what is already
there (a data dir from an earlier version, or files made before the umask was set) at start.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "PRIVATE_UMASK", "make_private", "private_umask"]

DIR_MODE = 0o700
FILE_MODE = 0o600
PRIVATE_UMASK = 0o077


def private_umask() -> int:
    """Set the process umask so that whatever this process (or a child) creates is owner-only;
    returns the previous umask. A stricter umask than ours is kept."""
    previous = os.umask(PRIVATE_UMASK)
    os.umask(previous | PRIVATE_UMASK)
    return previous


def make_private(directory: Path) -> None:
    """Create ``directory`` if needed, then make it and everything below it owner-only.

    Symbolic links are not followed (a link placed in the directory must not make us chmod a
    file elsewhere).
    """
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(directory, DIR_MODE)
    for root, dirs, files in os.walk(directory):
        for name in dirs:
            _chmod(Path(root) / name, DIR_MODE)
        for name in files:
            _chmod(Path(root) / name, FILE_MODE)


def _chmod(path: Path, mode: int) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:  # removed meanwhile (a -shm file SQLite dropped)
        return
    if stat.S_ISLNK(info.st_mode) or stat.S_IMODE(info.st_mode) == mode:
        return
    try:
        os.chmod(path, mode)
    except FileNotFoundError:
        return
