// The visitor's side of the widget: a name (email optional) the first time, then the conversation
// on desk/{visitorId}, history first. The token is kept in the frame's storage, so a reload or a
// later visit shows the same conversation; when the server no longer accepts it, the visitor
// starts a new one.

import { AttachmentTray } from "../ui/attach.js";
import { spoken } from "../ui/attachments.js";
import { HubbubError } from "../hubbub.js";
import { byId, wireComposer } from "../ui/dom.js";
import { Transcript } from "../ui/transcript.js";

const PAGE = 50;

export class VisitorChat {
  /**
   * @param {object} identity  what the store remembered ({token, user, nickname, email}) or null
   * @param {object} parts  client, store, host (HostLink), typing, announcer
   */
  constructor(identity, { client, store, host, typing, announcer }) {
    this.identity = identity;
    this.client = client;
    this.store = store;
    this.host = host;
    this.typing = typing;
    this.announcer = announcer;
    this.transcript = null;
    this._loadedFor = null;
    this.textarea = byId("composer-text");
    byId("intro").addEventListener("submit", (event) => this._onIntro(event));
    client.addEventListener("unauthorized", () => {
      this.forget("Your previous conversation could not be restored. Start a new one?");
    });
    this._follow();
    this._composer();
  }

  get me() {
    return this.client.user?.id || this.identity?.user?.id || null;
  }

  /** The visitor's conversation (null before they gave a name). */
  get topic() {
    return this.identity ? `desk/${this.identity.user.id}` : null;
  }

  /** The intro form, or the chat for a visitor the frame remembers. */
  start() {
    if (this.identity) {
      byId("w-nickname").value = this.identity.nickname || "";
      this._showChat();
    } else {
      this._showIntro();
    }
  }

  /** The panel was opened: focus where the visitor will type, show the latest. */
  focus() {
    const target = this.identity ? this.textarea : byId("w-nickname");
    target.focus({ preventScroll: true });
    this.transcript?.scrollToBottom();
  }

  _showIntro(notice = "") {
    byId("intro").hidden = false;
    byId("chat").hidden = true;
    byId("intro-error").textContent = notice;
  }

  _showChat() {
    byId("intro").hidden = true;
    byId("chat").hidden = false;
    if (this.transcript) return;
    const client = this.client;
    this.transcript = new Transcript(byId("transcript"), {
      me: () => this.me,
      label: "Conversation",
      emptyText: "Ask us anything. We will answer right here.",
      operatorLabel: "Support",
      loadOlder: (before) => client.history(this.topic, { before, limit: PAGE }),
      onRetry: (cid) => client.retry(cid),
      onDiscard: (cid) => client.discard(cid),
    });
    for (const entry of client.outbox(this.topic)) this.transcript.showPending(entry);
  }

  /** Follow the conversation and show its latest page (once per conversation). */
  async join() {
    const t = this.topic;
    if (!t || this._loadedFor === t) return;
    this._loadedFor = t;
    this._showChat();
    try {
      const reply = await this.client.subscribe(t);
      const page = await this.client.history(t, { before: (reply.lastSeq ?? 0) + 1, limit: PAGE });
      this.transcript.setLatest(page.messages || [], page.hasMore);
    } catch (err) {
      this._loadedFor = null;
      if (err instanceof HubbubError && err.code === "forbidden") this.forget("");
    }
  }

  forget(notice) {
    this.identity = null;
    this.store.remove("identity");
    this._loadedFor = null;
    this.host.post({ type: "active", active: false });
    this._showIntro(notice);
  }

  async _onIntro(event) {
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
      const welcome = await this.client.request("register", fields);
      this.identity = { token: welcome.token, user: welcome.user, nickname, email };
      this.store.set("identity", this.identity);
      this.client.setToken(welcome.token); // this connection is the visitor's from now on, too
      this.host.post({ type: "active", active: true });
      await this.join();
      this.textarea.focus();
    } catch (err) {
      byId("intro-error").textContent =
        err instanceof HubbubError ? err.message : "We could not reach the chat. Try again.";
    } finally {
      button.disabled = false;
    }
  }

  _follow() {
    const client = this.client;
    client.addEventListener("message", (e) => {
      const { message, source, own } = e.detail;
      if (message.topic !== this.topic) return;
      this.transcript?.add(message);
      this.typing.stopped(message.from);
      if (!own && source === "live") {
        this.announcer.say(`${message.nickname || "Support"}: ${spoken(message)}`);
        this.host.replied();
      }
    });
    client.addEventListener("outbox", (e) => {
      if (e.detail.entry.topic === this.topic) this.transcript?.showPending(e.detail.entry);
    });
    client.addEventListener("typing", (e) => {
      if (e.detail.topic === this.topic && e.detail.user.id !== this.me) {
        this.typing.saw(e.detail.user);
      }
    });
  }

  _composer() {
    const tray = new AttachmentTray(byId("composer"), this.textarea, {
      upload: (file) => this.client.upload(this.topic, file),
      enabled: () => Boolean(this.identity),
      limits: () => this.client.hello?.limits,
    });
    wireComposer(byId("composer"), this.textarea, {
      ready: () => Boolean(this.identity),
      send: (text, attachments) => this.client.send(this.topic, text, { attachments }),
      typing: () => this.client.typing(this.topic),
      tray,
    });
  }
}
