"""``hubbub mail --data-dir DIR``: the emails the local runtime's SES accepted, for a developer
to read (who they went to, the subject, the text), oldest first. Read from the file the SES
emulation keeps in the data dir, so it works whether the server runs or not."""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["add_mail_parser", "show_mail"]


def add_mail_parser(sub: Any) -> None:
    mail = sub.add_parser(
        "mail",
        help="print the emails sent through the local SES emulation",
        description="Print the emails `hubbub serve` sent through its SES emulation.",
    )
    mail.add_argument("--data-dir", type=Path, default=Path("data"))
    mail.add_argument("--to", default=None, help="only the emails to this address")
    mail.add_argument("--json", action="store_true", help="one JSON object per line")


def _line(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def show_mail(args: argparse.Namespace) -> int:
    from hubbub.runtime.ses.outbox import read_sent

    for mail in read_sent(args.data_dir):
        if args.to is not None and args.to not in (*mail.to, *mail.cc, *mail.bcc):
            continue
        if args.json:
            _line(json.dumps(mail.to_json(), ensure_ascii=False))
            continue
        when = datetime.datetime.fromtimestamp(mail.at_ms / 1000, tz=datetime.UTC)
        _line(f"--- {when:%Y-%m-%d %H:%M:%S} UTC  {mail.message_id}")
        _line(f"From: {mail.source}")
        _line(f"To: {', '.join(mail.to)}")
        if mail.cc:
            _line(f"Cc: {', '.join(mail.cc)}")
        _line(f"Subject: {mail.subject}")
        for name, value in mail.headers.items():
            _line(f"{name}: {value}")
        _line()
        _line(mail.text.rstrip("\n"))
        _line()
    return 0
