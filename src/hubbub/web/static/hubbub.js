// hubbub.js: a browser client of the hubbub WebSocket protocol v1 (docs/protocol.md).
//
// One HubbubClient keeps one logical session alive over as many WebSocket connections as it
// takes: it reconnects with capped exponential backoff and full jitter, pings to keep the
// connection (and to notice a dead one), and after every (re)connect it says hello again,
// re-subscribes every topic with `since` = the highest seq it has seen there, and re-sends what
// the server has not acknowledged (same clientMsgId, so the server stores it once). Messages are
// deduplicated by topic + seq, so each one is delivered to the page exactly once.
//
// This file is the public face: the work is done by the parts in client/ (socket.js: connecting,
// backoff, keepalive; topics.js: seqs, dedupe, gaps; subscriptions.js: resume; outbox.js:
// unacknowledged sends; requests.js: replies by ref). It wires them into one session and turns
// frames into the page's events.
//
// No build step, no dependencies; works against `hubbub serve` (ws://host/ws) and against an API
// Gateway endpoint (wss://{api}.execute-api.{region}.amazonaws.com/{stage}).
//
// Events (CustomEvent, payload in `detail`):
//   state     {state, previous, attempt, retryAt}   connecting | online | reconnecting | offline
//   session   {hello, resumed}                      hello answered and subscriptions restored
//   message   {message, source, own}                a message not seen before; source is live |
//                                                   backlog | ack | gap
//   outbox    {entry}                               an unacknowledged send changed state
//   subscribed {topic, lastSeq, resumed, reply}      after the first subscribe and every resume
//   joined | left | typing | presence | read        the server frame
//   operators                                       the server frame (to followers of
//                                                   $sys/operators): the operator status changed
//   unauthorized {}                                 the server refused the token (dropped)
//   token     {token, expiresAt}                    the token was renewed (`refresh`): keep it
//   error     {frame}                               an error nobody was waiting for

import { Outbox } from "./client/outbox.js";
import { uploadFile } from "./client/uploads.js";
import { ConnectionLost, HubbubError, isWildcard, newId } from "./client/protocol.js";
import { Requests } from "./client/requests.js";
import { STATES, Socket } from "./client/socket.js";
import { Subscriptions } from "./client/subscriptions.js";
import { refreshDelayMs } from "./client/tokens.js";
import { Topics } from "./client/topics.js";

export { ConnectionLost, HubbubError, STATES, isWildcard, newId };

const DEFAULTS = Object.freeze({
  backoffBaseMs: 500,
  backoffCapMs: 15000,
  pingIntervalMs: null, // null: what the server's hello.limits.pingIntervalMs says
  pongTimeoutMs: 10000,
  connectTimeoutMs: 10000,
  requestTimeoutMs: 15000,
  ackTimeoutMs: 10000,
  sendFailAfterMs: 60000,
  typingIntervalMs: 2500,
  authProbeAfter: 3,
  storage: null,
  storageKey: "hubbub.outbox",
  apiUrl: "", // the HTTP API's base URL for upload(); "" is this page's origin
});

/** Server frames that reach the page as events of the same name (unless they answer a request). */
const FORWARDED = new Set([
  "joined",
  "left",
  "presence",
  "read",
  "operators",
  "typing",
  "edited",
  "deleted",
  "moderated",
]);

export class HubbubClient extends EventTarget {
  /**
   * @param {string} url  ws:// or wss:// URL of the WebSocket endpoint
   * @param {object} [options]
   * @param {string|null} [options.token]  visitor or operator token, sent as a subprotocol
   * @param {Storage|null} [options.storage]  where to keep the outbox across page loads
   * @param {string} [options.storageKey]  the key of the outbox in `storage`
   */
  constructor(url, options = {}) {
    super();
    const u = new URL(url);
    if (u.protocol !== "ws:" && u.protocol !== "wss:") {
      throw new TypeError(`not a WebSocket URL: ${url}`);
    }
    this.url = u.toString();
    this.options = { ...DEFAULTS, WebSocket: globalThis.WebSocket, ...options };
    this.hello = null;
    this.user = null;
    this._typingAt = new Map(); // topic -> ms
    this._refreshTimer = null;
    this._wire();
  }

  _wire() {
    const emit = (type, detail) => this._emit(type, detail);
    this._socket = new Socket(this.url, this.options, {
      state: (detail) => emit("state", detail),
      open: (ws) => this._startSession(ws),
      frame: (frame) => this._onFrame(frame),
      closed: (reason) => {
        this._requests.failAll(reason);
        this._outbox.forgetRefs();
      },
      unauthorized: () => emit("unauthorized", {}),
    });
    this._requests = new Requests(this._socket, this.options.requestTimeoutMs);
    this._topics = new Topics({
      request: (ws, frame) => this._requests.send(ws, frame),
      usable: () => this._socket.usable,
      deliver: (message, source) => this._deliver(message, source),
      duplicate: (message) => this._duplicate(message),
    });
    this._subs = new Subscriptions({
      socket: this._socket,
      requests: this._requests,
      topics: this._topics,
      emit,
      request: (action, fields) => this.request(action, fields),
    });
    this._outbox = new Outbox({ socket: this._socket, options: this.options, emit });
  }

  // ---- lifecycle --------------------------------------------------------------------------

  get state() {
    return this._socket.state;
  }

  /** When the next connection attempt is due (ms epoch), while waiting to reconnect. */
  get retryAt() {
    return this._socket.retryAt;
  }

  /** True while a deliberate reconnect (new token) is under way: not worth a banner. */
  get quiet() {
    return this._socket.quiet;
  }

  get online() {
    return this._socket.online;
  }

  /** The token of the next connections (null once the server refused it). */
  get token() {
    return this._socket.token;
  }

  /** Messages dropped as already delivered (at-least-once delivery, resumes). */
  get duplicates() {
    return this._topics.duplicates;
  }

  /** Start (or keep) connecting. Idempotent. */
  connect() {
    this._socket.connect();
    return this;
  }

  /** Stop for good: close the socket, stop retrying. The outbox is kept (and persisted). */
  close() {
    clearTimeout(this._refreshTimer);
    this._outbox.stop();
    this._socket.close();
  }

  /** Use this token from the next connection on (null: connect as a guest). */
  setToken(token) {
    this._socket.token = token || null;
    if (this._socket.inSession) this._scheduleRefresh();
  }

  /** Ask for a fresh token before this one expires (operators' last 12 hours). */
  _scheduleRefresh() {
    clearTimeout(this._refreshTimer);
    const delay = refreshDelayMs(this._socket.token, Date.now());
    if (delay === null) return;
    this._refreshTimer = setTimeout(() => this._refresh(), delay);
  }

  async _refresh() {
    const asked = this._socket.token;
    let reply;
    try {
      reply = await this.request("refresh");
    } catch {
      return; // offline or refused: the next session schedules again
    }
    if (this._socket.token !== asked) return; // the page switched tokens meanwhile
    this.setToken(reply.token);
    this._emit("token", { token: reply.token, expiresAt: reply.expiresAt });
  }

  /** Drop the current connection (if any) and connect again now, e.g. with a new token. */
  reconnect() {
    this._socket.reconnect();
    return this;
  }

  /** While waiting to reconnect: try now instead. */
  retryNow() {
    this._socket.retryNow();
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  async _startSession(ws) {
    const socket = this._socket;
    const resumed = socket.everOnline;
    try {
      const hello = await this._requests.send(ws, { action: "hello" });
      this.hello = hello;
      this.user = hello.user || null;
      socket.beginSession(ws);
      this._emit("hello", { hello });
      socket.startKeepalive(ws, hello.limits?.pingIntervalMs);
      await this._subs.resumeAll(ws);
    } catch (err) {
      if (socket.ws === ws) socket.drop(`session start failed: ${err.message}`);
      return;
    }
    if (socket.ws !== ws) return;
    socket.sessionReady();
    this._scheduleRefresh();
    this._emit("session", { hello: this.hello, resumed });
    this._outbox.flush();
  }

  // ---- requests ---------------------------------------------------------------------------

  /**
   * Send one action and wait for its direct reply (matched by `ref`). Waits for the session to
   * be online first. Resolves with the reply; rejects with HubbubError or ConnectionLost.
   */
  async request(action, fields = {}, { timeoutMs } = {}) {
    const limit = timeoutMs ?? this.options.requestTimeoutMs;
    await this._socket.whenOnline(limit, () => new ConnectionLost("offline"));
    return this._requests.send(this._socket.ws, { ...fields, action }, limit);
  }

  history(topic, { before, after, limit = 50 } = {}) {
    const fields = { topic, limit };
    if (before !== undefined && before !== null) fields.before = before;
    if (after !== undefined && after !== null) fields.after = after;
    return this.request("history", fields);
  }

  /** Who is in `topic`; a large room answers {count, large, members (a page), next}. */
  presence(topic, page = {}) {
    return this.request("presence", { topic, ...page });
  }

  /** Replace the text of one's own message; resolves with `edited` (also pushed to all). */
  edit(topic, id, text) {
    return this.request("edit", { topic, id, text });
  }

  /** Leave a tombstone in a message's place; resolves with `deleted` (also pushed to all). */
  deleteMessage(topic, id) {
    return this.request("delete", { topic, id });
  }

  /** Operators: mute, unmute, ban, unban or kick a user on a topic; resolves with `moderated`. */
  moderate(topic, userId, sanction, seconds) {
    const fields = { topic, userId, sanction };
    if (seconds) fields.seconds = seconds;
    return this.request("moderate", fields);
  }

  /** Operators: the sanctions in force, on one topic or all. */
  sanctions(topic) {
    return this.request("sanctions", topic ? { topic } : {});
  }

  read(topic, seq) {
    return this.request("read", { topic, seq });
  }

  /** Tell the topic you are typing; throttled here so it can be called on every keystroke. */
  typing(topic) {
    const now = Date.now();
    if (!this.online || now - (this._typingAt.get(topic) || 0) < this.options.typingIntervalMs) {
      return false;
    }
    this._typingAt.set(topic, now);
    try {
      this._socket.ws.send(JSON.stringify({ action: "typing", topic }));
    } catch {
      return false;
    }
    return true;
  }

  // ---- subscriptions ----------------------------------------------------------------------

  /**
   * Subscribe (and stay subscribed across reconnects). `since` asks for the backlog after that
   * seq; without it the reply carries `lastSeq` only (load older messages with `history`).
   * Resolves with the first `subscribed` reply.
   */
  subscribe(filter, { since } = {}) {
    return this._subs.add(filter, since);
  }

  unsubscribe(filter) {
    return this._subs.remove(filter);
  }

  get subscriptions() {
    return this._subs.filters;
  }

  /** The highest seq shown for `topic` with nothing missing below it (null: none yet). */
  lastSeq(topic) {
    return this._topics.lastSeq(topic);
  }

  // ---- outbox -----------------------------------------------------------------------------

  /**
   * Queue a message. Returns its outbox entry {clientMsgId, topic, text, state, ...}; its state
   * goes sending -> sent (or failed, see retry()). Sent while offline, it goes out on reconnect.
   * `attachments` are what upload() resolved to; the text may then be empty.
   */
  send(topic, text, { attachments = [] } = {}) {
    this._typingAt.delete(topic); // a message ends "typing": the next keystroke says so again
    return this._outbox.add(topic, text, attachments);
  }

  /**
   * Upload a File (or Blob with a type) to attach to a message on `topic`: resolves to the
   * attachment {id, filename, contentType, size} to pass to send(). Needs a token (guests may
   * not send); options.apiUrl is the HTTP API's base when it is not this page's origin.
   */
  upload(topic, file) {
    return uploadFile({ apiUrl: this.options.apiUrl, token: this.token }, topic, file);
  }

  /** Send a failed message again (same clientMsgId: the server stores it at most once). */
  retry(clientMsgId) {
    this._outbox.retry(clientMsgId);
  }

  /** Give up on a failed message. */
  discard(clientMsgId) {
    this._outbox.discard(clientMsgId);
  }

  /** Unacknowledged entries (sending or failed), oldest first; of one topic if given. */
  outbox(topic) {
    return this._outbox.list(topic);
  }

  // ---- frames -----------------------------------------------------------------------------

  _deliver(message, source) {
    const own = Boolean(this.user && message.from === this.user.id);
    if (own && message.clientMsgId) {
      const entry = this._outbox.get(message.clientMsgId);
      if (entry && entry.topic === message.topic) this._outbox.settle(entry, message);
    }
    this._emit("message", { message, source, own });
  }

  /** A repeat of an own message still settles its entry (the ack may have been lost). */
  _duplicate(message) {
    const own = Boolean(this.user && message.from === this.user.id);
    const entry = this._outbox.get(message.clientMsgId);
    if (entry && own) this._outbox.settle(entry, message);
    // an own message shown from its ack has no links yet: the push brings them
    if (own && message.attachments?.length) {
      this._emit("message", { message, source: "refresh", own });
    }
  }

  _onFrame(frame) {
    const ref = typeof frame.ref === "string" ? frame.ref : null;
    const sendFor = this._outbox.takeRef(ref);
    if (frame.type === "message") {
      this._topics.accept(frame, "live");
      return;
    }
    if (frame.type === "ack") {
      const message = this._outbox.acknowledge(frame, this.user);
      if (message) this._topics.accept(message, "ack");
      return;
    }
    if (frame.type === "error" && sendFor !== undefined) {
      this._outbox.refused(sendFor, frame);
      return;
    }
    // register upgraded this connection: its user is the new one from now on
    if (frame.type === "welcome" && frame.user) this.user = frame.user;
    if (FORWARDED.has(frame.type) && !ref) this._emit(frame.type, frame);
    if (this._requests.answer(frame, ref)) return;
    if (frame.type === "error") {
      if (frame.action === "typing" || frame.action === "ping") return;
      this._emit("error", { frame });
    } else if (frame.type === undefined && typeof frame.message === "string") {
      // API Gateway's own frames: {"message": "Internal server error", ...}
      this._emit("error", { frame: { code: "internal", message: frame.message } });
    }
  }
}
