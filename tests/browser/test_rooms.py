"""The rooms page (/r/{name}) in real browsers: chat, presence, typing, history, safe rendering."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from hubbub.client import HubbubClient
from tests.browser.conftest import Pages, run_async, unique
from tests.support.server import ServerProcess

pytestmark = pytest.mark.browser


def join(page: Page, nickname: str) -> None:
    page.get_by_label("Pick a nickname").fill(nickname)
    page.get_by_role("button", name="Join chat").click()
    expect(page.locator("#composer-text")).to_be_visible()
    expect(page.locator("#people-list")).to_contain_text(nickname)


def say(page: Page, text: str) -> None:
    box = page.locator("#composer-text")
    box.fill(text)
    box.press("Enter")


def bubbles(page: Page, text: str | None = None) -> Locator:
    found = page.locator(".log .msg .bubble")
    return found if text is None else found.filter(has_text=text)


def test_two_people_chat_in_the_lobby(server: ServerProcess, pages: Pages) -> None:
    alice = pages.page(f"{server.base_url}/r/lobby")
    join(alice, "alice")
    bob = pages.page(f"{server.base_url}/r/lobby")
    join(bob, "bob")

    # presence: each sees both, the newcomer live (joined) and the other from `presence`
    for page in (alice, bob):
        people = page.locator("#people-list li")
        expect(people.filter(has_text="alice")).to_have_count(1)
        expect(people.filter(has_text="bob")).to_have_count(1)

    # typing shows on the other side, not on one's own
    bob.locator("#composer-text").press_sequentially("hel")
    expect(alice.locator("#typing")).to_have_text("bob is typing…")
    expect(bob.locator("#typing")).to_have_text("")

    say(bob, "hello alice, see https://example.com/docs?page=2.")
    expect(bubbles(alice, "hello alice")).to_have_count(1)
    expect(alice.locator("#typing")).to_have_text("")  # a message ends "typing"
    link = bubbles(alice, "hello alice").locator("a")
    expect(link).to_have_attribute("href", "https://example.com/docs?page=2")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")
    # the new message is announced to screen readers
    expect(alice.locator("[aria-live=polite]")).to_have_text(
        "bob: hello alice, see https://example.com/docs?page=2."
    )
    # and on bob's side it went sending -> sent
    expect(
        bob.locator(".log .msg.own[data-state=sent]").filter(has_text="hello alice")
    ).to_have_count(1)
    expect(bob.locator(".outbox .msg")).to_have_count(0)

    say(alice, "hi bob!")
    expect(bubbles(bob, "hi bob!")).to_have_count(1)
    msg = bob.locator(".log .msg").filter(has_text="hi bob!")
    expect(msg.locator(".author")).to_have_text("alice")
    expect(msg.locator("time")).to_have_attribute("datetime", re.compile(r"^\d{4}-\d\d-\d\dT"))

    # the nickname is remembered: a reload goes straight to the composer, same user
    alice.reload()
    expect(alice.locator("#composer-text")).to_be_visible()
    expect(alice.locator("#join")).to_be_hidden()
    expect(alice.locator("#you-name")).to_have_text("alice")
    expect(bubbles(alice, "hi bob!")).to_have_count(1)
    expect(alice.locator(".log .msg.own").filter(has_text="hi bob!")).to_have_count(1)


def test_unread_count_in_the_title_while_the_tab_is_hidden(
    server: ServerProcess, pages: Pages
) -> None:
    room = unique("title")
    reader = pages.page(f"{server.base_url}/r/{room}")
    join(reader, "reader")
    writer = pages.page(f"{server.base_url}/r/{room}")
    join(writer, "writer")
    # make the reader's tab hidden, as when the user switched to another tab
    reader.evaluate(
        """() => {
        Object.defineProperty(document, "hidden", { configurable: true, get: () => true });
        Object.defineProperty(document, "visibilityState", {
          configurable: true, get: () => "hidden",
        });
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    )
    say(writer, "one")
    say(writer, "two")
    expect(reader).to_have_title(f"(2) #{room} · hubbub")
    reader.evaluate(
        """() => {
        delete document.hidden; delete document.visibilityState;
        document.dispatchEvent(new Event("visibilitychange"));
    }"""
    )
    expect(reader).to_have_title(f"#{room} · hubbub")


async def _seed(server: ServerProcess, topic: str, count: int) -> None:
    client = await HubbubClient.connect(server.ws_url)
    try:
        await client.register("archivist")
        for n in range(1, count + 1):
            await client.send(topic, f"archived message {n}", f"seed-{n}")
    finally:
        await client.close()


def test_history_on_join_and_scroll_back(server: ServerProcess, pages: Pages) -> None:
    room = unique("history")
    run_async(lambda: _seed(server, f"room/{room}", 120))
    page = pages.page(f"{server.base_url}/r/{room}")
    log = page.locator(".log .msg")
    # the newest page first, scrolled to the bottom
    expect(log).to_have_count(50)
    expect(log.last).to_contain_text("archived message 120")
    expect(log.first).to_contain_text("archived message 71")
    assert page.locator(".scroller").evaluate(
        "s => s.scrollHeight - s.scrollTop - s.clientHeight < 48"
    )
    # scrolling back pages in older messages and keeps the reader's place
    anchor = page.locator(".log .msg[data-seq='71']")
    scroller = page.locator(".scroller")
    scroller.evaluate("s => { s.scrollTop = 0; }")
    expect(log).to_have_count(100)  # one page: the view stays where the reader was
    assert anchor.evaluate(
        """(el) => el.getBoundingClientRect().top
                   > el.closest('.scroller').getBoundingClientRect().top"""
    )
    scroller.evaluate("s => { s.scrollTop = 0; }")
    expect(log).to_have_count(120)
    expect(log.first).to_contain_text("archived message 1")
    expect(page.locator(".history-edge .edge-text")).to_have_text(
        "This is the beginning of the conversation."
    )
    seqs = page.locator(".log .msg").evaluate_all("els => els.map(e => Number(e.dataset.seq))")
    assert seqs == list(range(1, 121))


def test_markup_in_a_message_is_shown_as_text_and_runs_nothing(
    server: ServerProcess, pages: Pages
) -> None:
    room = unique("xss")
    attacker = pages.page(f"{server.base_url}/r/{room}")
    join(attacker, "mallory")
    victim = pages.page(f"{server.base_url}/r/{room}")
    join(victim, "victim")
    payloads = [
        "<img src=x onerror=alert(1)>",
        "<script>alert(2)</script>",
        "javascript:alert(3) and <a href=javascript:alert(4)>click</a>",
        '"><svg onload=alert(5)>',
    ]
    for text in payloads:
        # one at a time: the server handles a connection's frames concurrently (as API Gateway
        # does), so quick sends may be stored in another order, and the order is checked below
        say(attacker, text)
        stored = attacker.locator(".log .msg:not(.pending) .bubble").filter(has_text=text)
        expect(stored).to_have_count(1)
    for page in (victim, attacker):
        for text in payloads:
            expect(page.locator(".log .msg .bubble").filter(has_text=text)).to_have_count(1)
        bodies = page.locator(".log .msg .bubble").all_text_contents()
        assert bodies == payloads
        assert page.locator(".log img, .log script, .log svg:not(.icon), .log iframe").count() == 0
        assert page.locator(".log .bubble a").count() == 0  # no javascript: link, no markup link
    # and nothing ran: the pages fixture fails the test on any dialog or console error
    assert pages.problems.dialogs == []
