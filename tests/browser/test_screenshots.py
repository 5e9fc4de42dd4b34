"""Screenshots of the three screens (rooms, the widget on its demo page, the console) at desktop
and phone widths, with realistic conversations, light and dark.

Always written to test-artifacts/screenshots/ (for CI artifacts); copied to docs/img/ for the
documentation only with HUBBUB_UPDATE_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from hubbub.client import HubbubClient
from tests.browser.conftest import PHONE, Pages, add_operators, run_async
from tests.browser.test_rooms import bubbles, join, say
from tests.browser.test_support import open_widget, send, sign_in, start_chat
from tests.support.server import REPO, ServerProcess

pytestmark = pytest.mark.browser

ARTIFACTS = REPO / "test-artifacts" / "screenshots"
DOCS_IMG = REPO / "docs" / "img"
UPDATE_DOCS = os.environ.get("HUBBUB_UPDATE_SCREENSHOTS") == "1"


def shoot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, animations="disabled")
    if UPDATE_DOCS:
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / path.name)
    return path


async def _visitors(server: ServerProcess) -> None:
    """Desk conversations that came in earlier (their visitors have left since)."""
    people = [
        ("Lena Fischer", "lena@example.com", ["Hi! My order #4812 still says 'processing'."]),
        ("Tomás", None, ["Do you ship to Portugal?", "Asking for the Ridge GX."]),
        ("Aiko", "aiko@example.jp", ["Thanks, the new brake pads work great!"]),
    ]
    for nickname, email, texts in people:
        client = await HubbubClient.connect(server.ws_url)
        try:
            welcome = await client.register(nickname, email=email)
            topic = f"desk/{welcome['user']['id']}"
            for n, text in enumerate(texts):
                await client.send(topic, text, f"{nickname}-{n}")
        finally:
            await client.close()


def test_screenshots(fresh_server: Callable[[], ServerProcess], pages: Pages) -> None:
    server = fresh_server()
    token = add_operators(server, "Ann")["Ann"]
    base = server.base_url
    written: list[Path] = []

    # --- rooms: four people in #launch-party, one of them typing ---------------------------
    room = f"{base}/r/launch-party"
    maya, jonas, priya = (pages.page(room) for _ in range(3))
    join(maya, "Maya")
    join(jonas, "Jonas")
    join(priya, "Priya")
    sam = pages.page(room)
    join(sam, "Sam")
    script = [
        (maya, "Morning all! Launch checklist is in the doc: https://example.com/launch-plan"),
        (jonas, "Landing page is live on staging. Copy review by noon?"),
        (sam, "On it. I'll also double-check the pricing table."),
        (sam, "Found a typo in the FAQ, fixing now."),
        (priya, "Press kit is ready. Sending it to the list at 3pm."),
        (maya, "Perfect. Let's do a last sync at 2:30."),
    ]
    for page, text in script:
        say(page, text)
        expect(bubbles(sam, text[:30])).to_have_count(1)
    expect(sam.locator("#people-list li")).to_have_count(4)
    priya.locator("#composer-text").press_sequentially("Sounds good")
    expect(sam.locator("#typing")).to_have_text("Priya is typing…")
    written.append(shoot(sam, "rooms-desktop"))
    sam.emulate_media(color_scheme="dark")
    written.append(shoot(sam, "rooms-desktop-dark"))
    sam.emulate_media(color_scheme="light")
    sam.set_viewport_size(PHONE)
    expect(sam.locator("#people-toggle")).to_be_visible()
    written.append(shoot(sam, "rooms-phone"))

    # --- the widget on the demo shop, talking to Ann ---------------------------------------
    run_async(lambda: _visitors(server))
    visitor = pages.page(f"{base}/demo")
    frame = open_widget(visitor)
    start_chat(frame, "Chris", "chris@example.com")
    send(frame, "Message", "Hi! Does the Harbor 7 come in XL? I'm 192 cm.")
    console = pages.page(f"{base}/console")
    sign_in(console, token)
    chris = console.locator("#conversation-list li").filter(has_text="Chris")
    expect(chris.locator(".unread-count")).to_have_text("1")
    expect(console.locator("#conversation-list li")).to_have_count(4)
    chris.get_by_role("button").click()
    send(console, "Reply to Chris", "Hi Chris! Yes: the XL frame fits riders from 185 to 200 cm.")
    expect(frame.locator(".log .msg").filter(has_text="XL frame")).to_have_count(1)
    send(frame, "Message", "Great, and is delivery free?")
    expect(console.locator(".log .msg").filter(has_text="delivery free")).to_have_count(1)
    console.get_by_label("Reply to Chris").press_sequentially("Free within")
    expect(frame.locator("#typing")).to_have_text("Ann is typing…")
    expect(frame.locator("#w-status-text")).to_have_text("Ann is here")
    written.append(shoot(visitor, "widget-desktop"))
    visitor.emulate_media(color_scheme="dark")
    written.append(shoot(visitor, "widget-desktop-dark"))
    visitor.emulate_media(color_scheme="light")
    visitor.set_viewport_size(PHONE)
    written.append(shoot(visitor, "widget-phone"))

    # --- the console: Chris open, the others waiting with unread badges -------------------
    console.get_by_label("Reply to Chris").fill("")
    expect(console.locator("#conversation-list .unread-count")).to_have_count(3)
    written.append(shoot(console, "console-desktop"))
    console.emulate_media(color_scheme="dark")
    written.append(shoot(console, "console-desktop-dark"))
    console.emulate_media(color_scheme="light")
    console.set_viewport_size(PHONE)
    console.get_by_role("button", name="Back to the conversations").click()
    expect(console.locator("#conversation-list")).to_be_visible()
    written.append(shoot(console, "console-phone"))

    assert all(path.stat().st_size > 10_000 for path in written)
    # nothing on any screen is wider than the phone
    for page in (sam, visitor, console):
        assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
