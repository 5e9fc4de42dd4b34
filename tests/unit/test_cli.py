"""The ``hubbub`` command line: plain-text help, ``--version``, times a person can read."""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from hubbub import admin_commands, cli
from hubbub.ids import Topic
from hubbub.store.port import TopicSummary

UTC = datetime.UTC
NOON = int(datetime.datetime(2026, 12, 6, 12, 0, tzinfo=UTC).timestamp() * 1000)


def _parsers(parser: argparse.ArgumentParser, name: str = "hubbub") -> Iterator[tuple[str, Any]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_command_has_a_help() -> None:
    names = [name for name, _ in _parsers(cli._parser())]
    assert {"hubbub serve", "hubbub operator add", "hubbub rooms", "hubbub bench"} <= set(names)


@pytest.mark.parametrize(("name", "parser"), list(_parsers(cli._parser())))
def test_help_is_plain_text(name: str, parser: argparse.ArgumentParser) -> None:
    """Help comes from help strings and descriptions, never from reStructuredText docstrings."""
    text = parser.format_help()
    assert "``" not in text, f"{name} --help shows RST markup"
    assert ":meth:" not in text and ":class:" not in text


def test_version_is_the_installed_distribution_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"hubbub {importlib.metadata.version('hubbub')}"


@pytest.mark.parametrize(
    ("ms", "now_ms", "expected"),
    [
        (NOON, NOON, "2026-12-06 12:00:00+00:00 (just now)"),
        (NOON, NOON + 999, "2026-12-06 12:00:00+00:00 (just now)"),
        (NOON, NOON + 42_000, "2026-12-06 12:00:00+00:00 (42 s ago)"),
        (NOON, NOON + 3 * 60_000 + 5_000, "2026-12-06 12:00:00+00:00 (3 min ago)"),
        (NOON, NOON + 2 * 3_600_000, "2026-12-06 12:00:00+00:00 (2 h ago)"),
        (NOON, NOON + 3 * 86_400_000, "2026-12-06 12:00:00+00:00 (3 d ago)"),
        (NOON + 120_000, NOON, "2026-12-06 12:02:00+00:00 (in 2 min)"),
        (NOON + 1_500, NOON, "2026-12-06 12:00:01+00:00 (in 1 s)"),
    ],
)
def test_readable_time(ms: int, now_ms: int, expected: str) -> None:
    assert cli.readable_time(ms, now_ms, UTC) == expected


def test_readable_time_defaults_to_local_time() -> None:
    local = datetime.datetime.fromtimestamp(NOON / 1000).astimezone()
    assert cli.readable_time(NOON, NOON).startswith(local.isoformat(sep=" ", timespec="seconds"))


def test_rooms_prints_when_each_room_was_last_active(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    head = TopicSummary(Topic("room/lobby"), 12, NOON - 5 * 60_000, None, None)
    chat = SimpleNamespace(
        clock=SimpleNamespace(now_ms=lambda: NOON),
        store=SimpleNamespace(recent_topics=lambda index, before, limit, now: [head]),
    )
    monkeypatch.setattr(admin_commands, "local_chat", lambda args: chat)

    assert cli.main(["rooms", "--data-dir", str(tmp_path)]) == 0

    line = capsys.readouterr().out.strip()
    assert line.startswith("room/lobby\t12 messages\tlast ")
    assert line.endswith("(5 min ago)")
    assert str(NOON - 5 * 60_000) not in line, "raw epoch milliseconds"
