"""Attachments in a real browser (issue 19, item 3): a room's paperclip button, paste and drop
upload straight to the runtime's S3; an image shows inline (size-capped) to every reader, any
other file as a download link; a file the rules refuse never leaves the page. The console and
the widget share the composer: an operator's image reaches the visitor's widget."""

from __future__ import annotations

import struct
import zlib

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.conftest import Pages, unique
from tests.browser.test_rooms import join
from tests.browser.test_support import open_widget, row, send, sign_in, start_chat
from tests.support.server import ServerProcess

pytestmark = pytest.mark.browser


def png(width: int, height: int) -> bytes:
    """A real PNG (a browser must decode it) of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = b"".join(b"\x00" + b"\x20\x80\xc0" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(pixels))
        + chunk(b"IEND", b"")
    )


def attach_by_button(page: Page | Locator, owner: Page, name: str, kind: str, data: bytes) -> None:
    with owner.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Attach files").click()
    chooser.value.set_files({"name": name, "mimeType": kind, "buffer": data})


def hand_over(page: Page, how: str, name: str, kind: str, text: str) -> None:
    """Paste into the message box, or drop on the transcript, a file made in the page."""
    page.evaluate(
        """([how, name, kind, text]) => {
          const data = new DataTransfer();
          const init = { bubbles: true, cancelable: true };
          data.items.add(new File([text], name, { type: kind }));
          if (how === "paste") {
            const box = document.getElementById("composer-text");
            box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, ...init }));
          } else {
            const target = document.getElementById("transcript");
            target.dispatchEvent(new DragEvent("dragover", { dataTransfer: data, ...init }));
            target.dispatchEvent(new DragEvent("drop", { dataTransfer: data, ...init }));
          }
        }""",
        [how, name, kind, text],
    )


def images(page: Page | Locator, name: str) -> Locator:
    return page.locator(f".log .msg img.attachment-image[alt='{name}']")


def loaded(image: Locator) -> None:
    expect(image).to_be_visible()
    image.evaluate("img => img.decode()")  # the bytes came back from the bucket and decode
    width = image.evaluate("img => img.naturalWidth")
    box = image.bounding_box()
    assert width > 0 and box is not None
    assert box["width"] <= 320 and box["height"] <= 240, box  # size-capped


def test_an_image_by_button_and_files_by_paste_and_drop_in_a_room(
    server: ServerProcess, pages: Pages
) -> None:
    room = unique("files")
    author = pages.page(f"{server.base_url}/r/{room}")
    join(author, "author")
    reader = pages.page(f"{server.base_url}/r/{room}")
    join(reader, "reader")

    attach_by_button(author, author, "big picture.png", "image/png", png(900, 700))
    expect(author.locator(".attach-chip[data-state=ready]")).to_have_count(1)
    author.locator("#composer-text").press("Enter")  # an image alone, no text
    expect(author.locator(".attach-chip")).to_have_count(0)
    loaded(images(reader, "big picture.png"))
    loaded(images(author, "big picture.png"))  # the sender's own row gets the link too

    hand_over(author, "paste", "notes.txt", "text/plain", "pasted <b>notes</b>")
    hand_over(author, "drop", "report.pdf", "application/pdf", "%PDF-1.4 dropped")
    expect(author.locator(".attach-chip[data-state=ready]")).to_have_count(2)
    author.locator("#composer-text").fill("two files")
    author.locator("#composer-text").press("Enter")
    files = reader.locator(".log .msg").filter(has_text="two files").locator(".attachment.file a")
    expect(files).to_have_count(2)
    expect(files.nth(0)).to_contain_text("notes.txt")
    expect(files.nth(1)).to_contain_text("report.pdf")
    expect(reader.locator(".log .msg b")).to_have_count(0)  # a file's text is never markup
    href = files.nth(0).get_attribute("href")
    assert href is not None
    answer = reader.request.get(href)
    assert answer.status == 200 and answer.body() == b"pasted <b>notes</b>"
    assert answer.headers["content-disposition"].startswith("attachment")
    assert answer.headers["content-type"].startswith("text/plain")

    reader.reload()
    loaded(images(reader, "big picture.png"))  # history mints fresh links
    assert pages.problems.unexpected() == [] and pages.problems.dialogs == []


def test_a_file_the_rules_refuse_never_leaves_the_page(server: ServerProcess, pages: Pages) -> None:
    room = unique("refused")
    page = pages.page(f"{server.base_url}/r/{room}")
    join(page, "careful")
    uploads: list[str] = []
    page.on("request", lambda r: uploads.append(r.url) if "/api/uploads" in r.url else None)
    hand_over(page, "paste", "page.html", "text/html", "<script>alert(1)</script>")
    attach_by_button(page, page, "huge.png", "image/png", b"\x89PNG" + bytes(10 * 1024 * 1024))
    chips = page.locator(".attach-chip[data-state=failed]")
    expect(chips).to_have_count(2)
    expect(chips.nth(0)).to_contain_text("Only images")
    expect(chips.nth(1)).to_contain_text("at most 10.0 MB")
    assert uploads == []
    chips.nth(0).get_by_role("button").click()
    expect(chips).to_have_count(1)
    assert pages.problems.unexpected() == [] and pages.problems.dialogs == []


def test_an_operator_sends_an_image_to_a_visitors_widget(
    server: ServerProcess, pages: Pages, operators: dict[str, str]
) -> None:
    visitor_name = unique("Iris ")
    visitor = pages.page(f"{server.base_url}/demo")
    frame = open_widget(visitor)
    start_chat(frame, visitor_name)
    send(frame, "Message", "Which colour is it?")
    console = pages.page(f"{server.base_url}/console")
    sign_in(console, operators["Ann"])
    row(console, visitor_name).get_by_role("button").click()
    attach_by_button(console, console, "swatch.png", "image/png", png(40, 30))
    expect(console.locator(".attach-chip[data-state=ready]")).to_have_count(1)
    send(console, f"Reply to {visitor_name}", "This one")
    loaded(images(frame, "swatch.png"))
    attach_by_button(frame, visitor, "receipt.pdf", "application/pdf", b"%PDF-1.4 receipt")
    expect(frame.locator(".attach-chip[data-state=ready]")).to_have_count(1)
    frame.get_by_label("Message").press("Enter")
    expect(console.locator(".log .msg .attachment.file a")).to_contain_text("receipt.pdf")
    assert pages.problems.unexpected() == [] and pages.problems.dialogs == []
