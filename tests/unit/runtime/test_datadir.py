"""The data directory's sweep: owner-only modes for what an earlier run left behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from hubbub.runtime.datadir import make_private, private_umask


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_the_sweep_makes_every_directory_0700_and_every_file_0600(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "tls").mkdir(parents=True, mode=0o755)
    (data / "store.sqlite3").write_text("x")
    (data / "tls" / "ca.pem").write_text("x")
    for path in (data, data / "tls"):
        os.chmod(path, 0o755)
    for path in (data / "store.sqlite3", data / "tls" / "ca.pem"):
        os.chmod(path, 0o644)
    make_private(data)
    assert [mode(data), mode(data / "tls")] == [0o700, 0o700]
    assert [mode(data / "store.sqlite3"), mode(data / "tls" / "ca.pem")] == [0o600, 0o600]


def test_the_sweep_does_not_follow_a_link_out_of_the_directory(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("x")
    os.chmod(outside, 0o644)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "link").symlink_to(outside)
    make_private(tmp_path / "data")
    assert mode(outside) == 0o644


def test_the_umask_becomes_owner_only_and_a_stricter_one_is_kept() -> None:
    previous = os.umask(0o022)
    try:
        assert private_umask() == 0o022
        assert os.umask(0o277) == 0o077
        private_umask()
        assert os.umask(0o022) == 0o277
    finally:
        os.umask(previous)
