"""Browser fixtures: Debian's Chromium driven by Playwright (sync API), and a real ``hubbub serve``.

One browser and one server serve the whole tier (tests use distinct rooms and visitors); a test
that restarts its server takes ``fresh_server``. Every page's console errors, uncaught exceptions
and dialogs are collected and, unless a test says otherwise, fail the test: a CSP violation or a
script error is a bug even when the assertions pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import TIMEOUT_FACTOR
from tests.support.server import REPO, ServerProcess

CHROMIUM = os.environ.get("HUBBUB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
WAIT_MS = int(10_000 * TIMEOUT_FACTOR)

expect.set_options(timeout=WAIT_MS)

T = TypeVar("T")


def run_async(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run async code (the Python client) from a sync Playwright test, whose thread already
    runs Playwright's event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result(timeout=120 * TIMEOUT_FACTOR)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def add_operators(server: ServerProcess, *names: str) -> dict[str, str]:
    """New operators (``hubbub operator add``, run side by side); name -> sign-in token, the
    last line the command prints."""
    procs = {
        name: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hubbub.cli",
                "operator",
                "add",
                name,
                "--data-dir",
                str(server.data_dir),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for name in names
    }
    tokens = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=60 * TIMEOUT_FACTOR)
        assert proc.returncode == 0, err
        tokens[name] = out.strip().splitlines()[-1]
    return tokens


@dataclass
class PageProblems:
    """What a page said that it should not have."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(a in e for a in self.allowed)]


@dataclass
class Pages:
    """Opens isolated browser contexts (one per simulated person) and their pages."""

    browser: Browser
    contexts: list[BrowserContext] = field(default_factory=list)
    problems: PageProblems = field(default_factory=PageProblems)

    def allow_errors(self, *fragments: str) -> None:
        """Console errors containing one of these are expected (e.g. while the server is down)."""
        self.problems.allowed.extend(fragments)

    def context(self, viewport: ViewportSize | None = None, **options: Any) -> BrowserContext:
        context = self.browser.new_context(viewport=viewport or DESKTOP, **options)
        context.set_default_timeout(WAIT_MS)
        self.contexts.append(context)
        return context

    def page(
        self, url: str | None = None, context: BrowserContext | None = None, **kw: Any
    ) -> Page:
        page = (context or self.context(**kw)).new_page()
        self.watch(page)
        if url is not None:
            page.goto(url)
        return page

    def watch(self, page: Page) -> None:
        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error":
                self.problems.errors.append(f"{page.url}: {message.text}")

        def on_dialog(dialog: Dialog) -> None:
            self.problems.dialogs.append(f"{page.url}: {dialog.type} {dialog.message}")
            dialog.dismiss()

        page.on("console", on_console)
        page.on("pageerror", lambda exc: self.problems.errors.append(f"{page.url}: {exc}"))
        page.on("dialog", on_dialog)

    def close(self) -> None:
        for context in self.contexts:
            with contextlib.suppress(PlaywrightError):
                context.close()
        self.contexts.clear()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        pytest.fail(
            f"no Chromium at {CHROMIUM}: install Debian's chromium (as .ci/run does) or set"
            " HUBBUB_CHROMIUM"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server for the browser tier; tests use their own rooms and visitors."""
    proc = ServerProcess(tmp_path_factory.mktemp("browser") / "data").start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def operators(server: ServerProcess) -> dict[str, str]:
    """Operators of the tier's server: name -> token. Tests share them; their visitors differ."""
    return add_operators(server, "Ann", "Bo", "Cy")


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[Callable[[], ServerProcess]]:
    """A server of the test's own (to restart or kill)."""
    started: list[ServerProcess] = []

    def start() -> ServerProcess:
        proc = ServerProcess(tmp_path / f"data{len(started)}").start()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.stop()


@pytest.fixture
def pages(browser: Browser) -> Iterator[Pages]:
    """Browser contexts for the test; fails it on console errors, page errors or dialogs."""
    opened = Pages(browser)
    yield opened
    opened.close()
    problems = opened.problems
    assert not problems.dialogs, f"dialogs were opened: {problems.dialogs}"
    assert not problems.unexpected(), f"console errors: {problems.unexpected()}"
