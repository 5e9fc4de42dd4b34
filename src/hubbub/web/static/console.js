// The operator console, /console: sign in with an operator token, watch every desk conversation
// live (desk/+), unread badges per conversation, open one to read and reply.
import { HubbubClient, HubbubError } from "./hubbub.js";
import {
  Announcer,
  ConnectionBanner,
  Store,
  Transcript,
  TypingIndicator,
  autoGrow,
  byId,
  h,
  icon,
  resolveWebSocketUrl,
  safeStorage,
  shortTime,
  submitOnEnter,
} from "./ui.js";

const PAGE_SIZE = 30;

function visitorIdOf(topic) {
  return topic.slice("desk/".length);
}

function initial(name) {
  return (name || "?").trim().slice(0, 1) || "?";
}

async function main() {
  let url;
  try {
    url = await resolveWebSocketUrl();
  } catch (err) {
    byId("signin").hidden = false;
    byId("signin-error").textContent = `The chat server is not configured (${err.message}).`;
    return;
  }
  const key = `hubbub.console:${url}:`;
  const session = new Store(key, safeStorage("sessionStorage"));
  const local = new Store(key, safeStorage("localStorage"));
  const announcer = new Announcer(byId("announcer-host"));

  const stored = session.get("token") || local.get("token");
  if (stored) start(stored, { remember: Boolean(local.get("token")) });
  else showSignin();

  function showSignin(message = "") {
    byId("app").hidden = true;
    byId("signin").hidden = false;
    byId("signin-error").textContent = message;
    document.title = "Sign in · hubbub console";
    byId("token").focus();
  }

  byId("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = byId("token").value.trim();
    if (!token) {
      byId("signin-error").textContent = "Paste your operator token.";
      return;
    }
    byId("signin-error").textContent = "";
    byId("signin-button").disabled = true;
    byId("signin-button").textContent = "Signing in…";
    start(token, { remember: byId("remember").checked, fromForm: true });
  });

  function forget() {
    session.remove("token");
    local.remove("token");
  }

  function start(token, { remember, fromForm = false }) {
    const client = new HubbubClient(url, { token, authProbeAfter: 1 });
    let started = false;
    const resetButton = () => {
      byId("signin-button").disabled = false;
      byId("signin-button").textContent = "Sign in";
    };
    client.addEventListener("unauthorized", () => {
      client.close();
      forget();
      resetButton();
      showSignin(
        started
          ? "The server no longer accepts your token. Sign in again."
          : "That token was refused. Check that you pasted all of it.",
      );
    });
    client.addEventListener("session", () => {
      if (started) return;
      if (client.user?.role !== "operator") {
        client.close();
        forget();
        resetButton();
        showSignin("That is not an operator token.");
        return;
      }
      started = true;
      resetButton();
      forget();
      (remember ? local : session).set("token", token);
      byId("token").value = "";
      byId("signin").hidden = true;
      byId("app").hidden = false;
      run(client, () => {
        client.close();
        forget();
        showSignin();
      });
      if (fromForm) byId("conversation-list").focus();
    });
    client.connect();
  }

  function run(client, signOut) {
    byId("signout").prepend(icon("logout"));
    byId("signout").addEventListener("click", signOut, { once: true });
    byId("send").append(icon("send"));
    byId("back").append(icon("back"));
    byId("me-name").textContent = client.user.nickname || "Operator";
    const meDot = byId("me-dot");
    const me = () => client.user?.id;

    const layout = byId("layout");
    const list = byId("conversation-list");
    const convs = new Map(); // topic -> conversation
    const rows = new Map(); // topic -> li
    const online = new Set(); // visitor ids seen online
    const typers = new Map(); // topic -> timer
    let openTopic = null;
    let transcript = null;
    let hasMore = false;

    new ConnectionBanner(client, byId("conversation"));
    const typing = new TypingIndicator(byId("typing"));
    const textarea = byId("composer-text");
    const composer = byId("composer");
    const fit = autoGrow(textarea);
    submitOnEnter(textarea, composer);

    client.addEventListener("state", () => {
      meDot.classList.toggle("on", client.online);
      meDot.title = client.online ? "Connected" : "Not connected";
    });
    meDot.classList.toggle("on", client.online);

    // --- the list -------------------------------------------------------------------------
    function totalUnread() {
      let n = 0;
      for (const c of convs.values()) n += c.unread;
      return n;
    }

    function renderTotals() {
      const n = totalUnread();
      const pill = byId("unread-total");
      pill.hidden = n === 0;
      pill.textContent = `${n} unread`;
      document.title = n > 0 ? `(${n}) Console · hubbub` : "Console · hubbub";
      byId("inbox-empty").hidden = convs.size > 0;
    }

    function previewOf(c) {
      if (typers.has(c.topic)) return { text: "typing…", typing: true };
      const m = c.lastMessage;
      if (!m) return { text: "No messages yet", typing: false };
      const who = m.from === me() ? "You: " : m.from !== c.visitor.id ? `${m.nickname || "Operator"}: ` : "";
      return { text: who + m.text.replace(/\s+/g, " "), typing: false };
    }

    function renderRow(c) {
      let li = rows.get(c.topic);
      if (!li) {
        li = h("li", { dataset: { topic: c.topic } });
        rows.set(c.topic, li);
      }
      const name = c.visitor.nickname || "Visitor";
      const preview = previewOf(c);
      const unread = c.unread > 0
        ? h("span", { class: "unread" }, h("span", { class: "unread-count", text: String(c.unread) }), h("span", { class: "sr-only", text: c.unread === 1 ? " unread message" : " unread messages" }))
        : null;
      const button = h(
        "button",
        {
          type: "button",
          class: `conv${c.unread > 0 ? " has-unread" : ""}`,
          attrs: { "aria-current": c.topic === openTopic ? "true" : null },
          on: { click: () => openConversation(c.topic, true) },
        },
        h(
          "span",
          { class: "avatar-wrap" },
          h("span", { class: "avatar", attrs: { "aria-hidden": "true" }, text: initial(name) }),
          h("span", { class: `dot presence${online.has(c.visitor.id) ? " on" : ""}`, attrs: { "aria-hidden": "true" } }),
        ),
        h(
          "span",
          { class: "conv-main" },
          h(
            "span",
            { class: "conv-top" },
            h("span", { class: "conv-name", text: name }),
            online.has(c.visitor.id) ? h("span", { class: "sr-only", text: " (online)" }) : null,
            c.updatedAt ? h("time", { class: "conv-time", text: shortTime(c.updatedAt), attrs: { datetime: new Date(c.updatedAt).toISOString() } }) : null,
          ),
          h(
            "span",
            { class: "conv-bottom" },
            h("span", { class: `conv-preview${preview.typing ? " is-typing" : ""}`, text: preview.text }),
            unread,
          ),
        ),
      );
      const hadFocus = li.contains(document.activeElement);
      li.replaceChildren(button);
      if (hadFocus) button.focus();
      return li;
    }

    /** Put rows in recency order, moving as few as possible (a moved row keeps its focus). */
    function placeRows() {
      const order = [...convs.values()].sort((a, b) => b.updatedAt - a.updatedAt || (a.topic < b.topic ? -1 : 1));
      let cursor = null;
      for (const c of order) {
        const li = rows.get(c.topic) || renderRow(c);
        const expected = cursor ? cursor.nextElementSibling : list.firstElementChild;
        if (expected !== li) {
          const focused = li.contains(document.activeElement) ? document.activeElement : null;
          if (cursor) cursor.after(li);
          else list.prepend(li);
          focused?.focus();
        }
        cursor = li;
      }
      renderTotals();
    }

    function upsert(item) {
      const known = convs.get(item.topic);
      if (typeof item.online === "boolean") {
        const id = item.visitor?.id || visitorIdOf(item.topic);
        if (item.online) online.add(id);
        else online.delete(id);
      }
      const c = {
        topic: item.topic,
        visitor: {
          id: item.visitor?.id || visitorIdOf(item.topic),
          nickname: item.visitor?.nickname || known?.visitor.nickname || null,
          email: item.visitor?.email ?? known?.visitor.email ?? null,
        },
        lastMessage: item.lastMessage ?? known?.lastMessage ?? null,
        unread: item.unread ?? known?.unread ?? 0,
        lastSeq: Math.max(item.lastSeq ?? 0, known?.lastSeq ?? 0),
        updatedAt: Math.max(item.updatedAt ?? 0, known?.updatedAt ?? 0),
      };
      convs.set(c.topic, c);
      renderRow(c);
      return c;
    }

    let refreshing = null;
    async function refresh() {
      if (refreshing) return refreshing;
      refreshing = (async () => {
        try {
          const reply = await client.request("conversations", { limit: PAGE_SIZE });
          for (const item of reply.items || []) upsert(item);
          if (convs.size <= PAGE_SIZE) hasMore = Boolean(reply.hasMore);
          byId("more").hidden = !hasMore;
          placeRows();
          if (openTopic) markRead(openTopic);
          renderThreadHead(); // each item says whether its visitor is online
        } catch {
          // the next session refreshes again
        } finally {
          refreshing = null;
        }
      })();
      return refreshing;
    }

    byId("more").addEventListener("click", async () => {
      const oldest = Math.min(...[...convs.values()].map((c) => c.updatedAt));
      try {
        const reply = await client.request("conversations", { limit: PAGE_SIZE, before: oldest });
        for (const item of reply.items || []) upsert(item);
        hasMore = Boolean(reply.hasMore);
        byId("more").hidden = !hasMore;
        placeRows();
      } catch {
        // keep the button
      }
    });

    async function presenceOf(topics) {
      await Promise.all(
        topics.map(async (topic) => {
          try {
            const reply = await client.presence(topic);
            const id = visitorIdOf(topic);
            if ((reply.members || []).some((m) => m.id === id)) online.add(id);
            else online.delete(id);
            const c = convs.get(topic);
            if (c) renderRow(c);
          } catch {
            // unknown this time
          }
        }),
      );
      renderThreadHead();
    }

    // --- reading ------------------------------------------------------------------------
    function markRead(topic) {
      const c = convs.get(topic);
      if (!c || document.hidden) return;
      const seq = Math.max(c.lastSeq, transcript?.highestSeq() || 0);
      if (c.unread > 0 || seq > (c.readSeq ?? 0)) {
        c.unread = 0;
        c.readSeq = seq;
        renderRow(c);
        renderTotals();
        if (seq > 0) client.read(topic, seq).catch(() => {});
      }
    }

    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && openTopic) markRead(openTopic);
    });

    // this operator read it in another tab: the marker is theirs, so this badge goes too
    client.addEventListener("read", (e) => {
      const { topic, seq } = e.detail;
      const c = convs.get(topic);
      if (!c || typeof seq !== "number" || seq <= (c.readSeq ?? 0)) return;
      c.readSeq = seq;
      c.unread = seq >= c.lastSeq ? 0 : Math.min(c.unread, c.lastSeq - seq);
      renderRow(c);
      renderTotals();
    });

    function renderThreadHead() {
      if (!openTopic) return;
      const c = convs.get(openTopic);
      const name = c?.visitor.nickname || "Visitor";
      byId("visitor-name").textContent = name;
      byId("visitor-avatar").textContent = initial(name);
      const isOnline = online.has(visitorIdOf(openTopic));
      byId("visitor-dot").classList.toggle("on", isOnline);
      byId("visitor-status").textContent = isOnline ? "Online now" : "Offline";
      byId("visitor-email").textContent = c?.visitor.email ? ` · ${c.visitor.email}` : "";
      byId("composer-label").textContent = `Reply to ${name}`;
      textarea.placeholder = `Reply to ${name}`;
    }

    async function openConversation(topic, fromUser) {
      if (!convs.has(topic)) return;
      if (openTopic === topic) {
        layout.classList.add("show-thread");
        if (fromUser) textarea.focus();
        return;
      }
      const previous = openTopic;
      openTopic = topic;
      if (previous) {
        client.unsubscribe(previous);
        const p = convs.get(previous);
        if (p) renderRow(p);
      }
      if (location.hash !== `#${topic}`) history.replaceState(null, "", `#${topic}`);
      byId("placeholder").hidden = true;
      byId("thread").hidden = false;
      layout.classList.add("show-thread");
      typing.clear();
      const host = h("div", { class: "transcript", id: "transcript" });
      byId("transcript").replaceWith(host);
      const name = convs.get(topic).visitor.nickname || "Visitor";
      transcript = new Transcript(host, {
        me,
        label: `Conversation with ${name}`,
        emptyText: "No messages yet.",
        operatorLabel: "Team",
        loadOlder: (before) => client.history(topic, { before, limit: 50 }),
        onRetry: (cid) => client.retry(cid),
        onDiscard: (cid) => client.discard(cid),
      });
      for (const entry of client.outbox(topic)) transcript.showPending(entry);
      renderThreadHead();
      renderRow(convs.get(topic));
      if (fromUser) textarea.focus();
      const shown = transcript;
      try {
        const reply = await client.subscribe(topic);
        const page = await client.history(topic, { before: (reply.lastSeq ?? 0) + 1, limit: 50 });
        if (transcript !== shown) return;
        transcript.setLatest(page.messages || [], page.hasMore);
        const c = convs.get(topic);
        if (c && reply.lastSeq) c.lastSeq = Math.max(c.lastSeq, reply.lastSeq);
        markRead(topic);
      } catch {
        // offline: the session handler reloads it
      }
      presenceOf([topic]);
    }

    function closeConversation() {
      layout.classList.remove("show-thread");
      const row = openTopic ? rows.get(openTopic) : null;
      row?.querySelector("button")?.focus();
    }

    byId("back").addEventListener("click", closeConversation);
    byId("thread").addEventListener("keydown", (event) => {
      if (event.key === "Escape" && layout.classList.contains("show-thread")) closeConversation();
    });
    // arrow keys move between conversations
    list.addEventListener("keydown", (event) => {
      if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
      const buttons = [...list.querySelectorAll("button.conv")];
      const at = buttons.indexOf(document.activeElement);
      const next = buttons[at + (event.key === "ArrowDown" ? 1 : -1)] || buttons[event.key === "ArrowDown" ? 0 : buttons.length - 1];
      if (next) {
        event.preventDefault();
        next.focus();
      }
    });

    // --- live events ----------------------------------------------------------------------
    client.addEventListener("message", (e) => {
      const { message, source } = e.detail;
      if (!message.topic.startsWith("desk/")) return;
      const known = convs.get(message.topic);
      const fromVisitor = message.from === visitorIdOf(message.topic);
      const c = upsert({
        topic: message.topic,
        visitor: { id: visitorIdOf(message.topic), nickname: fromVisitor ? message.nickname : null },
      });
      if (!known) refresh(); // a new conversation: fetch its visitor's details
      const isNew = message.seq > c.lastSeq || !known;
      if (!c.lastMessage || message.seq >= c.lastMessage.seq) {
        c.lastMessage = message;
        c.updatedAt = Math.max(c.updatedAt, message.ts);
      }
      if (isNew) {
        c.lastSeq = Math.max(c.lastSeq, message.seq);
        const seenNow = openTopic === message.topic && !document.hidden;
        if (message.from !== me() && !seenNow) c.unread += 1;
      }
      if (fromVisitor) {
        online.add(c.visitor.id);
        clearTimeout(typers.get(c.topic));
        typers.delete(c.topic);
      }
      if (openTopic === message.topic) {
        transcript?.add(message);
        typing.stopped(message.from);
        markRead(message.topic);
      }
      renderRow(c);
      placeRows();
      if (source === "live" && fromVisitor) {
        announcer.say(`New message from ${message.nickname || "a visitor"}: ${message.text}`);
      }
    });

    client.addEventListener("outbox", (e) => {
      if (e.detail.entry.topic === openTopic) transcript?.showPending(e.detail.entry);
    });

    client.addEventListener("typing", (e) => {
      const { topic, user } = e.detail;
      if (!topic.startsWith("desk/") || user.id === me()) return;
      if (topic === openTopic) typing.saw(user);
      const c = convs.get(topic);
      if (!c || user.id !== c.visitor.id) return;
      clearTimeout(typers.get(topic));
      typers.set(topic, setTimeout(() => {
        typers.delete(topic);
        renderRow(c);
      }, 6000));
      renderRow(c);
    });

    for (const kind of ["joined", "left"]) {
      client.addEventListener(kind, (e) => {
        const { topic, user } = e.detail;
        if (!topic.startsWith("desk/") || user.id !== visitorIdOf(topic)) return;
        if (kind === "joined") online.add(user.id);
        else online.delete(user.id);
        const c = convs.get(topic);
        if (c) renderRow(c);
        if (topic === openTopic) renderThreadHead();
      });
    }

    composer.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = textarea.value;
      if (!text.trim() || !openTopic) return;
      client.send(openTopic, text);
      textarea.value = "";
      fit();
    });
    textarea.addEventListener("input", () => {
      if (openTopic && textarea.value.trim()) client.typing(openTopic);
    });

    // refresh relative times now and then
    setInterval(() => {
      for (const c of convs.values()) renderRow(c);
    }, 60000);

    client.addEventListener("session", () => refresh());
    client.subscribe("desk/+").catch((err) => {
      if (err instanceof HubbubError) announcer.say(`Cannot watch conversations: ${err.message}`);
    });
    refresh().then(() => {
      const wanted = decodeURIComponent(location.hash.slice(1));
      if (wanted.startsWith("desk/") && convs.has(wanted)) openConversation(wanted, false);
    });
  }
}

main();
