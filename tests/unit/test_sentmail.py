"""``hubbub mail``: the emails in the data dir, for a developer to read."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hubbub.cli import main
from hubbub.runtime.ses.outbox import append_sent
from hubbub.runtime.ses.requests import SentMail

ANN = SentMail("m-1", 1_800_000_000_000, "support@example.com", ["ann@x.org"], "Hi", "Body 1\n")
BOB = SentMail("m-2", 1_800_000_060_000, "support@example.com", ["bob@x.org"], "Yo", "Body 2\n")


def test_it_prints_each_email_oldest_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    append_sent(tmp_path, ANN)
    append_sent(tmp_path, BOB)
    assert main(["mail", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.index("To: ann@x.org") < out.index("To: bob@x.org")
    assert "--- 2027-01-15 08:00:00 UTC  m-1" in out
    assert "Subject: Hi\n\nBody 1\n" in out and "From: support@example.com" in out


def test_it_prints_a_raw_emails_other_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "http://127.0.0.1:8000/api/mail/unsubscribe?token=abc"
    headers = {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    append_sent(tmp_path, SentMail("m-3", 1, "s@x.org", ["c@x.org"], "Hi", "B\n", headers=headers))
    assert main(["mail", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"Subject: Hi\nList-Unsubscribe: <{url}>\n" in out
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n\nB\n" in out


def test_it_filters_by_address_and_speaks_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    append_sent(tmp_path, ANN)
    append_sent(tmp_path, BOB)
    assert main(["mail", "--data-dir", str(tmp_path), "--to", "bob@x.org", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["message_id"] for line in lines] == ["m-2"]


def test_an_empty_data_dir_prints_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["mail", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == ""
