"""The event loop ``hubbub serve`` runs on: uvloop when importable, asyncio's otherwise."""

from __future__ import annotations

import asyncio
import sys

import pytest

from hubbub.runtime import eventloop
from hubbub.runtime.eventloop import LoopChoiceError, choose_loop


@pytest.mark.parametrize(
    ("preference", "available", "expected"),
    [
        (None, True, "uvloop"),
        (None, False, "asyncio"),
        ("", True, "uvloop"),
        ("auto", True, "uvloop"),
        ("auto", False, "asyncio"),
        (" Auto ", False, "asyncio"),
        ("asyncio", True, "asyncio"),
        ("asyncio", False, "asyncio"),
        ("uvloop", True, "uvloop"),
        ("UVLOOP", True, "uvloop"),
    ],
)
def test_choice(preference: str | None, available: bool, expected: str) -> None:
    assert choose_loop(preference, available) == expected


@pytest.mark.parametrize(
    ("preference", "available", "message"),
    [
        ("uvloop", False, "uvloop is not installed"),
        ("trio", True, "must be auto, uvloop or asyncio"),
    ],
)
def test_impossible_choices_are_errors(preference: str, available: bool, message: str) -> None:
    with pytest.raises(LoopChoiceError, match=message):
        choose_loop(preference, available)


async def _loop_type() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_asyncio_when_asked() -> None:
    assert eventloop.run(_loop_type(), {eventloop.ENV_VAR: "asyncio"}).startswith("asyncio")


def test_uvloop_by_default() -> None:
    """uvloop is a dependency of hubbub on Linux (pyproject.toml), where this suite runs."""
    assert eventloop.run(_loop_type(), {}).startswith("uvloop")


def test_falls_back_to_asyncio_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop now raises ImportError
    assert eventloop.loop_factory({}) == ("asyncio", None)
    assert eventloop.run(_loop_type(), {}).startswith("asyncio")


def test_an_impossible_choice_runs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)
    ran: list[bool] = []

    async def main() -> None:
        ran.append(True)

    with pytest.raises(LoopChoiceError):
        eventloop.run(main(), {eventloop.ENV_VAR: "uvloop"})
    assert ran == []
