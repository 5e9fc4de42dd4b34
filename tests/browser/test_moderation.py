"""Muting from the operator console, in a real browser (issue 19): the sanctions panel applies a
mute, lists it, and lifts it; the muted visitor's room page sees its message refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Pages, unique
from tests.browser.test_rooms import bubbles, join, say
from tests.browser.test_support import sign_in
from tests.support.server import ServerProcess

pytestmark = pytest.mark.browser


def test_an_operator_mutes_and_lifts_from_the_console(
    server: ServerProcess, pages: Pages, operators: dict[str, str]
) -> None:
    room = unique("mod")
    visitor = pages.page(f"{server.base_url}/r/{room}")
    join(visitor, "loud")
    user_id = visitor.evaluate("globalThis.hubbubClient.user.id")

    console = pages.page(f"{server.base_url}/console")
    sign_in(console, operators["Ann"])
    console.get_by_role("button", name="Sanctions").click()
    console.get_by_label("Topic").fill(f"room/{room}")
    console.get_by_label("User id").fill(user_id)
    console.locator("#moderate-sanction").select_option("mute")
    console.get_by_role("button", name="Apply").click()
    expect(console.locator("#moderate-status")).to_have_text(f"mute: {user_id} on room/{room}")
    listed = console.locator("#sanction-list li").filter(has_text=user_id)
    expect(listed).to_contain_text("mute")
    expect(listed).to_contain_text("until lifted")

    say(visitor, "shouting")
    expect(visitor.locator(".outbox .msg[data-state=failed]")).to_have_count(1)
    expect(bubbles(visitor, "shouting")).to_have_count(1)  # kept, as unsent, to retry

    listed.get_by_role("button", name="Lift").click()
    expect(console.locator("#sanction-list li")).to_have_count(0)
    expect(console.locator("#sanctions-empty")).to_be_visible()
    visitor.get_by_role("button", name="Retry").click()
    expect(visitor.locator(".log .msg.own[data-state=sent]")).to_have_count(1)
    pages.allow_errors("muted")
