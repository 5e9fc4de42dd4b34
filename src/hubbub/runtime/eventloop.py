"""The event loop ``hubbub serve`` runs on: uvloop where it is installed, asyncio's own otherwise.

Every delivery of a fan-out is a transport write, an HTTP request or a pipe read in the gateway's
one process, so the loop's own overhead is a large part of the runtime's CPU per delivery; uvloop
(libuv) measured +21% for a bare broadcast server on the 2-core machine of docs/benchmarks.md.
It is a runtime dependency on Linux and macOS only (it has no Windows build), so the choice is a
pure function of what is importable and what the operator asked for (``HUBBUB_EVENT_LOOP``), and
a missing uvloop falls back to asyncio without a word beyond one DEBUG line.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

__all__ = ["ENV_VAR", "LoopChoice", "LoopChoiceError", "choose_loop", "loop_factory", "run"]

ENV_VAR = "HUBBUB_EVENT_LOOP"
"""``uvloop``, ``asyncio`` or ``auto`` (the default: uvloop when it can be imported)."""

LoopChoice = Literal["uvloop", "asyncio"]
_T = TypeVar("_T")
log = logging.getLogger("hubbub.runtime")


class LoopChoiceError(ValueError):
    """``HUBBUB_EVENT_LOOP`` names a loop this machine cannot run."""


def choose_loop(preference: str | None, uvloop_available: bool) -> LoopChoice:
    """Which loop to run. ``uvloop`` asked for but missing is an error (the operator asked for
    something this machine cannot do), as is a value that is none of auto, uvloop, asyncio."""
    wanted = (preference or "auto").strip().lower()
    if wanted == "asyncio":
        return "asyncio"
    if wanted == "uvloop":
        if not uvloop_available:
            raise LoopChoiceError(f"{ENV_VAR}=uvloop, but uvloop is not installed")
        return "uvloop"
    if wanted == "auto":
        return "uvloop" if uvloop_available else "asyncio"
    raise LoopChoiceError(f"{ENV_VAR} must be auto, uvloop or asyncio, not {preference!r}")


def loop_factory(
    environ: dict[str, str] | None = None,
) -> tuple[LoopChoice, Callable[[], asyncio.AbstractEventLoop] | None]:
    """The chosen loop's name and the factory ``asyncio.Runner`` takes (None: asyncio's own)."""
    env = os.environ if environ is None else environ
    try:
        uvloop: Any = importlib.import_module("uvloop")
    except ImportError:
        uvloop = None
    choice = choose_loop(env.get(ENV_VAR), uvloop is not None)
    if choice == "uvloop":
        factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
        return choice, factory
    return choice, None


def run(main: Coroutine[Any, Any, _T], environ: dict[str, str] | None = None) -> _T:
    """``asyncio.run`` on the chosen loop."""
    try:
        choice, factory = loop_factory(environ)
    except LoopChoiceError:
        main.close()
        raise
    log.debug("event loop: %s", choice)
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
