// The support widget's chat, inside the iframe that widget.js adds to a host page. The pieces are
// in widget-frame/: the visitor's chat (chat.js), the operator status (status.js) and the link
// with the host page (host.js).
import { HubbubClient } from "./hubbub.js";
import { Store, resolveWebSocketUrl, safeStorage } from "./ui/config.js";
import { byId, icon } from "./ui/dom.js";
import { Announcer, ConnectionBanner } from "./ui/status.js";
import { TypingIndicator } from "./ui/typing.js";
import { VisitorChat } from "./widget-frame/chat.js";
import { HostLink } from "./widget-frame/host.js";
import { OperatorStatus } from "./widget-frame/status.js";

const params = new URLSearchParams(location.hash.slice(1));

async function main() {
  const title = params.get("title") || "Chat with us";
  byId("w-title").textContent = title;
  document.title = title;
  byId("w-close").append(icon("close"));
  byId("send").append(icon("send"));
  let chat = null;
  const host = new HostLink({ opened: () => chat?.focus() });
  if (!host.embedded) byId("w-close").hidden = true;

  let url;
  try {
    url = await resolveWebSocketUrl(params.get("ws"));
  } catch {
    byId("w-status-text").textContent = "Chat is unavailable right now.";
    return;
  }
  const store = new Store(`hubbub.widget:${url}:`);
  const identity = store.get("identity"); // {token, user, nickname, email}
  const client = new HubbubClient(url, {
    token: identity?.token,
    storage: safeStorage(),
    storageKey: `hubbub.widget.outbox:${url}`,
  });
  const announcer = new Announcer(byId("announcer-host"));
  new ConnectionBanner(client, byId("w-main"));
  const typing = new TypingIndicator(byId("typing"));
  const status = new OperatorStatus({ client, topic: () => chat.topic });
  chat = new VisitorChat(identity, { client, store, host, typing, announcer });
  client.addEventListener("token", (event) => {
    if (!chat.identity) return;
    chat.identity = { ...chat.identity, token: event.detail.token };
    store.set("identity", chat.identity);
  });
  client.addEventListener("session", () => {
    status.render();
    if (!chat.identity) return;
    chat.join();
    status.refreshHere();
  });
  chat.start();
  client.connect();
  globalThis.hubbubClient = client;
  host.post({ type: "ready" });
}

main();
