// hubbub.js: a browser client of the hubbub WebSocket protocol v1 (docs/protocol.md).
//
// One HubbubClient keeps one logical session alive over as many WebSocket connections as it
// takes: it reconnects with capped exponential backoff and full jitter, pings to keep the
// connection (and to notice a dead one), and after every (re)connect it says hello again,
// re-subscribes every topic with `since` = the highest seq it has seen there, and re-sends what
// the server has not acknowledged (same clientMsgId, so the server stores it once). Messages are
// deduplicated by topic + seq, so each one is delivered to the page exactly once.
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
//   error     {frame}                               an error nobody was waiting for

const SOCKET_OPEN = 1;

export const STATES = Object.freeze({
  CONNECTING: "connecting",
  ONLINE: "online",
  RECONNECTING: "reconnecting",
  OFFLINE: "offline",
});

const RETRYABLE = new Set(["rate_limited", "unavailable", "internal", "unauthorized"]);

/** A random id usable as a clientMsgId or ref (crypto.randomUUID needs a secure context). */
export function newId(bytes = 12) {
  const buf = new Uint8Array(bytes);
  crypto.getRandomValues(buf);
  return Array.from(buf, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The server answered a request with an error frame. */
export class HubbubError extends Error {
  constructor(frame) {
    super(String(frame.message || frame.code || "error"));
    this.name = "HubbubError";
    this.code = String(frame.code || "internal");
    this.frame = frame;
    this.retryAfter = typeof frame.retryAfter === "number" ? frame.retryAfter : null;
  }
}

/** The request could not be answered: the connection went away or the deadline passed. */
export class ConnectionLost extends Error {
  constructor(message = "connection lost") {
    super(message);
    this.name = "ConnectionLost";
  }
}

/** A wildcard filter (MQTT): it cannot carry `since`, and gets no backlog. */
export function isWildcard(filter) {
  return filter.split("/").some((level) => level === "+" || level === "#");
}

function isMessage(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof value.topic === "string" &&
    Number.isInteger(value.seq) &&
    typeof value.text === "string"
  );
}

export class HubbubClient extends EventTarget {
  /**
   * @param {string} url  ws:// or wss:// URL of the WebSocket endpoint
   * @param {object} [options]
   * @param {string|null} [options.token]  visitor or operator token, sent as ?token=
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
    this.options = {
      backoffBaseMs: 500,
      backoffCapMs: 15000,
      pingIntervalMs: 30000,
      pongTimeoutMs: 10000,
      connectTimeoutMs: 10000,
      requestTimeoutMs: 15000,
      ackTimeoutMs: 10000,
      sendFailAfterMs: 60000,
      typingIntervalMs: 2500,
      authProbeAfter: 3,
      storage: null,
      storageKey: "hubbub.outbox",
      WebSocket: globalThis.WebSocket,
      ...options,
    };
    this.token = this.options.token || null;
    this.hello = null;
    this.user = null;
    this.duplicates = 0;

    this._state = STATES.OFFLINE;
    this._ws = null;
    this._opened = false; // the current socket has opened
    this._sessionWs = null; // the socket whose hello was answered
    this._wanted = false; // connect() called and close() not since
    this._quiet = false; // a deliberate reconnect is under way
    this._attempt = 0; // failed attempts since the last good session
    this._everOnline = false;
    this._retryTimer = null;
    this._retryAt = null;
    this._connectTimer = null;
    this._pingTimer = null;
    this._pongTimer = null;
    this._sweepTimer = null;
    this._authCheck = "none"; // none | probing | verifying
    this._failuresBeforeOpen = 0;
    this._pending = new Map(); // ref -> {resolve, reject, timer, action}
    this._sendRefs = new Map(); // ref -> clientMsgId
    this._subs = new Map(); // filter -> {since, waiters: [{resolve, reject}]}
    this._topics = new Map(); // topic -> {contig, seen: Set<number>, gapTimer, filling}
    this._outbox = new Map(); // clientMsgId -> entry
    this._typingAt = new Map(); // topic -> ms
    this._waitOnline = new Set();

    this._loadOutbox();
    this._onBrowserOnline = () => this.retryNow();
    this._onBrowserOffline = () => {
      if (this._state !== STATES.ONLINE) this._setState(STATES.OFFLINE);
    };
    this._onVisible = () => {
      if (globalThis.document && document.visibilityState === "visible") this._ping();
    };
  }

  // ---- lifecycle --------------------------------------------------------------------------

  get state() {
    return this._state;
  }

  /** When the next connection attempt is due (ms epoch), while waiting to reconnect. */
  get retryAt() {
    return this._retryAt;
  }

  /** True while a deliberate reconnect (new token) is under way: not worth a banner. */
  get quiet() {
    return this._quiet;
  }

  get online() {
    return this._state === STATES.ONLINE;
  }

  /** Start (or keep) connecting. Idempotent. */
  connect() {
    if (this._wanted) return this;
    this._wanted = true;
    globalThis.addEventListener?.("online", this._onBrowserOnline);
    globalThis.addEventListener?.("offline", this._onBrowserOffline);
    globalThis.document?.addEventListener("visibilitychange", this._onVisible);
    this._open(0);
    return this;
  }

  /** Stop for good: close the socket, stop retrying. The outbox is kept (and persisted). */
  close() {
    this._wanted = false;
    globalThis.removeEventListener?.("online", this._onBrowserOnline);
    globalThis.removeEventListener?.("offline", this._onBrowserOffline);
    globalThis.document?.removeEventListener("visibilitychange", this._onVisible);
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    clearTimeout(this._sweepTimer); // entries stay as they are (and stay persisted)
    this._sweepTimer = null;
    this._drop("closed by the page");
    this._setState(STATES.OFFLINE);
  }

  /** Use this token from the next connection on (null: connect as a guest). */
  setToken(token) {
    this.token = token || null;
  }

  /** Drop the current connection (if any) and connect again now, e.g. with a new token. */
  reconnect() {
    if (!this._wanted) return this.connect();
    this._drop("reconnect requested", false);
    this._attempt = 0;
    this._quiet = true; // deliberate: nothing for a connection banner to report
    this._open(0);
    return this;
  }

  /** While waiting to reconnect: try now instead. */
  retryNow() {
    if (!this._wanted || this._ws) return;
    this._attempt = 0;
    this._open(0);
  }

  _setState(state) {
    if (state === this._state) return;
    const previous = this._state;
    this._state = state;
    this._emit("state", {
      state,
      previous,
      attempt: this._attempt,
      retryAt: this._retryAt,
      quiet: this._quiet,
    });
    if (state === STATES.ONLINE) {
      for (const wake of this._waitOnline) wake();
      this._waitOnline.clear();
    }
  }

  _emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  _open(delayMs) {
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    if (!this._wanted) return;
    if (delayMs > 0) {
      this._retryAt = Date.now() + delayMs;
      const next = globalThis.navigator?.onLine === false ? STATES.OFFLINE : STATES.RECONNECTING;
      if (next !== this._state) {
        this._setState(next);
      } else {
        // same state, new retry time: listeners (a countdown) want to know
        this._emit("state", {
          state: next,
          previous: next,
          attempt: this._attempt,
          retryAt: this._retryAt,
          quiet: this._quiet,
        });
      }
      this._retryTimer = setTimeout(() => this._open(0), delayMs);
      return;
    }
    this._retryAt = null;
    this._setState(this._everOnline ? STATES.RECONNECTING : STATES.CONNECTING);

    const probing = this._authCheck === "probing";
    const target = new URL(this.url);
    if (this.token && !probing) target.searchParams.set("token", this.token);
    let ws;
    try {
      ws = new this.options.WebSocket(target.toString());
    } catch (err) {
      this._afterClose(false, `cannot connect: ${err}`);
      return;
    }
    this._ws = ws;
    this._opened = false;
    this._sessionWs = null;
    let opened = false;
    this._connectTimer = setTimeout(() => {
      if (this._ws === ws && !opened) this._drop("connect timeout", false);
    }, this.options.connectTimeoutMs);
    ws.onopen = () => {
      if (this._ws !== ws) return;
      opened = true;
      this._opened = true;
      clearTimeout(this._connectTimer);
      this._failuresBeforeOpen = 0;
      if (this._authCheck === "probing") {
        // a guest connection works where ours did not: check once more with the token
        this._authCheck = "verifying";
        this._drop("auth probe done", true, true);
        this._open(0);
        return;
      }
      this._authCheck = "none";
      this._startSession(ws);
    };
    ws.onmessage = (event) => {
      if (this._ws === ws) this._onFrame(event.data);
    };
    ws.onclose = () => {
      if (this._ws !== ws) return;
      this._ws = null;
      this._opened = false;
      this._sessionWs = null;
      this._afterClose(opened, "closed");
    };
    ws.onerror = () => {};
  }

  /** Forget the current socket at once (a dead one may take minutes to report its close). */
  _drop(reason, retry = true, silent = false) {
    const ws = this._ws;
    if (!ws) return;
    const wasOpen = this._opened;
    this._ws = null;
    this._opened = false;
    this._sessionWs = null;
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
    try {
      ws.close(1000, reason.slice(0, 100));
    } catch {
      // already closing
    }
    if (!silent) this._afterClose(wasOpen, reason, retry);
  }

  _afterClose(wasOpen, reason, retry = true) {
    clearTimeout(this._connectTimer);
    this._stopKeepalive();
    for (const [ref, pending] of this._pending) {
      clearTimeout(pending.timer);
      pending.reject(new ConnectionLost(reason));
      this._pending.delete(ref);
    }
    this._sendRefs.clear();
    if (!wasOpen) {
      this._failuresBeforeOpen += 1;
      if (this._authCheck === "verifying") {
        // a guest could connect a moment ago, this token cannot: it was refused
        this._authCheck = "none";
        this.token = null;
        this._emit("unauthorized", {});
        if (this._wanted && retry) this._open(0);
        return;
      }
      if (this._authCheck === "probing") {
        this._authCheck = "none"; // the server is down, not our token
      } else if (
        this.token &&
        this._failuresBeforeOpen % this.options.authProbeAfter === 0
      ) {
        this._authCheck = "probing";
      }
    }
    if (!this._wanted || !retry) return;
    this._quiet = false;
    const ceiling = Math.min(
      this.options.backoffCapMs,
      this.options.backoffBaseMs * 2 ** Math.min(this._attempt, 16),
    );
    this._attempt += 1;
    this._open(Math.max(1, Math.floor(Math.random() * ceiling))); // full jitter
  }

  async _startSession(ws) {
    const resumed = this._everOnline;
    try {
      const hello = await this._request(ws, { action: "hello" });
      this.hello = hello;
      this.user = hello.user || null;
      this._sessionWs = ws;
      this._emit("hello", { hello });
      this._startKeepalive(ws);
      await Promise.all([...this._subs.keys()].map((filter) => this._resubscribe(ws, filter)));
    } catch (err) {
      if (this._ws === ws) this._drop(`session start failed: ${err.message}`);
      return;
    }
    if (this._ws !== ws) return;
    this._attempt = 0;
    this._everOnline = true;
    this._setState(STATES.ONLINE);
    this._quiet = false;
    this._emit("session", { hello: this.hello, resumed });
    this._flushOutbox();
  }

  // ---- keepalive --------------------------------------------------------------------------

  _startKeepalive(ws) {
    this._stopKeepalive();
    this._pingTimer = setInterval(() => this._ping(ws), this.options.pingIntervalMs);
  }

  _stopKeepalive() {
    clearInterval(this._pingTimer);
    clearTimeout(this._pongTimer);
    this._pingTimer = this._pongTimer = null;
  }

  _ping(ws = this._ws) {
    if (!ws || ws !== this._ws || ws.readyState !== SOCKET_OPEN || this._pongTimer) return;
    try {
      ws.send(JSON.stringify({ action: "ping" }));
    } catch {
      return;
    }
    this._pongTimer = setTimeout(() => {
      this._pongTimer = null;
      if (this._ws === ws) this._drop("no pong before the deadline");
    }, this.options.pongTimeoutMs);
  }

  // ---- requests ---------------------------------------------------------------------------

  _request(ws, frame, timeoutMs = this.options.requestTimeoutMs) {
    return new Promise((resolve, reject) => {
      if (!ws || ws !== this._ws || ws.readyState !== SOCKET_OPEN) {
        reject(new ConnectionLost("not connected"));
        return;
      }
      const ref = frame.ref || newId(8);
      const timer = setTimeout(() => {
        this._pending.delete(ref);
        reject(new ConnectionLost(`no reply to ${frame.action} within ${timeoutMs} ms`));
      }, timeoutMs);
      this._pending.set(ref, { resolve, reject, timer, action: frame.action });
      ws.send(JSON.stringify({ ...frame, ref }));
    });
  }

  _whenOnline(timeoutMs) {
    if (this.online) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._waitOnline.delete(wake);
        reject(new ConnectionLost("offline"));
      }, timeoutMs);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      this._waitOnline.add(wake);
    });
  }

  /**
   * Send one action and wait for its direct reply (matched by `ref`). Waits for the session to
   * be online first. Resolves with the reply; rejects with HubbubError or ConnectionLost.
   */
  async request(action, fields = {}, { timeoutMs } = {}) {
    const limit = timeoutMs ?? this.options.requestTimeoutMs;
    await this._whenOnline(limit);
    return this._request(this._ws, { ...fields, action }, limit);
  }

  history(topic, { before, after, limit = 50 } = {}) {
    const fields = { topic, limit };
    if (before !== undefined && before !== null) fields.before = before;
    if (after !== undefined && after !== null) fields.after = after;
    return this.request("history", fields);
  }

  presence(topic) {
    return this.request("presence", { topic });
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
      this._ws.send(JSON.stringify({ action: "typing", topic }));
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
    let sub = this._subs.get(filter);
    if (!sub) {
      sub = { since: since ?? null, waiters: [], done: false, reply: null };
      this._subs.set(filter, sub);
      if (this._ws && this._sessionWs === this._ws) {
        this._resubscribe(this._ws, filter).catch(() => {});
      }
    }
    if (sub.done) return Promise.resolve(sub.reply);
    return new Promise((resolve, reject) => sub.waiters.push({ resolve, reject }));
  }

  async unsubscribe(filter) {
    const sub = this._subs.get(filter);
    this._subs.delete(filter);
    if (sub) {
      for (const w of sub.waiters) w.reject(new ConnectionLost("unsubscribed"));
    }
    if (this.online) {
      try {
        await this.request("unsubscribe", { topic: filter });
      } catch {
        // gone with the connection anyway
      }
    }
  }

  get subscriptions() {
    return [...this._subs.keys()];
  }

  async _resubscribe(ws, filter) {
    const sub = this._subs.get(filter);
    if (!sub) return;
    const frame = { action: "subscribe", topic: filter };
    const wildcard = isWildcard(filter);
    const known = this._topics.get(filter);
    if (!wildcard) {
      if (known && known.contig !== null) frame.since = known.contig;
      else if (sub.since !== null) frame.since = sub.since;
    }
    let reply;
    try {
      reply = await this._request(ws, frame);
    } catch (err) {
      if (err instanceof ConnectionLost) throw err;
      // refused (e.g. forbidden): give up on this one, the page decides
      this._subs.delete(filter);
      for (const w of sub.waiters) w.reject(err);
      sub.waiters = [];
      this._emit("error", { frame: err.frame || {}, topic: filter });
      return;
    }
    const resumed = sub.done;
    if (!wildcard) {
      const state = this._topic(filter);
      if (frame.since === undefined) {
        // no backlog asked: everything up to lastSeq is the page's to load with history
        this._advanceTo(state, reply.lastSeq ?? 0);
      } else {
        this._advanceTo(state, frame.since);
      }
      for (const m of reply.messages || []) this._accept(m, "backlog");
      if (reply.hasMore) await this._catchUp(ws, filter);
    }
    sub.done = true;
    sub.reply = reply;
    for (const w of sub.waiters) w.resolve(reply);
    sub.waiters = [];
    this._emit("subscribed", { topic: filter, lastSeq: reply.lastSeq ?? null, resumed, reply });
  }

  /** Page forward with history {after} until the topic has no more (after a long outage). */
  async _catchUp(ws, topic) {
    const state = this._topic(topic);
    for (let pages = 0; pages < 50; pages += 1) {
      const start = state.contig ?? 0;
      const page = await this._request(ws, { action: "history", topic, after: start, limit: 100 });
      for (const m of page.messages || []) this._accept(m, "backlog");
      if (!page.hasMore) {
        this._settleGaps(state);
        return;
      }
      if ((state.contig ?? 0) === start) this._settleGaps(state);
    }
  }

  // ---- dedupe -----------------------------------------------------------------------------

  _topic(topic) {
    let state = this._topics.get(topic);
    if (!state) {
      state = { contig: null, seen: new Set(), gapTimer: null, filling: false };
      this._topics.set(topic, state);
    }
    return state;
  }

  _advanceTo(state, seq) {
    if (state.contig === null || seq > state.contig) state.contig = seq;
    for (const s of state.seen) if (s <= state.contig) state.seen.delete(s);
    while (state.seen.has(state.contig + 1)) {
      state.contig += 1;
      state.seen.delete(state.contig);
    }
  }

  /** The highest seq shown for `topic` with nothing missing below it (null: none yet). */
  lastSeq(topic) {
    return this._topics.get(topic)?.contig ?? null;
  }

  /** Deliver a message once. Returns true if it was new. */
  _accept(message, source) {
    if (!isMessage(message)) return false;
    const state = this._topic(message.topic);
    if (state.contig === null) state.contig = message.seq - 1;
    if (message.seq <= state.contig || state.seen.has(message.seq)) {
      this.duplicates += 1;
      const entry = this._outbox.get(message.clientMsgId);
      if (entry && this.user && message.from === this.user.id) this._settle(entry, message);
      return false;
    }
    state.seen.add(message.seq);
    this._advanceTo(state, state.contig);
    const own = Boolean(this.user && message.from === this.user.id);
    if (own && message.clientMsgId) {
      const entry = this._outbox.get(message.clientMsgId);
      if (entry && entry.topic === message.topic) this._settle(entry, message);
    }
    this._emit("message", { message, source, own });
    if (state.seen.size > 0) this._scheduleGapFill(message.topic, state);
    return true;
  }

  _scheduleGapFill(topic, state) {
    if (state.gapTimer || state.filling) return;
    state.gapTimer = setTimeout(async () => {
      state.gapTimer = null;
      if (state.seen.size === 0 || !this.online) return;
      state.filling = true;
      try {
        await this._catchUp(this._ws, topic);
      } catch {
        // the next reconnect resumes with since anyway
      } finally {
        state.filling = false;
      }
    }, 1500);
  }

  /** Missing seqs that history cannot return (expired) are gaps for good: move past them. */
  _settleGaps(state) {
    if (state.seen.size === 0) return;
    this._advanceTo(state, Math.max(...state.seen));
  }

  // ---- frames -----------------------------------------------------------------------------

  _onFrame(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object") return;
    clearTimeout(this._pongTimer); // anything heard proves the connection alive
    this._pongTimer = null;

    const ref = typeof frame.ref === "string" ? frame.ref : null;
    const sendFor = ref ? this._sendRefs.get(ref) : undefined;
    if (sendFor !== undefined) this._sendRefs.delete(ref);

    switch (frame.type) {
      case "message":
        this._accept(frame, "live");
        return;
      case "ack":
        this._onAck(frame);
        return;
      case "welcome":
        // register upgraded this connection: its user is the new one from now on
        if (frame.user) this.user = frame.user;
        break;
      case "error":
        if (sendFor !== undefined) {
          this._onSendError(sendFor, frame);
          return;
        }
        break;
      case "joined":
      case "left":
      case "presence":
      case "read":
      case "operators":
        if (!ref) this._emit(frame.type, frame);
        break;
      case "typing":
        if (!ref) this._emit("typing", frame);
        break;
      default:
        break;
    }

    const pending = ref ? this._pending.get(ref) : undefined;
    if (pending) {
      this._pending.delete(ref);
      clearTimeout(pending.timer);
      if (frame.type === "error") pending.reject(new HubbubError(frame));
      else pending.resolve(frame);
      return;
    }
    if (frame.type === "error") {
      if (frame.action === "typing" || frame.action === "ping") return;
      this._emit("error", { frame });
    } else if (frame.type === undefined && typeof frame.message === "string") {
      // API Gateway's own frames: {"message": "Internal server error", ...}
      this._emit("error", { frame: { code: "internal", message: frame.message } });
    }
  }

  // ---- outbox -----------------------------------------------------------------------------

  /**
   * Queue a message. Returns its outbox entry {clientMsgId, topic, text, state, ...}; its state
   * goes sending -> sent (or failed, see retry()). Sent while offline, it goes out on reconnect.
   */
  send(topic, text) {
    const entry = {
      clientMsgId: newId(),
      topic,
      text,
      state: "sending",
      createdAt: Date.now(),
      sentAt: 0,
      attempts: 0,
      error: null,
      retryAt: 0,
    };
    this._outbox.set(entry.clientMsgId, entry);
    this._typingAt.delete(topic); // a message ends "typing": the next keystroke says so again
    this._saveOutbox();
    this._emit("outbox", { entry });
    this._transmit(entry);
    this._sweep();
    return entry;
  }

  /** Send a failed message again (same clientMsgId: the server stores it at most once). */
  retry(clientMsgId) {
    const entry = this._outbox.get(clientMsgId);
    if (!entry || entry.state === "sent") return;
    entry.state = "sending";
    entry.createdAt = Date.now();
    entry.error = null;
    entry.retryAt = 0;
    this._saveOutbox();
    this._emit("outbox", { entry });
    this._transmit(entry);
    this._sweep();
  }

  /** Give up on a failed message. */
  discard(clientMsgId) {
    const entry = this._outbox.get(clientMsgId);
    if (!entry) return;
    this._outbox.delete(clientMsgId);
    entry.state = "discarded";
    this._saveOutbox();
    this._emit("outbox", { entry });
  }

  /** Unacknowledged entries (sending or failed), oldest first; of one topic if given. */
  outbox(topic) {
    return [...this._outbox.values()]
      .filter((e) => topic === undefined || e.topic === topic)
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  _transmit(entry) {
    const ws = this._ws;
    if (!this.online || !ws || ws.readyState !== SOCKET_OPEN || entry.state !== "sending") return;
    const ref = newId(8);
    this._sendRefs.set(ref, entry.clientMsgId);
    entry.attempts += 1;
    entry.sentAt = Date.now();
    try {
      ws.send(
        JSON.stringify({
          action: "send",
          topic: entry.topic,
          text: entry.text,
          clientMsgId: entry.clientMsgId,
          ref,
        }),
      );
    } catch {
      this._sendRefs.delete(ref);
    }
  }

  _flushOutbox() {
    for (const entry of this.outbox()) {
      if (entry.state === "sending") this._transmit(entry);
    }
    this._sweep();
  }

  _onAck(frame) {
    const entry = this._outbox.get(frame.clientMsgId);
    if (!entry) return;
    const message = {
      topic: entry.topic,
      id: frame.id,
      seq: frame.seq,
      ts: frame.ts,
      from: this.user ? this.user.id : null,
      nickname: this.user ? this.user.nickname : null,
      text: entry.text,
      clientMsgId: entry.clientMsgId,
    };
    this._settle(entry, message);
    this._accept(message, "ack");
  }

  _settle(entry, message) {
    if (!this._outbox.has(entry.clientMsgId)) return;
    this._outbox.delete(entry.clientMsgId);
    entry.state = "sent";
    entry.id = message.id;
    entry.seq = message.seq;
    entry.ts = message.ts;
    this._saveOutbox();
    this._emit("outbox", { entry });
  }

  _onSendError(clientMsgId, frame) {
    const entry = this._outbox.get(clientMsgId);
    if (!entry || entry.state !== "sending") return;
    if (RETRYABLE.has(frame.code)) {
      const wait = typeof frame.retryAfter === "number" ? frame.retryAfter * 1000 : 1000;
      entry.retryAt = Date.now() + wait;
      entry.sentAt = 0;
      if (frame.code === "unauthorized") this.reconnect();
      this._sweep();
      return;
    }
    entry.state = "failed";
    entry.error = String(frame.message || frame.code);
    this._saveOutbox();
    this._emit("outbox", { entry });
  }

  /** Once a second while something is unacknowledged: resend late ones, fail stale ones. */
  _sweep() {
    if (this._sweepTimer) return;
    const tick = () => {
      this._sweepTimer = null;
      const now = Date.now();
      let waiting = false;
      for (const entry of this._outbox.values()) {
        if (entry.state !== "sending") continue;
        if (now - entry.createdAt > this.options.sendFailAfterMs) {
          entry.state = "failed";
          entry.error = this.online ? "no reply from the server" : "not connected";
          this._saveOutbox();
          this._emit("outbox", { entry });
          continue;
        }
        waiting = true;
        if (!this.online) continue;
        const late = entry.sentAt && now - entry.sentAt > this.options.ackTimeoutMs;
        const due = !entry.sentAt && now >= entry.retryAt;
        if (late || due) this._transmit(entry);
      }
      if (waiting) this._sweepTimer = setTimeout(tick, 1000);
    };
    this._sweepTimer = setTimeout(tick, 1000);
  }

  _loadOutbox() {
    const { storage, storageKey } = this.options;
    if (!storage) return;
    try {
      const saved = JSON.parse(storage.getItem(storageKey) || "[]");
      for (const e of Array.isArray(saved) ? saved : []) {
        if (!e || typeof e.clientMsgId !== "string" || typeof e.text !== "string") continue;
        if (typeof e.topic !== "string") continue;
        const entry = {
          ...e,
          state: e.state === "failed" ? "failed" : "sending",
          createdAt: e.state === "failed" ? e.createdAt : Date.now(),
          sentAt: 0,
          retryAt: 0,
        };
        this._outbox.set(entry.clientMsgId, entry);
      }
    } catch {
      // unreadable: start empty
    }
    if (this._outbox.size) this._sweep();
  }

  _saveOutbox() {
    const { storage, storageKey } = this.options;
    if (!storage) return;
    try {
      const keep = [...this._outbox.values()].map(({ clientMsgId, topic, text, state, createdAt, attempts, error }) => ({
        clientMsgId,
        topic,
        text,
        state,
        createdAt,
        attempts,
        error,
      }));
      if (keep.length) storage.setItem(storageKey, JSON.stringify(keep));
      else storage.removeItem(storageKey);
    } catch {
      // storage full or blocked: the outbox still works for this page
    }
  }
}
