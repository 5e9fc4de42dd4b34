"""The emails the SES emulation accepted, kept in the data dir: moto holds them in memory only,
so a restart would lose what a developer wants to read. One JSON line per email, appended and
synced before SES's answer goes back to the function, in a file only the owner reads (it holds
addresses); ``hubbub mail --data-dir DIR`` prints them."""

from __future__ import annotations

import json
import os
from pathlib import Path

from hubbub.runtime.ses.requests import SentMail

__all__ = ["OUTBOX_NAME", "append_sent", "read_sent"]

OUTBOX_NAME = "ses-sent.jsonl"


def append_sent(data_dir: Path, mail: SentMail) -> None:
    line = (json.dumps(mail.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(data_dir / OUTBOX_NAME, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # a line cut short by a crash stays alone, unread
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_sent(data_dir: Path) -> list[SentMail]:
    """Every email recorded, oldest first; a line cut short by a crash is skipped (the next
    append starts a line of its own)."""
    try:
        raw = (data_dir / OUTBOX_NAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    sent = []
    for line in raw.splitlines():
        try:
            sent.append(SentMail.from_json(json.loads(line)))
        except (ValueError, KeyError, TypeError):
            continue
    return sent
