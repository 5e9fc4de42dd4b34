// The rooms page, /r/{name}: read as a guest, pick a nickname once, chat. The pieces are in
// room/: the conversation, the people list, and who the reader is.
import { HubbubClient } from "./hubbub.js";
import { showConversation } from "./room/conversation.js";
import { Membership } from "./room/membership.js";
import { People } from "./room/people.js";
import { Store, resolveWebSocketUrl, safeStorage } from "./ui/config.js";
import { byId, h } from "./ui/dom.js";
import { Announcer, TitleBadge } from "./ui/status.js";
import { TypingIndicator } from "./ui/typing.js";

const NAME_RE = /^[A-Za-z0-9_.:@~-]{1,120}$/;

function roomName() {
  const fromQuery = new URLSearchParams(location.search).get("room");
  if (fromQuery) return fromQuery;
  const match = location.pathname.match(/\/r\/([^/]+)\/?$/);
  if (!match) return "lobby";
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return "";
  }
}

function fail(text) {
  const main = byId("main");
  main.replaceChildren(
    h(
      "div",
      { class: "page-error" },
      h("h2", { text: "This room cannot be opened" }),
      h("p", { text }),
      h("a", { class: "button", href: "/", text: "Back to the start page" }),
    ),
  );
}

async function main() {
  const name = roomName();
  const topic = `room/${name}`;
  byId("room-name").textContent = name;
  const title = new TitleBadge(`#${name} · hubbub`);
  title.render();
  if (!NAME_RE.test(name)) {
    fail("Room names use letters, digits and _ . : @ ~ - only.");
    return;
  }
  let url;
  try {
    url = await resolveWebSocketUrl();
  } catch (err) {
    fail(`The chat server is not configured (${err.message}).`);
    return;
  }
  const store = new Store(`hubbub.rooms:${url}:`);
  const identity = store.get("identity"); // {token, user, nickname}
  const client = new HubbubClient(url, {
    token: identity?.token,
    storage: safeStorage(),
    storageKey: `hubbub.outbox:${url}:${topic}`,
  });
  let membership = null;
  const me = () => client.user?.id || membership?.userId || null;
  const announcer = new Announcer(byId("announcer-host"));
  const typing = new TypingIndicator(byId("typing"));
  const canSend = () => membership.registered;
  showConversation({ client, topic, name, me, canSend, typing, announcer, title, fail });
  const people = new People({ client, topic, me, typing });
  const rejoined = () => people.refresh();
  membership = new Membership(identity, { client, topic, store, rejoined });
  client.addEventListener("token", (event) => {
    if (!membership.identity) return;
    membership.identity = { ...membership.identity, token: event.detail.token };
    store.set("identity", membership.identity);
  });
  membership.show(false);
  client.connect();
  if (!identity) byId("nickname").focus({ preventScroll: true });
  // for tests and debugging from the console: the client of this page
  globalThis.hubbubClient = client;
}

main();
