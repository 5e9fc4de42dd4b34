// The rooms page, /r/{name}: read as a guest, pick a nickname once, chat.
import { HubbubClient, HubbubError } from "./hubbub.js";
import {
  Announcer,
  ConnectionBanner,
  Store,
  TitleBadge,
  Transcript,
  TypingIndicator,
  autoGrow,
  byId,
  h,
  icon,
  resolveWebSocketUrl,
  safeStorage,
  submitOnEnter,
} from "./ui.js";

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
    h("div", { class: "page-error" }, h("h2", { text: "This room cannot be opened" }), h("p", { text }), h("a", { class: "button", href: "/", text: "Back to the start page" })),
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
  let identity = store.get("identity"); // {token, user, nickname}

  const client = new HubbubClient(url, {
    token: identity?.token,
    storage: safeStorage(),
    storageKey: `hubbub.outbox:${url}:${topic}`,
  });
  const me = () => client.user?.id || identity?.user?.id || null;

  // --- view pieces --------------------------------------------------------------------------
  const announcer = new Announcer(byId("announcer-host"));
  const host = byId("transcript");
  new ConnectionBanner(client, host);
  const transcript = new Transcript(host, {
    me,
    label: `Messages in #${name}`,
    emptyText: `No messages in #${name} yet. Say hello!`,
    operatorLabel: "Staff",
    loadOlder: async (before) => client.history(topic, { before, limit: 50 }),
    onRetry: (cid) => client.retry(cid),
    onDiscard: (cid) => client.discard(cid),
  });
  const typing = new TypingIndicator(byId("typing"));

  const composer = byId("composer");
  const textarea = byId("composer-text");
  const joinForm = byId("join");
  const nickInput = byId("nickname");
  const joinError = byId("join-error");
  byId("send").append(icon("send"));
  byId("composer-label").textContent = `Message #${name}`;
  textarea.placeholder = `Message #${name}`;
  const fit = autoGrow(textarea);
  submitOnEnter(textarea, composer);

  const peopleToggle = byId("people-toggle");
  peopleToggle.prepend(icon("users"));
  const people = byId("people");
  peopleToggle.addEventListener("click", () => {
    const open = peopleToggle.getAttribute("aria-expanded") !== "true";
    peopleToggle.setAttribute("aria-expanded", String(open));
    people.classList.toggle("open", open);
    if (open) byId("people-title").focus();
  });
  byId("people-title").tabIndex = -1;
  people.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && people.classList.contains("open")) {
      peopleToggle.click();
      peopleToggle.focus();
    }
  });

  // --- identity -----------------------------------------------------------------------------
  function showComposer(focus) {
    const registered = Boolean(identity?.token);
    composer.hidden = !registered;
    joinForm.hidden = registered;
    byId("you").hidden = !registered;
    if (registered) byId("you-name").textContent = identity.nickname;
    if (focus) (registered ? textarea : nickInput).focus();
  }

  async function register(nickname) {
    // Leave as who we were (others get `left`), register, and come back under the nickname
    // (others get `joined`): the server does not announce a change of identity by itself.
    // The re-subscription asks for everything after the last seq seen, so nothing is missed.
    await client.unsubscribe(topic);
    try {
      const welcome = await client.request("register", { nickname });
      identity = { token: welcome.token, user: welcome.user, nickname: welcome.user.nickname };
      store.set("identity", identity);
      client.setToken(welcome.token); // for the next connections
    } finally {
      client.subscribe(topic).then(refreshPresence, () => {});
    }
  }

  joinForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const nickname = nickInput.value.trim();
    if (!nickname) return;
    joinError.textContent = "";
    const button = byId("join-button");
    button.disabled = true;
    try {
      await register(nickname);
      showComposer(true);
    } catch (err) {
      joinError.textContent =
        err instanceof HubbubError ? err.message : "Could not reach the chat server. Try again.";
    } finally {
      button.disabled = false;
    }
  });

  byId("rename").addEventListener("click", () => {
    nickInput.value = identity?.nickname || "";
    composer.hidden = true;
    joinForm.hidden = false;
    nickInput.focus();
    nickInput.select();
  });

  client.addEventListener("unauthorized", async () => {
    // the server no longer accepts the stored token: register again under the same nickname
    const nickname = identity?.nickname;
    identity = null;
    store.remove("identity");
    showComposer(false);
    if (nickname) {
      try {
        await register(nickname);
        showComposer(false);
      } catch {
        nickInput.value = nickname;
      }
    }
  });

  // --- presence -----------------------------------------------------------------------------
  const members = new Map();
  function renderPeople() {
    const named = [...members.values()].filter((m) => m.nickname);
    named.sort((a, b) => a.nickname.localeCompare(b.nickname));
    const guests = members.size - named.length;
    const list = byId("people-list");
    list.replaceChildren(
      ...named.map((m) => {
        const you = m.id === me();
        return h(
          "li",
          { dataset: { id: m.id } },
          h("span", { class: "avatar", attrs: { "aria-hidden": "true" }, text: m.nickname.slice(0, 1) }),
          h("span", { class: "person-name", text: m.nickname }),
          you ? h("span", { class: "muted", text: "(you)" }) : null,
          m.role === "operator" ? h("span", { class: "badge", text: "Staff" }) : null,
        );
      }),
    );
    byId("guests").textContent =
      guests === 0 ? "" : guests === 1 ? "and 1 guest reading" : `and ${guests} guests reading`;
    byId("people-count").textContent = String(members.size);
    byId("people-title").textContent = `Online — ${members.size}`;
  }

  async function refreshPresence() {
    try {
      const reply = await client.presence(topic);
      members.clear();
      for (const m of reply.members || []) members.set(m.id, m);
      renderPeople();
    } catch {
      // the next session tries again
    }
  }

  // joined/left are ephemeral and may cross (a user reconnecting from one connection to
  // another): after a burst of them, ask the server who is really here
  let recheck = null;
  function recheckSoon() {
    clearTimeout(recheck);
    recheck = setTimeout(refreshPresence, 1500);
  }
  client.addEventListener("joined", (e) => {
    if (e.detail.topic !== topic) return;
    members.set(e.detail.user.id, e.detail.user);
    renderPeople();
    recheckSoon();
  });
  client.addEventListener("left", (e) => {
    if (e.detail.topic !== topic) return;
    members.delete(e.detail.user.id);
    typing.stopped(e.detail.user.id);
    renderPeople();
    recheckSoon();
  });
  client.addEventListener("typing", (e) => {
    if (e.detail.topic === topic && e.detail.user.id !== me()) typing.saw(e.detail.user);
  });

  // --- messages -----------------------------------------------------------------------------
  client.addEventListener("message", (e) => {
    const { message, source, own } = e.detail;
    if (message.topic !== topic) return;
    transcript.add(message);
    typing.stopped(message.from);
    if (!own && source === "live") {
      announcer.say(`${message.nickname || "Guest"}: ${message.text}`);
      title.bump();
    }
  });
  client.addEventListener("outbox", (e) => {
    if (e.detail.entry.topic === topic) transcript.showPending(e.detail.entry);
  });
  for (const entry of client.outbox(topic)) transcript.showPending(entry);

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = textarea.value;
    if (!text.trim() || !identity) return;
    client.send(topic, text);
    textarea.value = "";
    fit();
    textarea.focus();
  });
  textarea.addEventListener("input", () => {
    if (textarea.value.trim()) client.typing(topic);
  });

  // --- session ------------------------------------------------------------------------------
  let loaded = false;
  client.addEventListener("session", async () => {
    const user = client.user;
    if (identity && user && user.role !== "guest") {
      identity = { ...identity, user, nickname: user.nickname };
      store.set("identity", identity);
    }
    showComposer(false);
    refreshPresence();
  });

  client.subscribe(topic).then(async (reply) => {
    if (loaded) return;
    loaded = true;
    const page = await client.history(topic, { before: (reply.lastSeq ?? 0) + 1, limit: 50 });
    transcript.setLatest(page.messages || [], page.hasMore);
  }).catch((err) => {
    if (err instanceof HubbubError) fail(err.message);
  });

  showComposer(false);
  client.connect();
  if (!identity) nickInput.focus({ preventScroll: true });
  // for tests and debugging from the console: the client of this page
  globalThis.hubbubClient = client;
}

main();
