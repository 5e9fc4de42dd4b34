// The topics the page follows, kept across reconnects: after every (re)connect each one is
// subscribed again with `since` = the last seq had there (topics.js), so the reply's backlog is
// exactly what was missed; a `hasMore` backlog is paged in with history. Wildcard filters carry
// no `since` and get no backlog.

import { ConnectionLost, isWildcard } from "./protocol.js";

export class Subscriptions {
  /**
   * @param {object} parts  socket, requests, topics; emit(type, detail) for the page's events;
   *   request(action, fields): a request once online (for unsubscribe)
   */
  constructor({ socket, requests, topics, emit, request }) {
    this.socket = socket;
    this.requests = requests;
    this.topics = topics;
    this.emit = emit;
    this.request = request;
    this._subs = new Map(); // filter -> {since, waiters: [{resolve, reject}], done, reply}
  }

  get filters() {
    return [...this._subs.keys()];
  }

  add(filter, since) {
    let sub = this._subs.get(filter);
    if (!sub) {
      sub = { since: since ?? null, waiters: [], done: false, reply: null };
      this._subs.set(filter, sub);
      if (this.socket.inSession) this._resume(this.socket.ws, filter).catch(() => {});
    }
    if (sub.done) return Promise.resolve(sub.reply);
    return new Promise((resolve, reject) => sub.waiters.push({ resolve, reject }));
  }

  async remove(filter) {
    const sub = this._subs.get(filter);
    this._subs.delete(filter);
    if (sub) {
      for (const w of sub.waiters) w.reject(new ConnectionLost("unsubscribed"));
    }
    if (this.socket.online) {
      try {
        await this.request("unsubscribe", { topic: filter });
      } catch {
        // gone with the connection anyway
      }
    }
  }

  /** Subscribe everything again on a new session's socket. */
  resumeAll(ws) {
    return Promise.all(this.filters.map((filter) => this._resume(ws, filter)));
  }

  async _resume(ws, filter) {
    const sub = this._subs.get(filter);
    if (!sub) return;
    const frame = { action: "subscribe", topic: filter };
    const wildcard = isWildcard(filter);
    if (!wildcard) {
      const known = this.topics.lastSeq(filter);
      if (known !== null) frame.since = known;
      else if (sub.since !== null) frame.since = sub.since;
    }
    let reply;
    try {
      reply = await this.requests.send(ws, frame);
    } catch (err) {
      if (err instanceof ConnectionLost) throw err;
      this._refused(filter, sub, err);
      return;
    }
    const resumed = sub.done;
    if (!wildcard) await this._backlog(ws, filter, frame, reply);
    sub.done = true;
    sub.reply = reply;
    for (const w of sub.waiters) w.resolve(reply);
    sub.waiters = [];
    this.emit("subscribed", { topic: filter, lastSeq: reply.lastSeq ?? null, resumed, reply });
  }

  /** Refused (e.g. forbidden): give up on this one, the page decides. */
  _refused(filter, sub, err) {
    this._subs.delete(filter);
    for (const w of sub.waiters) w.reject(err);
    sub.waiters = [];
    this.emit("error", { frame: err.frame || {}, topic: filter });
  }

  async _backlog(ws, filter, frame, reply) {
    // no backlog asked: everything up to lastSeq is the page's to load with history
    this.topics.advanceTo(filter, frame.since === undefined ? (reply.lastSeq ?? 0) : frame.since);
    for (const m of reply.messages || []) this.topics.accept(m, "backlog");
    if (reply.hasMore) await this.topics.catchUp(ws, filter);
  }
}
