// The message list of one topic, shared by the rooms, the console and the widget. It owns the
// reading experience: order by seq whatever order messages arrive in, no jump when older pages
// load above what is being read, and a "new messages" button rather than scrolling away.

import { bringsLinks } from "./attachments.js";
import { h, icon } from "./dom.js";
import { messageRow, pendingContent } from "./message.js";

const GROUP_MS = 5 * 60 * 1000; // one author's messages closer than this share one header

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
   *   onRetry(clientMsgId); onDiscard(clientMsgId); label; emptyText; operatorLabel;
   *   onEdit(message), onDelete(message): give the author's rows Edit and Delete controls
   */
  constructor(host, opts) {
    this.opts = { emptyText: "No messages yet.", operatorLabel: "Team", label: "Messages", ...opts };
    this.host = host;
    this.bySeq = new Map();
    this.messages = new Map(); // seq -> the message as last shown (for edits and deletes)
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
    this.messages.clear();
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

  /**
   * An `edited` or `deleted` event (or reply): the row of that seq shows the new text or a
   * tombstone. A message not loaded here yet is left alone; history brings it as it now is.
   */
  revise(change) {
    const el = this.bySeq.get(change.seq);
    if (!el || el.dataset.id !== change.id) return null;
    const now = { ...this.messages.get(change.seq) };
    if (change.type === "deleted") {
      now.deleted = true;
      delete now.text;
    } else if (!now.deleted) {
      now.text = change.text;
      now.editedAt = change.editedAt;
    }
    return this._replace(change.seq, now);
  }

  /** Draw the row of `seq` again as it stands (an inline editor closed without saving). */
  redraw(seq) {
    return this.bySeq.has(seq) ? this._replace(seq, this.messages.get(seq)) : null;
  }

  _replace(seq, message) {
    const row = this._row(message);
    this.bySeq.get(seq).replaceWith(row);
    this.bySeq.set(seq, row);
    this.messages.set(seq, message);
    this._group(row);
    return row;
  }

  _row(message) {
    const { onEdit, onDelete, operatorLabel } = this.opts;
    return messageRow(message, { me: this.opts.me(), operatorLabel, onEdit, onDelete });
  }

  _insert(message) {
    if (this.bySeq.has(message.seq)) {
      // an own message drawn from its ack gets its attachments' links when the push comes
      const shown = this.messages.get(message.seq);
      if (shown.id === message.id && bringsLinks(shown, message)) {
        this._replace(message.seq, { ...shown, attachments: message.attachments });
      }
      return null;
    }
    const el = this._row(message);
    this.messages.set(message.seq, message);
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
    el.replaceChildren(...pendingContent(entry, this.opts));
    this.renderEdge();
    if (stick) this.scrollToBottom();
  }
}
