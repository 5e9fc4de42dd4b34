// The connection part of the client: one WebSocket at a time, opened again and again for as long
// as the page wants a session. Reconnects with capped exponential backoff and full jitter (so a
// restarted server is not hit by every client at once), pings to notice a dead connection long
// before the browser would, and tells a refused token from a server that is down (a browser never
// sees a handshake's 401). What a session is made of (hello, subscriptions, the outbox) is not its
// business: it hands each opened socket and each frame to its owner through `hooks`.

import { subprotocols } from "./tokens.js";

export const SOCKET_OPEN = 1;

export const STATES = Object.freeze({
  CONNECTING: "connecting",
  ONLINE: "online",
  RECONNECTING: "reconnecting",
  OFFLINE: "offline",
});

const FALLBACK_PING_INTERVAL_MS = 30000;

/** The page's own interval if it set one, else the server's, else the fallback. */
export function keepaliveInterval(pageMs, serverMs) {
  if (Number.isFinite(pageMs) && pageMs > 0) return pageMs;
  if (Number.isFinite(serverMs) && serverMs > 0) return serverMs;
  return FALLBACK_PING_INTERVAL_MS;
}

export class Socket {
  /**
   * @param {string} url  the endpoint, without a token
   * @param {object} options  the client's options (backoff, keepalive, timeouts, WebSocket)
   * @param {object} hooks  state(detail), open(ws), frame(frame), closed(reason), unauthorized()
   */
  constructor(url, options, hooks) {
    this.url = url;
    this.options = options;
    this.hooks = hooks;
    this.token = options.token || null;
    this.state = STATES.OFFLINE;
    this.ws = null;
    this.retryAt = null;
    this.quiet = false; // a deliberate reconnect is under way
    this.everOnline = false;
    this._opened = false; // the current socket has opened
    this._sessionWs = null; // the socket whose hello was answered
    this._wanted = false; // connect() called and close() not since
    this._attempt = 0; // failed attempts since the last good session
    this._retryTimer = null;
    this._connectTimer = null;
    this._pingTimer = null;
    this._pongTimer = null;
    this._authCheck = "none"; // none | probing | verifying
    this._failuresBeforeOpen = 0;
    this._waitOnline = new Set();
    this._onBrowserOnline = () => this.retryNow();
    this._onBrowserOffline = () => {
      if (this.state !== STATES.ONLINE) this._setState(STATES.OFFLINE);
    };
    this._onVisible = () => {
      if (globalThis.document && document.visibilityState === "visible") this.ping();
    };
  }

  get online() {
    return this.state === STATES.ONLINE;
  }

  /** The current socket has a session (its hello was answered). */
  get inSession() {
    return Boolean(this.ws) && this._sessionWs === this.ws;
  }

  connect() {
    if (this._wanted) return;
    this._wanted = true;
    globalThis.addEventListener?.("online", this._onBrowserOnline);
    globalThis.addEventListener?.("offline", this._onBrowserOffline);
    globalThis.document?.addEventListener("visibilitychange", this._onVisible);
    this._open(0);
  }

  close() {
    this._wanted = false;
    globalThis.removeEventListener?.("online", this._onBrowserOnline);
    globalThis.removeEventListener?.("offline", this._onBrowserOffline);
    globalThis.document?.removeEventListener("visibilitychange", this._onVisible);
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    this.drop("closed by the page");
    this._setState(STATES.OFFLINE);
  }

  reconnect() {
    if (!this._wanted) {
      this.connect();
      return;
    }
    this.drop("reconnect requested", false);
    this._attempt = 0;
    this.quiet = true; // deliberate: nothing for a connection banner to report
    this._open(0);
  }

  retryNow() {
    if (!this._wanted || this.ws) return;
    this._attempt = 0;
    this._open(0);
  }

  /** The hello on `ws` was answered: from now on it carries the session. */
  beginSession(ws) {
    this._sessionWs = ws;
  }

  /** The session is restored (subscriptions too): online, and the backoff starts over. */
  sessionReady() {
    this._attempt = 0;
    this.everOnline = true;
    this._setState(STATES.ONLINE);
    this.quiet = false;
  }

  /** Resolves once online; rejects with `lost()` after `timeoutMs`. */
  whenOnline(timeoutMs, lost) {
    if (this.online) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this._waitOnline.delete(wake);
        reject(lost());
      }, timeoutMs);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      this._waitOnline.add(wake);
    });
  }

  /** The session's socket, if it is online and open (else null): where frames may go now. */
  get usable() {
    const ws = this.ws;
    return this.online && ws && ws.readyState === SOCKET_OPEN ? ws : null;
  }

  _setState(state) {
    if (state === this.state) return;
    const previous = this.state;
    this.state = state;
    this._announce(previous);
    if (state === STATES.ONLINE) {
      for (const wake of this._waitOnline) wake();
      this._waitOnline.clear();
    }
  }

  _announce(previous) {
    this.hooks.state({
      state: this.state,
      previous,
      attempt: this._attempt,
      retryAt: this.retryAt,
      quiet: this.quiet,
    });
  }

  _open(delayMs) {
    clearTimeout(this._retryTimer);
    this._retryTimer = null;
    if (!this._wanted) return;
    if (delayMs > 0) {
      this._waitToRetry(delayMs);
      return;
    }
    this.retryAt = null;
    this._setState(this.everOnline ? STATES.RECONNECTING : STATES.CONNECTING);
    // the token travels as a subprotocol, never in the URL (where proxies log it)
    const protocols = subprotocols(this._authCheck === "probing" ? null : this.token);
    let ws;
    try {
      ws = protocols.length
        ? new this.options.WebSocket(this.url, protocols)
        : new this.options.WebSocket(this.url);
    } catch (err) {
      this._afterClose(false, `cannot connect: ${err}`);
      return;
    }
    this._watch(ws);
  }

  _waitToRetry(delayMs) {
    this.retryAt = Date.now() + delayMs;
    const next = globalThis.navigator?.onLine === false ? STATES.OFFLINE : STATES.RECONNECTING;
    if (next !== this.state) this._setState(next);
    else this._announce(next); // same state, new retry time: listeners (a countdown) want to know
    this._retryTimer = setTimeout(() => this._open(0), delayMs);
  }

  _watch(ws) {
    this.ws = ws;
    this._opened = false;
    this._sessionWs = null;
    this._connectTimer = setTimeout(() => {
      if (this.ws === ws && !this._opened) this.drop("connect timeout", false);
    }, this.options.connectTimeoutMs);
    ws.onopen = () => {
      if (this.ws === ws) this._onOpen(ws);
    };
    ws.onmessage = (event) => {
      if (this.ws === ws) this._receive(event.data);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      const opened = this._opened;
      this.ws = null;
      this._opened = false;
      this._sessionWs = null;
      this._afterClose(opened, "closed");
    };
    ws.onerror = () => {};
  }

  _onOpen(ws) {
    this._opened = true;
    clearTimeout(this._connectTimer);
    this._failuresBeforeOpen = 0;
    if (this._authCheck === "probing") {
      // a guest connection works where ours did not: check once more with the token
      this._authCheck = "verifying";
      this.drop("auth probe done", true, true);
      this._open(0);
      return;
    }
    this._authCheck = "none";
    this.hooks.open(ws);
  }

  _receive(data) {
    let frame;
    try {
      frame = JSON.parse(data);
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object") return;
    clearTimeout(this._pongTimer); // anything heard proves the connection alive
    this._pongTimer = null;
    this.hooks.frame(frame);
  }

  /** Forget the current socket at once (a dead one may take minutes to report its close). */
  drop(reason, retry = true, silent = false) {
    const ws = this.ws;
    if (!ws) return;
    const wasOpen = this._opened;
    this.ws = null;
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
    this.stopKeepalive();
    this.hooks.closed(reason);
    if (!wasOpen && this._checkToken(retry)) return;
    if (!this._wanted || !retry) return;
    this.quiet = false;
    const ceiling = Math.min(
      this.options.backoffCapMs,
      this.options.backoffBaseMs * 2 ** Math.min(this._attempt, 16),
    );
    this._attempt += 1;
    this._open(Math.max(1, Math.floor(Math.random() * ceiling))); // full jitter
  }

  /**
   * After a handshake failed: every `authProbeAfter` failures with a token, try once without it;
   * if that works and the token fails once more, the token was refused. True when it was.
   */
  _checkToken(retry) {
    this._failuresBeforeOpen += 1;
    if (this._authCheck === "verifying") {
      // a guest could connect a moment ago, this token cannot: it was refused
      this._authCheck = "none";
      this.token = null;
      this.hooks.unauthorized();
      if (this._wanted && retry) this._open(0);
      return true;
    }
    if (this._authCheck === "probing") {
      this._authCheck = "none"; // the server is down, not our token
    } else if (this.token && this._failuresBeforeOpen % this.options.authProbeAfter === 0) {
      this._authCheck = "probing";
    }
    return false;
  }

  // ---- keepalive --------------------------------------------------------------------------

  /**
   * Ping as often as the endpoint needs and no more (every ping is a billed message): the
   * interval the server's hello says (half its gateway's idle timeout: 5 minutes on AWS), unless
   * the page set pingIntervalMs itself; 30 s from a server that does not say.
   */
  startKeepalive(ws, serverIntervalMs) {
    this.stopKeepalive();
    this.pingIntervalMs = keepaliveInterval(this.options.pingIntervalMs, serverIntervalMs);
    this._pingTimer = setInterval(() => this.ping(ws), this.pingIntervalMs);
  }

  stopKeepalive() {
    clearInterval(this._pingTimer);
    clearTimeout(this._pongTimer);
    this._pingTimer = this._pongTimer = null;
  }

  /** A ping that must be answered (by anything) within pongTimeoutMs, or the socket is dropped. */
  ping(ws = this.ws) {
    if (!ws || ws !== this.ws || ws.readyState !== SOCKET_OPEN || this._pongTimer) return;
    try {
      ws.send(JSON.stringify({ action: "ping" }));
    } catch {
      return;
    }
    this._pongTimer = setTimeout(() => {
      this._pongTimer = null;
      if (this.ws === ws) this.drop("no pong before the deadline");
    }, this.options.pongTimeoutMs);
  }
}
