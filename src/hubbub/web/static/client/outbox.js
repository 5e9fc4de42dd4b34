// The outbox: what the page sent and the server has not acknowledged yet. Each entry keeps its
// clientMsgId for life, so sending it again (after a reconnect, a late ack, a retry) stores it at
// most once on the server. An entry goes sending -> sent, or -> failed when the server refuses it
// or nothing acknowledges it in time; with `storage`, unacknowledged entries survive a reload.

import { RETRYABLE, newId } from "./protocol.js";

const SWEEP_MS = 1000;

export class Outbox {
  /**
   * @param {object} parts  socket (where frames go); options (ackTimeoutMs, sendFailAfterMs,
   *   storage, storageKey); emit(type, detail) for the page's `outbox` events
   */
  constructor({ socket, options, emit }) {
    this.socket = socket;
    this.options = options;
    this.emit = emit;
    this._entries = new Map(); // clientMsgId -> entry
    this._refs = new Map(); // ref of a send -> clientMsgId
    this._sweepTimer = null;
    this._load();
  }

  add(topic, text, attachments = []) {
    const entry = {
      clientMsgId: newId(),
      topic,
      text,
      attachments,
      state: "sending",
      createdAt: Date.now(),
      sentAt: 0,
      attempts: 0,
      error: null,
      retryAt: 0,
    };
    this._entries.set(entry.clientMsgId, entry);
    this._changed(entry);
    this._transmit(entry);
    this._sweep();
    return entry;
  }

  retry(clientMsgId) {
    const entry = this._entries.get(clientMsgId);
    if (!entry || entry.state === "sent") return;
    entry.state = "sending";
    entry.createdAt = Date.now();
    entry.error = null;
    entry.retryAt = 0;
    this._changed(entry);
    this._transmit(entry);
    this._sweep();
  }

  discard(clientMsgId) {
    const entry = this._entries.get(clientMsgId);
    if (!entry) return;
    this._entries.delete(clientMsgId);
    entry.state = "discarded";
    this._changed(entry);
  }

  /** Unacknowledged entries (sending or failed), oldest first; of one topic if given. */
  list(topic) {
    return [...this._entries.values()]
      .filter((e) => topic === undefined || e.topic === topic)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  get(clientMsgId) {
    return this._entries.get(clientMsgId);
  }

  /** The clientMsgId a reply with this ref answers, if it answers a send (asked once). */
  takeRef(ref) {
    const clientMsgId = ref ? this._refs.get(ref) : undefined;
    if (clientMsgId !== undefined) this._refs.delete(ref);
    return clientMsgId;
  }

  /** The socket is gone: replies to what went out on it will not come. */
  forgetRefs() {
    this._refs.clear();
  }

  /** A session began: send what is waiting. */
  flush() {
    for (const entry of this.list()) {
      if (entry.state === "sending") this._transmit(entry);
    }
    this._sweep();
  }

  /** Stop the sweep (the entries stay as they are, and stay persisted). */
  stop() {
    clearTimeout(this._sweepTimer);
    this._sweepTimer = null;
  }

  /** An ack: the entry is sent. Returns the message it became (null: not ours). */
  acknowledge(frame, user) {
    const entry = this._entries.get(frame.clientMsgId);
    if (!entry) return null;
    const message = {
      topic: entry.topic,
      id: frame.id,
      seq: frame.seq,
      ts: frame.ts,
      from: user ? user.id : null,
      nickname: user ? user.nickname : null,
      text: entry.text,
      clientMsgId: entry.clientMsgId,
    };
    if (entry.attachments?.length) message.attachments = entry.attachments;
    this.settle(entry, message);
    return message;
  }

  /** The entry came back as `message` (ack, echo or backlog): it is sent. */
  settle(entry, message) {
    if (!this._entries.has(entry.clientMsgId)) return;
    this._entries.delete(entry.clientMsgId);
    entry.state = "sent";
    entry.id = message.id;
    entry.seq = message.seq;
    entry.ts = message.ts;
    this._changed(entry);
  }

  /** The server answered a send with an error: wait and send again, or fail the entry. */
  refused(clientMsgId, frame) {
    const entry = this._entries.get(clientMsgId);
    if (!entry || entry.state !== "sending") return;
    if (RETRYABLE.has(frame.code)) {
      const wait = typeof frame.retryAfter === "number" ? frame.retryAfter * 1000 : 1000;
      entry.retryAt = Date.now() + wait;
      entry.sentAt = 0;
      if (frame.code === "unauthorized") this.socket.reconnect();
      this._sweep();
      return;
    }
    this._fail(entry, String(frame.message || frame.code));
  }

  _changed(entry) {
    this._save();
    this.emit("outbox", { entry });
  }

  _fail(entry, error) {
    entry.state = "failed";
    entry.error = error;
    this._changed(entry);
  }

  _transmit(entry) {
    const ws = this.socket.usable;
    if (!ws || entry.state !== "sending") return;
    const ref = newId(8);
    this._refs.set(ref, entry.clientMsgId);
    entry.attempts += 1;
    entry.sentAt = Date.now();
    const { topic, text, clientMsgId } = entry;
    const frame = { action: "send", topic, text, clientMsgId, ref };
    if (entry.attachments?.length) frame.attachments = entry.attachments.map((a) => a.id);
    try {
      ws.send(JSON.stringify(frame));
    } catch {
      this._refs.delete(ref);
    }
  }

  /** Once a second while something is unacknowledged: resend late ones, fail stale ones. */
  _sweep() {
    if (this._sweepTimer) return;
    const tick = () => {
      this._sweepTimer = null;
      if (this._sweepOnce(Date.now())) this._sweepTimer = setTimeout(tick, SWEEP_MS);
    };
    this._sweepTimer = setTimeout(tick, SWEEP_MS);
  }

  /** One pass of the sweep; true while some entry is still waiting for its ack. */
  _sweepOnce(now) {
    const online = this.socket.online;
    let waiting = false;
    for (const entry of this._entries.values()) {
      if (entry.state !== "sending") continue;
      if (now - entry.createdAt > this.options.sendFailAfterMs) {
        this._fail(entry, online ? "no reply from the server" : "not connected");
        continue;
      }
      waiting = true;
      if (!online) continue;
      const late = entry.sentAt && now - entry.sentAt > this.options.ackTimeoutMs;
      const due = !entry.sentAt && now >= entry.retryAt;
      if (late || due) this._transmit(entry);
    }
    return waiting;
  }

  _load() {
    const { storage, storageKey } = this.options;
    if (!storage) return;
    try {
      const saved = JSON.parse(storage.getItem(storageKey) || "[]");
      for (const e of Array.isArray(saved) ? saved : []) {
        if (!e || typeof e.clientMsgId !== "string" || typeof e.text !== "string") continue;
        if (typeof e.topic !== "string") continue;
        const failed = e.state === "failed";
        const entry = {
          ...e,
          attachments: Array.isArray(e.attachments) ? e.attachments : [],
          state: failed ? "failed" : "sending",
          createdAt: failed ? e.createdAt : Date.now(),
          sentAt: 0,
          retryAt: 0,
        };
        this._entries.set(entry.clientMsgId, entry);
      }
    } catch {
      // unreadable: start empty
    }
    if (this._entries.size) this._sweep();
  }

  _save() {
    const { storage, storageKey } = this.options;
    if (!storage) return;
    const keep = [...this._entries.values()].map(
      ({ clientMsgId, topic, text, attachments, state, createdAt, attempts, error }) => ({
        clientMsgId,
        topic,
        text,
        attachments,
        state,
        createdAt,
        attempts,
        error,
      }),
    );
    try {
      if (keep.length) storage.setItem(storageKey, JSON.stringify(keep));
      else storage.removeItem(storageKey);
    } catch {
      // storage full or blocked: the outbox still works for this page
    }
  }
}
