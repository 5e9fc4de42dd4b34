"""The support desk in real browsers: the widget on a host page and the operator console."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import FrameLocator, Locator, Page, expect

from tests.browser.conftest import Pages, add_operators, unique
from tests.support.server import ServerProcess

pytestmark = pytest.mark.browser

WIDGET = "iframe[title='Northwind support']"


def open_widget(page: Page) -> FrameLocator:
    page.get_by_role("button", name="Open chat").click()
    expect(page.get_by_role("button", name="Close chat")).to_have_attribute("aria-expanded", "true")
    return page.frame_locator(WIDGET)


def start_chat(frame: FrameLocator, nickname: str, email: str = "") -> None:
    frame.get_by_label("Your name").fill(nickname)
    if email:
        frame.get_by_label("Email").fill(email)
    frame.get_by_role("button", name="Start chat").click()
    expect(frame.get_by_label("Message")).to_be_focused()


def send(box_owner: Page | FrameLocator, label: str, text: str) -> None:
    box = box_owner.get_by_label(label)
    box.fill(text)
    box.press("Enter")


def sign_in(page: Page, token: str) -> None:
    page.get_by_label("Operator token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Conversations")).to_be_visible()


def row(console: Page, nickname: str) -> Locator:
    return console.locator("#conversation-list li").filter(has_text=nickname)


def test_visitor_and_operator_talk_through_widget_and_console(
    server: ServerProcess, pages: Pages, operators: dict[str, str]
) -> None:
    visitor_name = unique("Vera ")
    visitor = pages.page(f"{server.base_url}/demo")
    frame = open_widget(visitor)
    expect(frame.locator("#w-status-text")).not_to_have_text("Connecting…")
    start_chat(frame, visitor_name, "vera@example.com")
    send(frame, "Message", "Hi! Does the Harbor 7 come in XL?")
    expect(frame.locator(".log .msg.own[data-state=sent]")).to_have_count(1)

    # two operators, each with their own console, read markers and unread counts
    ann_console = pages.page(f"{server.base_url}/console")
    sign_in(ann_console, operators["Ann"])
    bo_console = pages.page(f"{server.base_url}/console")
    sign_in(bo_console, operators["Bo"])
    for console in (ann_console, bo_console):
        expect(row(console, visitor_name).locator(".unread-count")).to_have_text("1")

    # the visitor writes again: both consoles update live
    send(frame, "Message", "And is delivery free?")
    for console in (ann_console, bo_console):
        expect(row(console, visitor_name).locator(".unread-count")).to_have_text("2")
        expect(row(console, visitor_name)).to_contain_text("And is delivery free?")

    # ann opens it: read, her badge goes, bo's stays
    row(ann_console, visitor_name).get_by_role("button").click()
    expect(ann_console.get_by_role("heading", name=visitor_name)).to_be_visible()
    expect(ann_console.locator("#visitor-email")).to_contain_text("vera@example.com")
    expect(ann_console.locator(".log .msg")).to_have_count(2)
    expect(row(ann_console, visitor_name).locator(".unread")).to_have_count(0)
    expect(row(bo_console, visitor_name).locator(".unread-count")).to_have_text("2")
    expect(ann_console).to_have_title("Console · hubbub")

    # the visitor sees that an operator is there, and the reply, with its typing first
    expect(frame.locator("#w-status-text")).to_contain_text("is here")
    ann_console.get_by_label(f"Reply to {visitor_name}").press_sequentially("Ye")
    expect(frame.locator("#typing")).to_contain_text("is typing…")
    send(ann_console, f"Reply to {visitor_name}", "Yes: XL fits riders of 185-200 cm.")
    reply = frame.locator(".log .msg").filter(has_text="XL fits riders")
    expect(reply).to_have_count(1)
    expect(reply.locator(".badge")).to_have_text("Support")
    expect(row(bo_console, visitor_name).locator(".unread-count")).to_have_text("3")

    # the visitor's reload keeps the conversation (token in localStorage, history on open)
    visitor.reload()
    frame = visitor.frame_locator(WIDGET)  # the panel was open: it opens again
    expect(frame.locator(".log .msg")).to_have_count(3)
    expect(frame.locator(".log .msg.own")).to_have_count(2)
    expect(frame.locator("#intro")).to_be_hidden()
    send(frame, "Message", "Great, thanks!")
    expect(row(ann_console, visitor_name)).to_contain_text("Great, thanks!")
    expect(ann_console.locator(".log .msg")).to_have_count(4)
    # one conversation per visitor, whatever the reloads
    expect(row(bo_console, visitor_name)).to_have_count(1)

    # the operator's sign-in lasts for the tab (sessionStorage) until "Sign out"
    ann_console.reload()
    expect(ann_console.get_by_role("heading", name="Conversations")).to_be_visible()
    ann_console.get_by_role("button", name="Sign out").click()
    expect(ann_console.get_by_label("Operator token")).to_be_visible()
    ann_console.reload()
    expect(ann_console.get_by_label("Operator token")).to_be_visible()
    assert ann_console.evaluate("() => sessionStorage.length + localStorage.length") == 0


def test_reading_in_one_console_tab_clears_the_badge_in_the_other(
    server: ServerProcess, pages: Pages, operators: dict[str, str]
) -> None:
    """A read marker is the operator's: the second console of the same operator drops its badge
    the moment the first one opens the conversation, without a reload."""
    visitor_name = unique("Rhea ")
    frame = open_widget(pages.page(f"{server.base_url}/demo"))
    start_chat(frame, visitor_name)
    send(frame, "Message", "Anyone there?")
    tabs = [pages.page(f"{server.base_url}/console") for _ in range(2)]
    for tab in tabs:
        sign_in(tab, operators["Bo"])
        expect(row(tab, visitor_name).locator(".unread-count")).to_have_text("1")
        # the conversations reply says the visitor's widget is open: the dot is on from the start
        expect(row(tab, visitor_name).locator(".dot.presence")).to_have_class(re.compile(r"\bon\b"))

    row(tabs[0], visitor_name).get_by_role("button").click()

    for tab in tabs:
        expect(row(tab, visitor_name).locator(".unread")).to_have_count(0)


def test_the_widget_shows_operators_coming_and_going_without_a_reload(
    fresh_server: Callable[[], ServerProcess], pages: Pages
) -> None:
    """The widget's status is pushed on $sys/operators: it turns online as soon as an operator
    signs in to the console and away when they leave, long before any poll could have noticed."""
    server = fresh_server()  # of its own: no operator of another test is online
    token = add_operators(server, "Dee")["Dee"]
    visitor = pages.page(f"{server.base_url}/demo")
    frame = open_widget(visitor)
    status, dot = frame.locator("#w-status-text"), frame.locator("#w-dot")
    expect(status).to_have_text("Leave a message and we will get back to you.")
    expect(dot).not_to_have_class(re.compile(r"\bon\b"))

    console = pages.page(f"{server.base_url}/console")
    sign_in(console, token)
    expect(status).to_have_text("We are online and usually reply in a few minutes")
    expect(dot).to_have_class(re.compile(r"\bon\b"))

    console.close()
    expect(status).to_have_text("Away · last seen just now. Leave a message!")
    expect(dot).not_to_have_class(re.compile(r"\bon\b"))


def test_the_console_signs_in_with_no_token_in_the_url(
    server: ServerProcess, pages: Pages, operators: dict[str, str]
) -> None:
    """Issue 15, item 10: the operator's token travels as a WebSocket subprotocol, which the
    server answers with hubbub.v1 (else Chromium would drop the connection), never in the URL."""
    console = pages.page(f"{server.base_url}/console")
    urls: list[str] = []
    console.on("websocket", lambda ws: urls.append(ws.url))
    token = next(iter(operators.values()))
    sign_in(console, token)
    # signed in (Chromium fails a handshake whose offered subprotocols get no answer), and no
    # URL the page opened carries the token
    assert urls and all("token" not in url and token not in url for url in urls)


def test_a_wrong_token_is_refused_at_sign_in(server: ServerProcess, pages: Pages) -> None:
    console = pages.page(f"{server.base_url}/console")
    # the refused handshakes (HTTP 401) are logged by Chromium
    pages.allow_errors("WebSocket connection to", "401")
    console.get_by_label("Operator token").fill("not-a-token")
    console.get_by_role("button", name="Sign in").click()
    expect(console.get_by_role("alert")).to_have_text(
        "That token was refused. Check that you pasted all of it."
    )
    expect(console.get_by_label("Operator token")).to_be_visible()


def test_unread_replies_show_on_the_closed_widget(
    server: ServerProcess, pages: Pages, operators: dict[str, str]
) -> None:
    visitor_name = unique("Ola ")
    visitor = pages.page(f"{server.base_url}/demo")
    frame = open_widget(visitor)
    start_chat(frame, visitor_name)
    send(frame, "Message", "Hello?")
    expect(frame.locator(".log .msg.own[data-state=sent]")).to_have_count(1)
    frame.get_by_label("Message").press("Escape")  # closes the panel, focus back on the button
    launcher = visitor.get_by_role("button", name="Open chat")
    expect(launcher).to_be_focused()

    console = pages.page(f"{server.base_url}/console")
    sign_in(console, operators["Cy"])
    row(console, visitor_name).get_by_role("button").click()
    send(console, f"Reply to {visitor_name}", "Hi Ola, how can I help?")
    expect(visitor.get_by_role("button", name="Open chat, 1 unread")).to_be_visible()
    visitor.get_by_role("button", name="Open chat, 1 unread").click()
    expect(frame.locator(".log .msg").filter(has_text="how can I help")).to_have_count(1)
    expect(visitor.get_by_role("button", name="Close chat")).to_be_visible()


@pytest.fixture
def other_site(server: ServerProcess) -> Iterator[str]:
    """A host site on another origin (another port), with a strict CSP and hostile CSS."""
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>Shop</title>
<link rel="stylesheet" href="/shop.css"></head>
<body><h1>A shop</h1><div class="promo"><button>Buy</button></div>
<script src="{server.base_url}/static/widget.js" data-hubbub-url="{server.ws_url}"
        data-hubbub-title="Shop help" defer></script></body></html>""".encode()
    css = b"* { all: unset !important; } div, button, iframe { display: none !important; }"
    csp = (
        f"default-src 'none'; script-src {server.base_url}/static/widget.js; "
        f"frame-src {server.base_url}; style-src 'self'; require-trusted-types-for 'script'"
    )

    class Site(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body, kind = (css, "text/css") if self.path == "/shop.css" else (html, "text/html")
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Security-Policy", csp)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Site)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_the_widget_works_on_another_origin_under_a_strict_csp(
    pages: Pages, other_site: str
) -> None:
    page = pages.page(other_site)
    launcher = page.get_by_role("button", name="Open chat")
    expect(launcher).to_be_visible()
    assert launcher.evaluate("b => getComputedStyle(b).position") == "fixed"
    launcher.click()
    frame = page.frame_locator("iframe[title='Shop help']")
    expect(frame.get_by_role("heading", name="Shop help")).to_be_visible()
    expect(frame.locator("#w-status-text")).not_to_have_text("Connecting…")
    start_chat(frame, unique("Xi "))
    send(frame, "Message", "Hello from another site")
    expect(frame.locator(".log .msg.own[data-state=sent]")).to_have_count(1)
