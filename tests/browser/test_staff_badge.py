"""Issue 15, item 7 in a real browser: the rooms page badges staff by the role the server put on
each message, so a visitor who calls themselves "Support (operator)" gets no badge, even when
their send frame claims the operator role; an operator does."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from hubbub.client import HubbubClient
from tests.browser.conftest import Pages, run_async, unique
from tests.browser.test_rooms import join, say
from tests.support.server import ServerProcess

pytestmark = pytest.mark.browser


async def _impostor_and_operator(server: ServerProcess, topic: str, token: str) -> None:
    impostor = await HubbubClient.connect(server.ws_url)
    operator = await HubbubClient.connect(server.ws_url, token=token)
    try:
        await impostor.register("Support (operator)")
        await impostor.request(
            "send", topic=topic, text="from the impostor", clientMsgId="i1", role="operator"
        )
        await operator.send(topic, "from the real team", "o1")
    finally:
        await impostor.close()
        await operator.close()


def test_a_visitor_named_like_staff_gets_no_badge_and_an_operator_does(
    server: ServerProcess, pages: Pages, operators: dict[str, str]
) -> None:
    room = unique("staff-")
    reader = pages.page(f"{server.base_url}/r/{room}")
    join(reader, "reader")
    mimic = pages.page(f"{server.base_url}/r/{room}")
    join(mimic, "Support (operator)")
    say(mimic, "hello from the browser impostor")
    run_async(lambda: _impostor_and_operator(server, f"room/{room}", operators["Cy"]))

    log = reader.locator(".log .msg")
    for text in ("hello from the browser impostor", "from the impostor"):
        row = log.filter(has_text=text)
        expect(row).to_have_count(1)
        expect(row.locator(".author")).to_have_text("Support (operator)")
        expect(row.locator(".badge")).to_have_count(0)
        expect(row).to_have_class("msg role-visitor")
    staff = log.filter(has_text="from the real team")
    expect(staff).to_have_count(1)
    expect(staff.locator(".badge")).to_have_text("Staff")
    expect(staff).to_have_class("msg role-operator")

    # the same after a reload, from history
    reader.reload()
    expect(reader.locator(".log .msg .badge")).to_have_count(1)
    expect(
        reader.locator(".log .msg").filter(has_text="from the impostor").locator(".badge")
    ).to_have_count(0)
