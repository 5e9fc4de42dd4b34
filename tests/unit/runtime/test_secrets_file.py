"""The runtime's secrets on disk: owner-only files, and credentials kept across runs only when
they are the runtime's own."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from hubbub.runtime.secrets_file import (
    CREDENTIALS_FILE,
    KEY_FILE,
    load_credentials,
    write_secrets,
)


def test_secrets_are_written_for_the_owner_only(tmp_path: Path) -> None:
    write_secrets(tmp_path, "admin-key", "AKIALOCALABC", "s3cret")
    for name in (KEY_FILE, CREDENTIALS_FILE):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    assert (tmp_path / KEY_FILE).read_text() == "admin-key"
    assert load_credentials(tmp_path) == ("AKIALOCALABC", "s3cret")


@pytest.mark.parametrize(
    "saved",
    [
        None,  # no file: a first run
        "not json",
        json.dumps({"aws_access_key_id": "AKIAREALKEY", "aws_secret_access_key": "x"}),
        json.dumps({"aws_access_key_id": "AKIALOCALABC", "aws_secret_access_key": ""}),
        json.dumps({"aws_access_key_id": "AKIALOCALABC"}),
    ],
)
def test_anything_but_the_runtimes_own_credentials_is_replaced(
    tmp_path: Path, saved: str | None
) -> None:
    if saved is not None:
        (tmp_path / CREDENTIALS_FILE).write_text(saved)
    key_id, secret = load_credentials(tmp_path)
    assert key_id.startswith("AKIALOCAL") and key_id != "AKIALOCALABC"
    assert len(secret) >= 30
