// The support widget's chat, inside the iframe that widget.js adds to a host page.
// The visitor gives a name (email optional), then talks on desk/{visitorId}; the token is kept in
// this frame's localStorage, so the conversation (and its history) survives reloads.
import { HubbubClient, HubbubError } from "./hubbub.js";
import {
  Announcer,
  ConnectionBanner,
  Store,
  Transcript,
  TypingIndicator,
  autoGrow,
  byId,
  icon,
  relativeTime,
  resolveWebSocketUrl,
  safeStorage,
  submitOnEnter,
} from "./ui.js";

const params = new URLSearchParams(location.hash.slice(1));
const embedded = window.parent !== window;

function toHost(message) {
  // the host page's origin is not known (any site may embed the widget); nothing secret is sent
  if (embedded) window.parent.postMessage({ hubbub: "widget", ...message }, "*");
}

async function main() {
  const title = params.get("title") || "Chat with us";
  byId("w-title").textContent = title;
  document.title = title;
  byId("w-close").append(icon("close"));
  byId("send").append(icon("send"));
  if (!embedded) byId("w-close").hidden = true;

  let url;
  try {
    url = await resolveWebSocketUrl(params.get("ws"));
  } catch (err) {
    byId("w-status-text").textContent = "Chat is unavailable right now.";
    return;
  }
  const store = new Store(`hubbub.widget:${url}:`);
  let identity = store.get("identity"); // {token, user, nickname, email}
  const client = new HubbubClient(url, {
    token: identity?.token,
    storage: safeStorage(),
    storageKey: `hubbub.widget.outbox:${url}`,
  });
  const me = () => client.user?.id || identity?.user?.id || null;
  const topic = () => (identity ? `desk/${identity.user.id}` : null);

  const announcer = new Announcer(byId("announcer-host"));
  const host = byId("transcript");
  new ConnectionBanner(client, byId("w-main"));
  let transcript = null;
  const typing = new TypingIndicator(byId("typing"));
  const textarea = byId("composer-text");
  const composer = byId("composer");
  const fit = autoGrow(textarea);
  submitOnEnter(textarea, composer);

  // --- open / closed (told by widget.js) ------------------------------------------------------
  let isOpen = !embedded;
  let unread = 0;
  function setUnread(n) {
    unread = n;
    toHost({ type: "unread", count: unread });
  }
  window.addEventListener("message", (event) => {
    if (event.source !== window.parent || !event.data || event.data.hubbub !== "widget") return;
    if (event.data.type === "open") {
      isOpen = true;
      setUnread(0);
      const target = identity ? textarea : byId("w-nickname");
      target.focus({ preventScroll: true });
      transcript?.scrollToBottom();
    } else if (event.data.type === "closed") {
      isOpen = false;
    }
  });
  byId("w-close").addEventListener("click", () => toHost({ type: "close" }));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") toHost({ type: "close" });
  });

  // --- operator status ----------------------------------------------------------------------
  // Pushed, never polled: the widget follows $sys/operators (hubbub.js follows it again after
  // every reconnect, and each subscribed reply carries the status to start from), and `operators`
  // frames bring each change. Operators in this very conversation come from presence.
  const OPERATORS = "$sys/operators";
  let status = null; // {online, lastSeen}: the last one the server told
  const operatorsHere = new Map(); // operators subscribed to this conversation
  function setStatus(frame) {
    if (!frame || typeof frame.operatorsOnline !== "number") return;
    status = { online: frame.operatorsOnline, lastSeen: frame.operatorLastSeen ?? null };
    renderStatus();
  }
  function renderStatus() {
    const dot = byId("w-dot");
    const text = byId("w-status-text");
    const here = [...operatorsHere.values()];
    if (!status) {
      dot.classList.remove("on");
      text.textContent = "Connecting…";
    } else if (here.length > 0) {
      dot.classList.add("on");
      text.textContent = `${here[0].nickname || "An operator"} is here`;
    } else if (status.online > 0) {
      dot.classList.add("on");
      text.textContent = "We are online and usually reply in a few minutes";
    } else if (status.lastSeen) {
      dot.classList.remove("on");
      text.textContent = `Away · last seen ${relativeTime(status.lastSeen)}. Leave a message!`;
    } else {
      dot.classList.remove("on");
      text.textContent = "Leave a message and we will get back to you.";
    }
  }
  client.addEventListener("hello", (e) => setStatus(e.detail.hello));
  client.addEventListener("subscribed", (e) => {
    if (e.detail.topic === OPERATORS) setStatus(e.detail.reply);
  });
  client.addEventListener("operators", (e) => setStatus(e.detail));
  client.subscribe(OPERATORS).catch(() => {
    // refused or cut off: the status stays as the last hello told it
  });
  // "last seen 5 minutes ago" ages: redraw it now and then (this asks the server nothing)
  setInterval(renderStatus, 60000);

  for (const kind of ["joined", "left"]) {
    client.addEventListener(kind, (e) => {
      if (e.detail.topic !== topic() || e.detail.user.role !== "operator") return;
      if (kind === "joined") operatorsHere.set(e.detail.user.id, e.detail.user);
      else operatorsHere.delete(e.detail.user.id);
      renderStatus();
    });
  }

  // --- views --------------------------------------------------------------------------------
  function showIntro(notice = "") {
    byId("intro").hidden = false;
    byId("chat").hidden = true;
    byId("intro-error").textContent = notice;
  }

  function showChat() {
    byId("intro").hidden = true;
    byId("chat").hidden = false;
    if (!transcript) {
      transcript = new Transcript(host, {
        me,
        label: "Conversation",
        emptyText: "Ask us anything. We will answer right here.",
        operatorLabel: "Support",
        loadOlder: (before) => client.history(topic(), { before, limit: 50 }),
        onRetry: (cid) => client.retry(cid),
        onDiscard: (cid) => client.discard(cid),
      });
      for (const entry of client.outbox(topic())) transcript.showPending(entry);
    }
  }

  let loadedFor = null;
  async function join() {
    const t = topic();
    if (!t || loadedFor === t) return;
    loadedFor = t;
    showChat();
    try {
      const reply = await client.subscribe(t);
      const page = await client.history(t, { before: (reply.lastSeq ?? 0) + 1, limit: 50 });
      transcript.setLatest(page.messages || [], page.hasMore);
    } catch (err) {
      loadedFor = null;
      if (err instanceof HubbubError && err.code === "forbidden") forgetIdentity("");
    }
  }

  function forgetIdentity(notice) {
    identity = null;
    store.remove("identity");
    loadedFor = null;
    toHost({ type: "active", active: false });
    showIntro(notice);
  }

  byId("intro").addEventListener("submit", async (event) => {
    event.preventDefault();
    const nickname = byId("w-nickname").value.trim();
    const email = byId("w-email").value.trim();
    if (!nickname) return;
    const button = byId("w-start");
    button.disabled = true;
    byId("intro-error").textContent = "";
    try {
      const fields = { nickname };
      if (email) fields.email = email;
      const welcome = await client.request("register", fields);
      identity = { token: welcome.token, user: welcome.user, nickname, email };
      store.set("identity", identity);
      client.setToken(welcome.token); // this connection is the visitor's from now on, too
      toHost({ type: "active", active: true });
      await join();
      textarea.focus();
    } catch (err) {
      byId("intro-error").textContent =
        err instanceof HubbubError ? err.message : "We could not reach the chat. Try again.";
    } finally {
      button.disabled = false;
    }
  });

  client.addEventListener("unauthorized", () => {
    forgetIdentity("Your previous conversation could not be restored. Start a new one?");
  });

  client.addEventListener("session", async () => {
    renderStatus();
    if (!identity) return;
    join();
    try {
      const reply = await client.presence(topic());
      operatorsHere.clear();
      for (const m of reply.members || []) if (m.role === "operator") operatorsHere.set(m.id, m);
      renderStatus();
    } catch {
      // shown on the next session
    }
  });

  // --- messages -----------------------------------------------------------------------------
  client.addEventListener("message", (e) => {
    const { message, source, own } = e.detail;
    if (message.topic !== topic()) return;
    transcript?.add(message);
    typing.stopped(message.from);
    if (!own && source === "live") {
      announcer.say(`${message.nickname || "Support"}: ${message.text}`);
      if (!isOpen) setUnread(unread + 1);
    }
  });
  client.addEventListener("outbox", (e) => {
    if (e.detail.entry.topic === topic()) transcript?.showPending(e.detail.entry);
  });
  client.addEventListener("typing", (e) => {
    if (e.detail.topic === topic() && e.detail.user.id !== me()) typing.saw(e.detail.user);
  });

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = textarea.value;
    if (!text.trim() || !identity) return;
    client.send(topic(), text);
    textarea.value = "";
    fit();
  });
  textarea.addEventListener("input", () => {
    if (identity && textarea.value.trim()) client.typing(topic());
  });

  if (identity) {
    byId("w-nickname").value = identity.nickname || "";
    showChat();
  } else {
    showIntro();
  }
  client.connect();
  globalThis.hubbubClient = client;
  toHost({ type: "ready" });
}

main();
