"""MQTT.js in the browser (issue 14, item 4): a page that joins a room over MQTT — MQTT.js over
WebSocket at ``/mqtt``, a hubbub token as the password — and talks with a person in hubbub's
own web client (WebSocket): each sees the other's messages, and the web client lists the MQTT
user among the room's people while it is subscribed (presence from IoT lifecycle events).

MQTT.js is the pinned npm release (``tests/support/mqttjs.py``), handed to the page through
Playwright's routing: nothing of it is committed.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from hubbub.client import HubbubClient
from tests.browser.conftest import Pages, run_async, unique
from tests.browser.test_rooms import bubbles, join, say
from tests.support.mqttjs import mqttjs_bundle
from tests.support.server import ServerProcess

pytestmark = pytest.mark.browser

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MQTT.js room</title>
<script src="mqtt.min.js"></script></head>
<body><p id="state">idle</p><ul id="log"></ul>
<script>
// A room over MQTT: subscribe to the topic, send through Basic Ingest, show each message.
function start(url, token, topic, clientId) {
  const state = document.getElementById("state");
  const client = mqtt.connect(url, {
    username: "anyone", password: token, clientId, protocolVersion: 5, reconnectPeriod: 0,
  });
  client.on("connect", () => {
    client.subscribe(topic, { qos: 1 }, (err) => { state.textContent = err ? "refused" : "in"; });
  });
  client.on("error", (err) => { state.textContent = "error " + err.message; });
  client.on("message", (_topic, payload) => {
    const event = JSON.parse(new TextDecoder().decode(payload));
    if (event.type !== "message") return;
    const item = document.createElement("li");
    item.textContent = event.nickname + ": " + event.text;  // never innerHTML
    item.dataset.seq = String(event.seq);
    document.getElementById("log").append(item);
  });
  window.room = {
    send(text, clientMsgId) {
      const body = JSON.stringify({ text, clientMsgId });
      client.publish("$aws/rules/hubbub/" + topic, body, { qos: 1 });
    },
    leave() { client.end(); state.textContent = "left"; },
  };
}
</script></body></html>
"""


def _mqtt_page(pages: Pages, server: ServerProcess) -> Page:
    """The page at ``/__mqttjs__/`` on the server's origin, both files routed by Playwright."""
    bundle = mqttjs_bundle()
    # a routed response has no address of its own, so Chromium's Local Network Access checks
    # treat the page as public and block its WebSocket to 127.0.0.1 unless permitted
    page = pages.page(context=pages.context(permissions=["local-network-access"]))

    def serve(route: Route) -> None:
        if route.request.url.endswith("/mqtt.min.js"):
            route.fulfill(body=bundle, content_type="text/javascript")
        else:
            route.fulfill(body=PAGE, content_type="text/html")

    page.route(f"{server.base_url}/__mqttjs__/**", serve)
    page.goto(f"{server.base_url}/__mqttjs__/room.html")
    return page


async def _token(server: ServerProcess, nickname: str) -> str:
    client = await HubbubClient.connect(server.ws_url)
    try:
        welcome: dict[str, Any] = await client.register(nickname)
        return str(welcome["token"])
    finally:
        await client.close()


def test_an_mqtt_js_page_and_the_web_client_chat_in_one_room(
    server: ServerProcess, pages: Pages
) -> None:
    room = unique("mqttjs")
    topic = f"room/{room}"
    nickname = unique("mq")
    token = run_async(lambda: _token(server, nickname))
    web = pages.page(f"{server.base_url}/r/{room}")
    join(web, "webby")

    mq = _mqtt_page(pages, server)
    mq.evaluate("args => start(...args)", [server.mqtt_ws_url, token, topic, unique("js-")])
    expect(mq.locator("#state")).to_have_text("in")
    # present for the WebSocket side: the web client lists the MQTT user
    expect(web.locator("#people-list")).to_contain_text(nickname)

    say(web, "hello from the web client")
    expect(mq.locator("#log li")).to_contain_text(["webby: hello from the web client"])

    mq.evaluate("() => room.send('<b>hello</b> from MQTT.js', 'js-1')")
    expect(bubbles(web, "<b>hello</b> from MQTT.js")).to_have_count(1)
    # the sender's own message comes back to it once, with its seq, like everyone's
    expect(mq.locator("#log li")).to_have_count(2)
    expect(mq.locator("#log li").nth(1)).to_have_text(f"{nickname}: <b>hello</b> from MQTT.js")

    mq.evaluate("() => room.leave()")
    expect(web.locator("#people-list")).not_to_contain_text(nickname)
