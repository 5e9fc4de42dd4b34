"""hubbub.js riding out a server restart: reconnect, resume, outbox, no duplicates."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from hubbub.client import HubbubClient
from tests.browser.conftest import WAIT_MS, Pages, run_async
from tests.browser.test_rooms import bubbles, join, say
from tests.support.server import ServerProcess

pytestmark = pytest.mark.browser

RECONNECT_MS = 3 * WAIT_MS  # backoff with jitter, capped at 15 s, plus the server's start


def state(page: Page) -> str:
    return str(page.evaluate("() => globalThis.hubbubClient.state"))


def seqs(page: Page) -> list[int]:
    return list(
        page.locator(".log .msg").evaluate_all("els => els.map(e => Number(e.dataset.seq))")
    )


async def _history(server: ServerProcess, topic: str) -> list[str]:
    client = await HubbubClient.connect(server.ws_url)
    try:
        page = await client.request("history", topic=topic, limit=100)
        return [m["text"] for m in page["messages"]]
    finally:
        await client.close()


def test_clients_reconnect_by_themselves_and_deliver_the_outbox_once(
    fresh_server: Callable[[], ServerProcess], pages: Pages
) -> None:
    server = fresh_server()
    room = "outage"
    ada = pages.page(f"{server.base_url}/r/{room}")
    join(ada, "ada")
    ben = pages.page(f"{server.base_url}/r/{room}")
    join(ben, "ben")
    say(ada, "before the restart")
    expect(bubbles(ben, "before the restart")).to_have_count(1)

    # connection attempts while the server is down are logged by Chromium as errors
    pages.allow_errors("WebSocket connection to", "ERR_CONNECTION_REFUSED")
    port = server.port
    server.stop()
    for page in (ada, ben):
        expect(page.locator(".banner")).to_be_visible()
        expect(page.locator(".banner")).to_contain_text("Reconnecting")
        assert state(page) in ("reconnecting", "connecting")

    during = ["sent during the outage", "and another one"]
    for text in during:
        say(ada, text)
    say(ben, "ben was offline too")
    expect(ada.locator(".outbox .msg[data-state=sending]")).to_have_count(2)
    expect(ben.locator(".outbox .msg[data-state=sending]")).to_have_count(1)
    # the outbox is kept in localStorage, so a reload would not lose it either
    stored = ada.evaluate(
        """() => Object.keys(localStorage).filter(k => k.startsWith("hubbub.outbox:"))
                   .map(k => localStorage.getItem(k))"""
    )
    assert [[e["text"] for e in json.loads(raw)] for raw in stored] == [during]

    server.port = port
    server.start()

    everything = ["before the restart", *during, "ben was offline too"]
    for page in (ada, ben):
        for text in everything:
            expect(bubbles(page, text)).to_have_count(1, timeout=RECONNECT_MS)
        expect(page.locator(".outbox .msg")).to_have_count(0)
        expect(page.locator(".banner")).to_be_hidden()
        assert state(page) == "online"
        # nothing twice, nothing missing: seqs 1..4 once each, in order
        assert seqs(page) == [1, 2, 3, 4]
        people = page.locator("#people-list li")
        expect(people.filter(has_text="ada")).to_have_count(1)
        expect(people.filter(has_text="ben")).to_have_count(1)
    assert ada.evaluate("() => localStorage.length") == 1  # only the identity is left

    stored_texts = run_async(lambda: _history(server, f"room/{room}"))
    assert sorted(stored_texts) == sorted(everything)

    # and the conversation goes on
    say(ben, "welcome back")
    expect(bubbles(ada, "welcome back")).to_have_count(1)
