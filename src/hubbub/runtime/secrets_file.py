"""The runtime's own secrets in its data dir: the admin API's key and the made-up AWS
credentials the functions and tools sign with, each file readable by its owner only.

The credentials are kept from one run to the next, so a DynamoDB endpoint that keeps tables per
access key (DynamoDB Local without ``-sharedDb``) finds them again.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

__all__ = ["CREDENTIALS_FILE", "KEY_FILE", "load_credentials", "write_private", "write_secrets"]

KEY_FILE = "runtime-key"
CREDENTIALS_FILE = "runtime-credentials.json"
_PREFIX = "AKIALOCAL"
"""Every made-up access key id starts so: a real one is never taken for the runtime's."""


def load_credentials(data_dir: Path) -> tuple[str, str]:
    """The last run's credentials when there were any (and they are the runtime's), else new."""
    try:
        saved = json.loads((data_dir / CREDENTIALS_FILE).read_text())
        key_id, secret = str(saved["aws_access_key_id"]), str(saved["aws_secret_access_key"])
    except (OSError, ValueError, KeyError, TypeError):
        return _made_up()
    if key_id.startswith(_PREFIX) and secret:
        return key_id, secret
    return _made_up()


def write_secrets(data_dir: Path, runtime_key: str, key_id: str, secret: str) -> None:
    """The admin API's key and the credentials, for the CLI and tools."""
    write_private(data_dir / KEY_FILE, runtime_key)
    credentials = {"aws_access_key_id": key_id, "aws_secret_access_key": secret}
    write_private(data_dir / CREDENTIALS_FILE, json.dumps(credentials))


def write_private(path: Path, text: str) -> None:
    """Created (or truncated) with mode 0600 before a byte is written."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)


def _made_up() -> tuple[str, str]:
    return _PREFIX + secrets.token_hex(6).upper(), secrets.token_urlsafe(30)
