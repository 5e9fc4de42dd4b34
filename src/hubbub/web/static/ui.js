// Shared pieces of the hubbub pages: element building, safe link rendering, times, storage,
// the connection banner, the live-region announcer, the message transcript and the typing line.
// User text only ever reaches the page through text nodes (textContent / Text), never as markup.

const SVG = "http://www.w3.org/2000/svg";

/** Build an element. props: class, text, attrs {name: value}, on {event: fn}, dataset, hidden. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "hidden") el.hidden = Boolean(value);
    else if (key === "attrs") {
      for (const [name, v] of Object.entries(value)) {
        if (v !== undefined && v !== null && v !== false) el.setAttribute(name, v === true ? "" : v);
      }
    } else el[key] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el;
}

// ---- icons (inline SVG built with createElementNS) -----------------------------------------

const ICONS = {
  send: [["path", { d: "M22 2 11 13" }], ["path", { d: "M22 2 15 22l-4-9-9-4 20-7z" }]],
  chat: [
    [
      "path",
      {
        d: "M21 11.5a8.4 8.4 0 0 1-.9 3.8 8.5 8.5 0 0 1-7.6 4.7 8.4 8.4 0 0 1-3.8-.9L3 21l1.9-5.7a8.4 8.4 0 0 1-.9-3.8 8.5 8.5 0 0 1 4.7-7.6 8.4 8.4 0 0 1 3.8-.9h.5a8.5 8.5 0 0 1 8 8v.5z",
      },
    ],
  ],
  close: [["path", { d: "M18 6 6 18M6 6l12 12" }]],
  users: [
    ["path", { d: "M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2" }],
    ["circle", { cx: "9", cy: "7", r: "4" }],
    ["path", { d: "M23 21v-2a4 4 0 0 0-3-3.9M16 3.1a4 4 0 0 1 0 7.8" }],
  ],
  back: [["path", { d: "M19 12H5M12 19l-7-7 7-7" }]],
  down: [["path", { d: "M12 5v14M19 12l-7 7-7-7" }]],
  check: [["path", { d: "M20 6 9 17l-5-5" }]],
  clock: [["circle", { cx: "12", cy: "12", r: "9" }], ["path", { d: "M12 7v5l3 2" }]],
  alert: [["circle", { cx: "12", cy: "12", r: "9" }], ["path", { d: "M12 8v4M12 16h.01" }]],
  logout: [["path", { d: "M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9" }]],
  hash: [["path", { d: "M4 9h16M4 15h16M10 3 8 21M16 3l-2 18" }]],
  inbox: [
    ["path", { d: "M22 12h-6l-2 3h-4l-2-3H2" }],
    ["path", { d: "M5.5 5.1 2 12v6a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-6l-3.5-6.9A2 2 0 0 0 16.8 4H7.2a2 2 0 0 0-1.7 1.1z" }],
  ],
};

export function icon(name, label) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `icon icon-${name}`);
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  if (label) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
  } else {
    svg.setAttribute("aria-hidden", "true");
  }
  svg.setAttribute("focusable", "false");
  for (const [tag, attrs] of ICONS[name] || []) {
    const part = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) part.setAttribute(k, v);
    svg.append(part);
  }
  return svg;
}

// ---- text -----------------------------------------------------------------------------------

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?'"\u201d\u2019)\]}>*_~]$/;

function count(text, ch) {
  let n = 0;
  for (const c of text) if (c === ch) n += 1;
  return n;
}

/**
 * User text as a fragment of text nodes, with http(s) URLs as links that open in a new tab
 * without a referrer or an opener. Nothing in `text` is ever parsed as HTML.
 */
export function linkify(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let raw = match[0];
    while (TRAILING.test(raw)) {
      if (raw.endsWith(")") && count(raw, "(") >= count(raw, ")")) break;
      raw = raw.slice(0, -1);
    }
    let url;
    try {
      url = new URL(raw);
    } catch {
      continue;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") continue;
    const start = match.index;
    if (start > last) frag.append(document.createTextNode(text.slice(last, start)));
    const a = document.createElement("a");
    a.href = url.href;
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    a.textContent = raw;
    frag.append(a);
    last = start + raw.length;
  }
  if (last < text.length) frag.append(document.createTextNode(text.slice(last)));
  return frag;
}

// ---- times ----------------------------------------------------------------------------------

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dayTimeFmt = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "numeric",
  minute: "2-digit",
});
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const relFmt = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

function sameDay(a, b) {
  return (
    a.getFullYear() === b.getFullYear() &&
    a.getMonth() === b.getMonth() &&
    a.getDate() === b.getDate()
  );
}

/** A <time> element: the clock time today, the day and time before. */
export function timeElement(ts) {
  const date = new Date(ts);
  const label = sameDay(date, new Date()) ? timeFmt.format(date) : dayTimeFmt.format(date);
  return h("time", { text: label, attrs: { datetime: date.toISOString(), title: fullFmt.format(date) } });
}

/** "just now", "5 minutes ago", "yesterday"... */
export function relativeTime(ts, now = Date.now()) {
  const seconds = Math.round((ts - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return "just now";
  if (abs < 3600) return relFmt.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relFmt.format(Math.round(seconds / 3600), "hour");
  if (abs < 86400 * 30) return relFmt.format(Math.round(seconds / 86400), "day");
  return dayTimeFmt.format(new Date(ts));
}

/** Short form for lists: 14:05 today, "Mon" this week, "Mar 3" before. */
export function shortTime(ts) {
  const date = new Date(ts);
  const now = new Date();
  if (sameDay(date, now)) return timeFmt.format(date);
  if (now - date < 6 * 86400000) {
    return new Intl.DateTimeFormat(undefined, { weekday: "short" }).format(date);
  }
  return new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" }).format(date);
}

// ---- configuration and storage --------------------------------------------------------------

/**
 * The WebSocket URL to use: `explicit` if given, else from config.json (`websocketUrl`, or
 * `websocketPath` on the page's own host).
 */
export async function resolveWebSocketUrl(explicit, configUrl = new URL("/config.json", location.href)) {
  if (explicit) return toWebSocketUrl(explicit, location.href);
  const response = await fetch(configUrl, { cache: "no-cache", credentials: "omit" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const config = await response.json();
  if (typeof config.websocketUrl === "string" && config.websocketUrl) {
    return toWebSocketUrl(config.websocketUrl, configUrl);
  }
  return toWebSocketUrl(config.websocketPath || "/ws", configUrl);
}

function toWebSocketUrl(value, base) {
  const url = new URL(value, base);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new Error(`not a WebSocket URL: ${value}`);
  return url.toString();
}

/** localStorage (or sessionStorage) if this context may use it, else null. */
export function safeStorage(kind = "localStorage") {
  try {
    const storage = globalThis[kind];
    const probe = "__hubbub_probe__";
    storage.setItem(probe, "1");
    storage.removeItem(probe);
    return storage;
  } catch {
    return null;
  }
}

/** JSON values under one prefix; falls back to memory where storage is blocked. */
export class Store {
  constructor(prefix, storage = safeStorage()) {
    this.prefix = prefix;
    this.storage = storage;
    this.memory = new Map();
  }

  get(key, fallback = null) {
    try {
      const raw = this.storage ? this.storage.getItem(this.prefix + key) : this.memory.get(key);
      return raw === null || raw === undefined ? fallback : JSON.parse(raw);
    } catch {
      return fallback;
    }
  }

  set(key, value) {
    const raw = JSON.stringify(value);
    try {
      if (this.storage) this.storage.setItem(this.prefix + key, raw);
      else this.memory.set(key, raw);
    } catch {
      this.memory.set(key, raw);
    }
  }

  remove(key) {
    this.memory.delete(key);
    try {
      this.storage?.removeItem(this.prefix + key);
    } catch {
      // blocked
    }
  }
}

// ---- announcements, title, connection banner ------------------------------------------------

/** A polite live region for screen readers ("New message from alice: hi"). */
export class Announcer {
  constructor(parent = document.body) {
    this.el = h("div", { class: "sr-only", attrs: { "aria-live": "polite", "aria-atomic": "true" } });
    parent.append(this.el);
    this.timer = null;
  }

  say(text) {
    clearTimeout(this.timer);
    this.el.textContent = "";
    // a new text node after a tick is announced even when it repeats the last one
    this.timer = setTimeout(() => {
      this.el.textContent = text;
    }, 60);
  }
}

/** "(3) title" while the tab is hidden and messages arrive; cleared when it is seen again. */
export class TitleBadge {
  constructor(base = document.title) {
    this.base = base;
    this.count = 0;
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.reset();
    });
  }

  setBase(base) {
    this.base = base;
    this.render();
  }

  bump() {
    if (!document.hidden) return;
    this.count += 1;
    this.render();
  }

  reset() {
    this.count = 0;
    this.render();
  }

  render() {
    document.title = this.count > 0 ? `(${this.count}) ${this.base}` : this.base;
  }
}

/**
 * The connection banner: hidden while online; after a short grace period it says what is going
 * on (connecting, reconnecting in N s with "Retry now", offline), and "Back online" briefly.
 * It overlays the page (no layout shift) and is a status live region.
 */
export class ConnectionBanner {
  constructor(client, parent, { graceMs = 700 } = {}) {
    this.client = client;
    this.text = h("span", { class: "banner-text" });
    this.retry = h("button", {
      type: "button",
      class: "link-button",
      text: "Retry now",
      hidden: true,
      on: { click: () => client.retryNow() },
    });
    this.el = h("div", { class: "banner", attrs: { role: "status" }, dataset: { state: "online" } }, this.text, this.retry);
    this.el.hidden = true;
    parent.append(this.el);
    this.graceMs = graceMs;
    this.showTimer = null;
    this.tick = null;
    this.hideTimer = null;
    this.shown = false;
    client.addEventListener("state", () => this.update());
    this.update();
  }

  update() {
    const state = this.client.state;
    this.el.dataset.state = state;
    clearInterval(this.tick);
    this.tick = null;
    if (state === "online") {
      clearTimeout(this.showTimer);
      this.showTimer = null;
      if (this.shown) {
        this.text.textContent = "Back online";
        this.retry.hidden = true;
        clearTimeout(this.hideTimer);
        this.hideTimer = setTimeout(() => {
          this.el.hidden = true;
          this.shown = false;
        }, 2000);
      }
      return;
    }
    clearTimeout(this.hideTimer);
    this.render();
    if (this.client.state === "reconnecting" && this.client.retryAt) {
      this.tick = setInterval(() => this.render(), 1000);
    }
    if (this.shown) return;
    if (!this.showTimer) {
      const grace = this.client.quiet ? this.graceMs * 4 : this.graceMs;
      this.showTimer = setTimeout(() => {
        this.showTimer = null;
        if (this.client.state !== "online") {
          this.shown = true;
          this.el.hidden = false;
          this.render();
        }
      }, grace);
    }
  }

  render() {
    const state = this.client.state;
    const retryAt = this.client.retryAt;
    this.retry.hidden = true;
    if (state === "connecting") {
      this.text.textContent = "Connecting…";
    } else if (state === "offline") {
      this.text.textContent = navigator.onLine
        ? "Disconnected."
        : "You are offline. Messages you send will go out when you are back.";
    } else if (retryAt && retryAt > Date.now() + 900) {
      const seconds = Math.ceil((retryAt - Date.now()) / 1000);
      this.text.textContent = `Connection lost. Reconnecting in ${seconds} s…`;
      this.retry.hidden = false;
    } else {
      this.text.textContent = "Reconnecting…";
    }
  }
}

// ---- typing -------------------------------------------------------------------------------

/** "alice is typing…", from `typing` events; each lasts a few seconds unless renewed. */
export class TypingIndicator {
  constructor(el, { ttlMs = 6000 } = {}) {
    this.el = el;
    this.ttlMs = ttlMs;
    this.users = new Map(); // id -> {nickname, timer}
    this.text = h("span", { class: "typing-text" });
    this.dots = h("span", { class: "typing-dots", attrs: { "aria-hidden": "true" } }, h("i"), h("i"), h("i"));
    el.append(this.dots, this.text);
    this.render();
  }

  saw(user) {
    if (!user || !user.id) return;
    const known = this.users.get(user.id);
    if (known) clearTimeout(known.timer);
    const timer = setTimeout(() => this.stopped(user.id), this.ttlMs);
    this.users.set(user.id, { nickname: user.nickname || "Someone", timer });
    this.render();
  }

  stopped(userId) {
    const known = this.users.get(userId);
    if (!known) return;
    clearTimeout(known.timer);
    this.users.delete(userId);
    this.render();
  }

  clear() {
    for (const { timer } of this.users.values()) clearTimeout(timer);
    this.users.clear();
    this.render();
  }

  render() {
    const names = [...this.users.values()].map((u) => u.nickname);
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = `${names.length} people are typing…`;
    this.text.textContent = text;
    this.el.classList.toggle("active", names.length > 0);
  }
}

// ---- transcript -----------------------------------------------------------------------------

const GROUP_MS = 5 * 60 * 1000;

export function roleOf(userId) {
  if (typeof userId !== "string") return "guest";
  if (userId.startsWith("o_")) return "operator";
  if (userId.startsWith("v_")) return "visitor";
  return "guest";
}

/**
 * The message list of one topic: messages in seq order (each once), own unacknowledged
 * messages below them with their state, older pages loaded on scroll-back with the view kept
 * still, and a "new messages" button when the reader has scrolled up.
 */
export class Transcript {
  /**
   * @param {HTMLElement} host  an empty, position:relative element to fill
   * @param {object} opts
   *   me(): the current user id; loadOlder(beforeSeq) -> {messages, hasMore};
   *   onRetry(clientMsgId); onDiscard(clientMsgId); label; emptyText; operatorLabel
   */
  constructor(host, opts) {
    this.opts = { emptyText: "No messages yet.", operatorLabel: "Team", label: "Messages", ...opts };
    this.host = host;
    this.bySeq = new Map();
    this.pending = new Map();
    this.hasMore = null;
    this.loading = false;
    this.unseen = 0;

    this.edgeButton = h("button", {
      type: "button",
      class: "link-button",
      text: "Load earlier messages",
      on: { click: () => this.loadOlder() },
    });
    this.edgeText = h("span", { class: "edge-text" });
    this.edge = h("div", { class: "history-edge" }, this.edgeText, this.edgeButton);
    this.empty = h("p", { class: "empty", text: this.opts.emptyText });
    this.log = h("ol", { class: "log" });
    this.outboxList = h("ol", { class: "log outbox" });
    this.scroller = h(
      "div",
      {
        class: "scroller",
        attrs: { tabindex: "0", role: "region", "aria-label": this.opts.label },
      },
      this.edge,
      this.empty,
      this.log,
      this.outboxList,
    );
    this.jump = h(
      "button",
      { type: "button", class: "jump", hidden: true, on: { click: () => this.scrollToBottom(true) } },
      icon("down"),
      h("span", { class: "jump-text", text: "New messages" }),
    );
    host.append(this.scroller, this.jump);
    this.scroller.addEventListener("scroll", () => {
      if (this.atBottom()) this.hideJump();
    }, { passive: true });
    this.observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((e) => e.isIntersecting)) this.loadOlder();
      },
      { root: this.scroller, rootMargin: "300px 0px 0px 0px" },
    );
    this.observer.observe(this.edge);
    this.renderEdge();
  }

  atBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 48;
  }

  scrollToBottom(smooth = false) {
    this.scroller.scrollTo({ top: this.scroller.scrollHeight, behavior: smooth ? "smooth" : "auto" });
    this.hideJump();
  }

  hideJump() {
    this.unseen = 0;
    this.jump.hidden = true;
  }

  reset() {
    this.bySeq.clear();
    this.pending.clear();
    this.log.replaceChildren();
    this.outboxList.replaceChildren();
    this.hasMore = null;
    this.loading = false;
    this.hideJump();
    this.renderEdge();
  }

  lowestSeq() {
    const first = this.log.firstElementChild;
    return first ? Number(first.dataset.seq) : null;
  }

  highestSeq() {
    const last = this.log.lastElementChild;
    return last ? Number(last.dataset.seq) : 0;
  }

  renderEdge() {
    const any = this.bySeq.size > 0 || this.pending.size > 0;
    this.empty.hidden = any || this.hasMore === null || this.hasMore;
    if (this.loading) {
      this.edgeText.textContent = "Loading earlier messages…";
      this.edgeButton.hidden = true;
    } else if (this.hasMore) {
      this.edgeText.textContent = "";
      this.edgeButton.hidden = false;
    } else if (this.hasMore === false && this.bySeq.size > 0) {
      this.edgeText.textContent = "This is the beginning of the conversation.";
      this.edgeButton.hidden = true;
    } else {
      this.edgeText.textContent = "";
      this.edgeButton.hidden = true;
    }
  }

  /** The first page (newest messages); scrolls to the bottom. */
  setLatest(messages, hasMore) {
    for (const m of messages) this._insert(m);
    this.hasMore = Boolean(hasMore);
    this.renderEdge();
    this.scrollToBottom();
  }

  async loadOlder() {
    if (this.loading || !this.hasMore || !this.opts.loadOlder) return;
    this.loading = true;
    this.renderEdge();
    try {
      const page = await this.opts.loadOlder(this.lowestSeq());
      const s = this.scroller;
      const before = s.scrollHeight - s.scrollTop;
      for (const m of page.messages || []) this._insert(m);
      s.scrollTop = s.scrollHeight - before; // keep what the reader was looking at in place
      this.hasMore = Boolean(page.hasMore);
    } catch {
      this.edgeText.textContent = "Could not load earlier messages.";
      this.loading = false;
      this.edgeButton.hidden = false;
      this.edgeButton.textContent = "Try again";
      return;
    }
    this.loading = false;
    this.edgeButton.textContent = "Load earlier messages";
    this.renderEdge();
    // still at the top (short page)? the observer fires again by itself when the edge stays visible
    if (this.hasMore) {
      requestAnimationFrame(() => {
        const edgeBox = this.edge.getBoundingClientRect();
        const box = this.scroller.getBoundingClientRect();
        if (edgeBox.bottom > box.top - 300) this.loadOlder();
      });
    }
  }

  /** A message (live or backlog). Returns its element, or null when it was already there. */
  add(message) {
    const stick = this.atBottom();
    const el = this._insert(message);
    if (!el) return null;
    this.renderEdge();
    const own = message.from === this.opts.me();
    if (stick || own) this.scrollToBottom();
    else if (el === this.log.lastElementChild) {
      this.unseen += 1;
      this.jump.hidden = false;
      this.jump.querySelector(".jump-text").textContent =
        this.unseen === 1 ? "1 new message" : `${this.unseen} new messages`;
    }
    return el;
  }

  _insert(message) {
    if (this.bySeq.has(message.seq)) return null;
    const el = this._render(message);
    this.bySeq.set(message.seq, el);
    let after = this.log.lastElementChild;
    while (after && Number(after.dataset.seq) > message.seq) after = after.previousElementSibling;
    if (after) after.after(el);
    else this.log.prepend(el);
    this._group(el);
    if (el.nextElementSibling) this._group(el.nextElementSibling);
    return el;
  }

  _group(el) {
    const prev = el.previousElementSibling;
    const continued =
      prev !== null &&
      prev.dataset.from === el.dataset.from &&
      Number(el.dataset.ts) - Number(prev.dataset.ts) < GROUP_MS;
    el.classList.toggle("continued", continued);
  }

  _render(m) {
    const me = this.opts.me();
    const own = Boolean(me) && m.from === me;
    const role = roleOf(m.from);
    const meta = h("div", { class: "meta" });
    if (!own) {
      meta.append(h("span", { class: "author", text: m.nickname || "Guest" }));
      if (role === "operator") meta.append(h("span", { class: "badge", text: this.opts.operatorLabel }));
    } else {
      meta.append(h("span", { class: "sr-only", text: "You" }));
    }
    meta.append(timeElement(m.ts));
    if (own) meta.append(icon("check", "Sent"));
    const body = h("div", { class: "bubble" });
    body.append(linkify(m.text));
    return h(
      "li",
      {
        class: `msg${own ? " own" : ""} role-${role}`,
        dataset: { seq: String(m.seq), from: m.from || "", ts: String(m.ts), state: own ? "sent" : "received" },
      },
      meta,
      body,
    );
  }

  /** Show or update an own message that the server has not acknowledged yet. */
  showPending(entry) {
    let el = this.pending.get(entry.clientMsgId);
    if (entry.state === "sent" || entry.state === "discarded") {
      if (el) {
        el.remove();
        this.pending.delete(entry.clientMsgId);
        this.renderEdge();
      }
      return;
    }
    const stick = this.atBottom();
    if (!el) {
      el = h("li", { class: "msg own pending", dataset: { cid: entry.clientMsgId } });
      this.pending.set(entry.clientMsgId, el);
      this.outboxList.append(el);
    }
    el.dataset.state = entry.state;
    const status = h("div", { class: "status" });
    if (entry.state === "failed") {
      status.append(
        icon("alert"),
        h("span", { text: "Not sent." }),
        h("button", {
          type: "button",
          class: "link-button",
          text: "Retry",
          on: { click: () => this.opts.onRetry?.(entry.clientMsgId) },
        }),
        h("button", {
          type: "button",
          class: "link-button subtle",
          text: "Delete",
          on: { click: () => this.opts.onDiscard?.(entry.clientMsgId) },
        }),
      );
    } else {
      status.append(icon("clock"), h("span", { text: "Sending…" }));
    }
    const body = h("div", { class: "bubble" });
    body.append(linkify(entry.text));
    el.replaceChildren(body, status);
    this.renderEdge();
    if (stick) this.scrollToBottom();
  }
}

/** Grow a textarea with its content, up to its CSS max-height. */
export function autoGrow(textarea) {
  const fit = () => {
    textarea.style.height = "auto";
    textarea.style.height = `${textarea.scrollHeight}px`;
  };
  textarea.addEventListener("input", fit);
  return fit;
}

/** Enter sends, Shift+Enter makes a new line (IME composition is left alone). */
export function submitOnEnter(textarea, form) {
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}
