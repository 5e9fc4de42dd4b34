"""Editing and deleting in a room page, in a real browser (issue 19): the author's Edit and
Delete controls, and the other reader's view updated from the pushed ``edited``/``deleted``."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Pages, unique
from tests.browser.test_rooms import bubbles, join, say
from tests.support.server import ServerProcess

pytestmark = pytest.mark.browser


def test_the_author_edits_and_deletes_and_the_other_reader_sees_it(
    server: ServerProcess, pages: Pages
) -> None:
    room = unique("edit")
    author = pages.page(f"{server.base_url}/r/{room}")
    join(author, "author")
    reader = pages.page(f"{server.base_url}/r/{room}")
    join(reader, "reader")

    say(author, "teh typo")
    own = author.locator(".log .msg.own[data-state=sent]").filter(has_text="teh typo")
    expect(own).to_have_count(1)
    expect(bubbles(reader, "teh typo")).to_have_count(1)
    theirs = reader.locator(".log .msg").filter(has_text="teh typo")
    expect(theirs.locator(".msg-edit")).to_have_count(0)  # not the reader's to change

    own.get_by_role("button", name="Edit message").click()
    editor = author.get_by_label("Edit your message")
    editor.fill("the <b>fixed</b> text")
    author.get_by_role("button", name="Save").click()
    expect(bubbles(author, "the <b>fixed</b> text")).to_have_count(1)
    expect(bubbles(reader, "the <b>fixed</b> text")).to_have_count(1)
    expect(reader.locator(".log .msg .edited")).to_have_text("(edited)")
    expect(reader.locator(".log .msg b")).to_have_count(0)  # text, never markup

    row = author.locator(".log .msg.own").filter(has_text="fixed")
    row.get_by_role("button", name="Delete message").click()
    expect(row.get_by_role("button", name="Delete message")).to_have_text("Delete for everyone?")
    row.get_by_role("button", name="Delete message").click()
    for page in (author, reader):
        expect(page.locator(".log .msg.deleted .tombstone")).to_have_text("Message deleted")
        expect(bubbles(page, "fixed")).to_have_count(0)

    reader.reload()
    expect(reader.locator(".log .msg.deleted .tombstone")).to_have_count(1)
    assert pages.problems.unexpected() == [] and pages.problems.dialogs == []
