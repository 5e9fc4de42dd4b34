// Requests and their replies: each request carries a fresh `ref`, and its reply is the frame that
// carries it back, whatever the order replies arrive in. A request is tied to one socket: when
// that socket goes, its requests fail with ConnectionLost (nothing is re-sent behind the page's
// back; the outbox is the only thing that is).

import { SOCKET_OPEN } from "./socket.js";
import { ConnectionLost, HubbubError, newId } from "./protocol.js";

export class Requests {
  constructor(socket, timeoutMs) {
    this.socket = socket;
    this.timeoutMs = timeoutMs;
    this._pending = new Map(); // ref -> {resolve, reject, timer, action}
  }

  /** Send `frame` on `ws` (which must still be the current, open socket) and await its reply. */
  send(ws, frame, timeoutMs = this.timeoutMs) {
    return new Promise((resolve, reject) => {
      if (!ws || ws !== this.socket.ws || ws.readyState !== SOCKET_OPEN) {
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

  /** If `frame` answers a request, settle it (an error frame rejects). True when it did. */
  answer(frame, ref) {
    const pending = ref ? this._pending.get(ref) : undefined;
    if (!pending) return false;
    this._pending.delete(ref);
    clearTimeout(pending.timer);
    if (frame.type === "error") pending.reject(new HubbubError(frame));
    else pending.resolve(frame);
    return true;
  }

  /** The socket is gone: no reply will come. */
  failAll(reason) {
    for (const [ref, pending] of this._pending) {
      clearTimeout(pending.timer);
      pending.reject(new ConnectionLost(reason));
      this._pending.delete(ref);
    }
  }
}
