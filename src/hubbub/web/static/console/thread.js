// The conversation the operator has open: the visitor's name, presence and email in the head,
// the transcript, who is typing, and the reply box. Opening it reads it (the unread badge goes,
// and the server learns the read marker, which clears it in the operator's other tabs too).
// On phones the list and the thread take turns: Escape or the back button return to the list.

import { AttachmentTray } from "../ui/attach.js";
import { byId, h, icon, wireComposer } from "../ui/dom.js";
import { Transcript } from "../ui/transcript.js";
import { TypingIndicator } from "../ui/typing.js";
import { initial } from "./inbox.js";

const PAGE = 50;

export class Thread {
  /** @param {object} parts  client, inbox; me(): the operator's id */
  constructor({ client, inbox, me }) {
    this.client = client;
    this.inbox = inbox;
    this.me = me;
    this.topic = null;
    this.transcript = null;
    this.layout = byId("layout");
    this.typing = new TypingIndicator(byId("typing"));
    this.textarea = byId("composer-text");
    byId("send").append(icon("send"));
    byId("back").append(icon("back"));
    byId("back").addEventListener("click", () => this.close());
    byId("thread").addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.layout.classList.contains("show-thread")) this.close();
    });
    this._composer();
  }

  _composer() {
    const tray = new AttachmentTray(byId("composer"), this.textarea, {
      upload: (file) => this.client.upload(this.topic, file),
      enabled: () => Boolean(this.topic),
      limits: () => this.client.hello?.limits,
      dropTargets: [byId("thread")],
    });
    wireComposer(byId("composer"), this.textarea, {
      ready: () => Boolean(this.topic),
      send: (text, attachments) => this.client.send(this.topic, text, { attachments }),
      typing: () => this.client.typing(this.topic),
      tray,
    });
  }

  renderHead() {
    if (!this.topic) return;
    const c = this.inbox.get(this.topic);
    const name = c?.visitor.nickname || "Visitor";
    byId("visitor-name").textContent = name;
    byId("visitor-avatar").textContent = initial(name);
    const isOnline = this.inbox.isOnline(this.topic);
    byId("visitor-dot").classList.toggle("on", isOnline);
    byId("visitor-status").textContent = isOnline ? "Online now" : "Offline";
    byId("visitor-email").textContent = c?.visitor.email ? ` · ${c.visitor.email}` : "";
    byId("composer-label").textContent = `Reply to ${name}`;
    this.textarea.placeholder = `Reply to ${name}`;
  }

  /** The operator has seen `topic` up to its last message (only while the tab is visible). */
  markRead(topic) {
    const c = this.inbox.get(topic);
    if (!c || document.hidden) return;
    const seq = Math.max(c.lastSeq, this.transcript?.highestSeq() || 0);
    if (c.unread > 0 || seq > (c.readSeq ?? 0)) {
      c.unread = 0;
      c.readSeq = seq;
      this.inbox.renderRow(c);
      this.inbox.renderTotals();
      if (seq > 0) this.client.read(topic, seq).catch(() => {});
    }
  }

  async open(topic, fromUser) {
    if (!this.inbox.get(topic)) return;
    if (this.topic === topic) {
      this.layout.classList.add("show-thread");
      if (fromUser) this.textarea.focus();
      return;
    }
    this._switchTo(topic);
    const shown = this._newTranscript(topic);
    this.renderHead();
    this.inbox.renderRow(this.inbox.get(topic));
    if (fromUser) this.textarea.focus();
    try {
      const reply = await this.client.subscribe(topic);
      const before = (reply.lastSeq ?? 0) + 1;
      const page = await this.client.history(topic, { before, limit: PAGE });
      if (this.transcript !== shown) return;
      shown.setLatest(page.messages || [], page.hasMore);
      const c = this.inbox.get(topic);
      if (c && reply.lastSeq) c.lastSeq = Math.max(c.lastSeq, reply.lastSeq);
      this.markRead(topic);
    } catch {
      // offline: the session handler reloads it
    }
    this.inbox.presenceOf([topic]);
  }

  /** Leave the conversation shown (its subscription too) for `topic`. */
  _switchTo(topic) {
    const previous = this.topic;
    this.topic = topic;
    if (previous) {
      this.client.unsubscribe(previous);
      const p = this.inbox.get(previous);
      if (p) this.inbox.renderRow(p);
    }
    if (location.hash !== `#${topic}`) history.replaceState(null, "", `#${topic}`);
    byId("placeholder").hidden = true;
    byId("thread").hidden = false;
    this.layout.classList.add("show-thread");
    this.typing.clear();
  }

  _newTranscript(topic) {
    const host = h("div", { class: "transcript", id: "transcript" });
    byId("transcript").replaceWith(host);
    const name = this.inbox.get(topic).visitor.nickname || "Visitor";
    const client = this.client;
    this.transcript = new Transcript(host, {
      me: this.me,
      label: `Conversation with ${name}`,
      emptyText: "No messages yet.",
      operatorLabel: "Team",
      loadOlder: (before) => client.history(topic, { before, limit: PAGE }),
      onRetry: (cid) => client.retry(cid),
      onDiscard: (cid) => client.discard(cid),
    });
    for (const entry of client.outbox(topic)) this.transcript.showPending(entry);
    return this.transcript;
  }

  /** Back to the list (on phones), with the focus on the conversation's row. */
  close() {
    this.layout.classList.remove("show-thread");
    const row = this.topic ? this.inbox.rows.get(this.topic) : null;
    row?.querySelector("button")?.focus();
  }
}
