// The console's conversation list: one row per desk conversation, most recent first, with the
// visitor's name and presence, a preview of the last message (or "typing…") and the unread count;
// the total unread count in a pill and in the tab's title. Rows move as little as possible when
// the order changes, so a row keeps the keyboard focus it has.

import { byId, h } from "../ui/dom.js";
import { shortTime } from "../ui/text.js";

export const PAGE_SIZE = 30;
const TYPING_MS = 6000;

export function visitorIdOf(topic) {
  return topic.slice("desk/".length);
}

export function initial(name) {
  return (name || "?").trim().slice(0, 1) || "?";
}

function unreadBadge(count) {
  if (count <= 0) return null;
  const label = count === 1 ? " unread message" : " unread messages";
  return h(
    "span",
    { class: "unread" },
    h("span", { class: "unread-count", text: String(count) }),
    h("span", { class: "sr-only", text: label }),
  );
}

function avatar(name, online) {
  return h(
    "span",
    { class: "avatar-wrap" },
    h("span", { class: "avatar", attrs: { "aria-hidden": "true" }, text: initial(name) }),
    h("span", { class: `dot presence${online ? " on" : ""}`, attrs: { "aria-hidden": "true" } }),
  );
}

function updated(ts) {
  if (!ts) return null;
  const attrs = { datetime: new Date(ts).toISOString() };
  return h("time", { class: "conv-time", text: shortTime(ts), attrs });
}

export class Inbox {
  /**
   * @param {object} parts  client; me(): the operator's id; hooks: openTopic() (the conversation
   *   shown, or null), open(topic, fromUser), refreshed() (the list was reloaded),
   *   presenceChanged()
   */
  constructor({ client, me, hooks }) {
    this.client = client;
    this.me = me;
    this.hooks = hooks;
    this.list = byId("conversation-list");
    this.convs = new Map(); // topic -> conversation
    this.rows = new Map(); // topic -> li
    this.online = new Set(); // visitor ids seen online
    this.typers = new Map(); // topic -> timer
    this.hasMore = false;
    this._refreshing = null;
    byId("more").addEventListener("click", () => this.loadMore());
    this.list.addEventListener("keydown", (event) => this._arrowKeys(event));
  }

  get(topic) {
    return this.convs.get(topic);
  }

  isOnline(topic) {
    return this.online.has(visitorIdOf(topic));
  }

  setOnline(visitorId, online) {
    if (online) this.online.add(visitorId);
    else this.online.delete(visitorId);
  }

  totalUnread() {
    let n = 0;
    for (const c of this.convs.values()) n += c.unread;
    return n;
  }

  renderTotals() {
    const n = this.totalUnread();
    const pill = byId("unread-total");
    pill.hidden = n === 0;
    pill.textContent = `${n} unread`;
    document.title = n > 0 ? `(${n}) Console · hubbub` : "Console · hubbub";
    byId("inbox-empty").hidden = this.convs.size > 0;
  }

  renderAll() {
    for (const c of this.convs.values()) this.renderRow(c);
  }

  renderRow(c) {
    let li = this.rows.get(c.topic);
    if (!li) {
      li = h("li", { dataset: { topic: c.topic } });
      this.rows.set(c.topic, li);
    }
    const button = this._rowButton(c);
    const hadFocus = li.contains(document.activeElement);
    li.replaceChildren(button);
    if (hadFocus) button.focus();
    return li;
  }

  _preview(c) {
    if (this.typers.has(c.topic)) return { text: "typing…", typing: true };
    const m = c.lastMessage;
    if (!m) return { text: "No messages yet", typing: false };
    let who = "";
    if (m.from === this.me()) who = "You: ";
    else if (m.from !== c.visitor.id) who = `${m.nickname || "Operator"}: `;
    const files = (m.attachments || []).map((a) => `📎 ${a.filename}`).join(", ");
    const said = [m.text || "", files].filter(Boolean).join(" ");
    return { text: who + said.replace(/\s+/g, " "), typing: false };
  }

  _rowButton(c) {
    const name = c.visitor.nickname || "Visitor";
    const online = this.online.has(c.visitor.id);
    const preview = this._preview(c);
    const props = {
      type: "button",
      class: `conv${c.unread > 0 ? " has-unread" : ""}`,
      attrs: { "aria-current": c.topic === this.hooks.openTopic() ? "true" : null },
      on: { click: () => this.hooks.open(c.topic, true) },
    };
    const top = h(
      "span",
      { class: "conv-top" },
      h("span", { class: "conv-name", text: name }),
      online ? h("span", { class: "sr-only", text: " (online)" }) : null,
      updated(c.updatedAt),
    );
    const previewClass = `conv-preview${preview.typing ? " is-typing" : ""}`;
    const bottom = h(
      "span",
      { class: "conv-bottom" },
      h("span", { class: previewClass, text: preview.text }),
      unreadBadge(c.unread),
    );
    return h("button", props, avatar(name, online), h("span", { class: "conv-main" }, top, bottom));
  }

  /** Put rows in recency order, moving as few as possible (a moved row keeps its focus). */
  placeRows() {
    const order = [...this.convs.values()].sort(
      (a, b) => b.updatedAt - a.updatedAt || (a.topic < b.topic ? -1 : 1),
    );
    let cursor = null;
    for (const c of order) {
      const li = this.rows.get(c.topic) || this.renderRow(c);
      const expected = cursor ? cursor.nextElementSibling : this.list.firstElementChild;
      if (expected !== li) {
        const focused = li.contains(document.activeElement) ? document.activeElement : null;
        if (cursor) cursor.after(li);
        else this.list.prepend(li);
        focused?.focus();
      }
      cursor = li;
    }
    this.renderTotals();
  }

  /** Merge what is known of a conversation (a list item, or what a message tells). */
  upsert(item) {
    const known = this.convs.get(item.topic);
    const id = item.visitor?.id || visitorIdOf(item.topic);
    if (typeof item.online === "boolean") this.setOnline(id, item.online);
    const c = {
      topic: item.topic,
      visitor: {
        id,
        nickname: item.visitor?.nickname || known?.visitor.nickname || null,
        email: item.visitor?.email ?? known?.visitor.email ?? null,
      },
      lastMessage: item.lastMessage ?? known?.lastMessage ?? null,
      unread: item.unread ?? known?.unread ?? 0,
      lastSeq: Math.max(item.lastSeq ?? 0, known?.lastSeq ?? 0),
      updatedAt: Math.max(item.updatedAt ?? 0, known?.updatedAt ?? 0),
    };
    this.convs.set(c.topic, c);
    this.renderRow(c);
    return c;
  }

  /** Reload the newest page of conversations (once at a time). */
  refresh() {
    if (this._refreshing) return this._refreshing;
    this._refreshing = (async () => {
      try {
        const reply = await this.client.request("conversations", { limit: PAGE_SIZE });
        for (const item of reply.items || []) this.upsert(item);
        if (this.convs.size <= PAGE_SIZE) this.hasMore = Boolean(reply.hasMore);
        byId("more").hidden = !this.hasMore;
        this.placeRows();
        this.hooks.refreshed(); // each item says whether its visitor is online
      } catch {
        // the next session refreshes again
      } finally {
        this._refreshing = null;
      }
    })();
    return this._refreshing;
  }

  async loadMore() {
    const oldest = Math.min(...[...this.convs.values()].map((c) => c.updatedAt));
    try {
      const fields = { limit: PAGE_SIZE, before: oldest };
      const reply = await this.client.request("conversations", fields);
      for (const item of reply.items || []) this.upsert(item);
      this.hasMore = Boolean(reply.hasMore);
      byId("more").hidden = !this.hasMore;
      this.placeRows();
    } catch {
      // keep the button
    }
  }

  /** Ask who is in these conversations (is their visitor here?). */
  async presenceOf(topics) {
    await Promise.all(topics.map((topic) => this._presence(topic)));
    this.hooks.presenceChanged();
  }

  async _presence(topic) {
    try {
      const reply = await this.client.presence(topic);
      const id = visitorIdOf(topic);
      this.setOnline(id, (reply.members || []).some((m) => m.id === id));
      const c = this.convs.get(topic);
      if (c) this.renderRow(c);
    } catch {
      // unknown this time
    }
  }

  /** The visitor of `topic` is typing: "typing…" in the preview for a few seconds. */
  typing(c) {
    clearTimeout(this.typers.get(c.topic));
    const timer = setTimeout(() => {
      this.typers.delete(c.topic);
      this.renderRow(c);
    }, TYPING_MS);
    this.typers.set(c.topic, timer);
    this.renderRow(c);
  }

  /** The visitor of `topic` sent their message: no longer typing. */
  stoppedTyping(topic) {
    clearTimeout(this.typers.get(topic));
    this.typers.delete(topic);
  }

  /** Arrow keys move between conversations. */
  _arrowKeys(event) {
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") return;
    const buttons = [...this.list.querySelectorAll("button.conv")];
    const at = buttons.indexOf(document.activeElement);
    const down = event.key === "ArrowDown";
    const next = buttons[at + (down ? 1 : -1)] || buttons[down ? 0 : buttons.length - 1];
    if (next) {
      event.preventDefault();
      next.focus();
    }
  }
}
