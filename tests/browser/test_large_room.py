"""A large room's people list in a real browser (issue 18, item 4): over the presence threshold
the page shows "N online" from the server's count instead of listing everyone."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Pages, unique
from tests.support.server import ServerProcess

pytestmark = pytest.mark.browser


@pytest.fixture
def small_threshold(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server whose rooms count as large over 2 members, with one summary a minute."""
    env_file = tmp_path / "env.json"
    settings = {"PRESENCE_THRESHOLD": "2", "PRESENCE_SUMMARY_SECONDS": "60"}
    env_file.write_text(json.dumps({"Parameters": settings}))
    proc = ServerProcess(tmp_path / "data", "--env-vars", str(env_file)).start()
    yield proc
    proc.stop()


def reader(pages: Pages, server: ServerProcess, room: str) -> Page:
    page = pages.page(f"{server.base_url}/r/{room}")
    expect(page.locator("#people-count")).not_to_have_text("0")
    return page


def test_a_large_room_shows_a_count_instead_of_a_list(
    small_threshold: ServerProcess, pages: Pages
) -> None:
    room = unique("stadium")
    first = reader(pages, small_threshold, room)
    second = reader(pages, small_threshold, room)
    # two readers: a small room, listed (guests are counted under the list)
    expect(first.locator("#guests")).to_have_text("and 2 guests reading")
    expect(first.locator("#people-title")).to_have_text("Online — 2")

    # the third makes it large: everyone gets the pushed summary, the newcomer the count
    third = reader(pages, small_threshold, room)
    for page in (first, second, third):
        expect(page.locator("#people-title")).to_have_text("3 online")
        expect(page.locator("#people-count")).to_have_text("3")
        expect(page.locator("#people-list li")).to_have_count(0)
        expect(page.locator("#guests")).to_have_text("Too many people to list them all.")

    # a fourth inside the summary's window: its own query is exact. The others show the last
    # summary until the next one, or the exact count if their page asked again meanwhile (seen
    # once in CI); either way a count, never a list (the window itself is tested on a manual
    # clock in tests/unit/test_presence_scale.py)
    fourth = reader(pages, small_threshold, room)
    expect(fourth.locator("#people-title")).to_have_text("4 online")
    expect(first.locator("#people-title")).to_have_text(re.compile(r"^[34] online$"))
    expect(first.locator("#people-list li")).to_have_count(0)
