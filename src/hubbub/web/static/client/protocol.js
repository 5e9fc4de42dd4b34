// The protocol's vocabulary shared by the client's parts (docs/protocol.md): ids, errors, and
// what a message and a wildcard filter look like. Kept apart so that each part can import it
// without importing the others.

/** Error codes of a send that are worth sending again (same clientMsgId) rather than failing. */
export const RETRYABLE = new Set(["rate_limited", "unavailable", "internal", "unauthorized"]);

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

/** Only frames shaped like a message are delivered: a malformed one must not break the page. */
export function isMessage(value) {
  return (
    value !== null &&
    typeof value === "object" &&
    typeof value.topic === "string" &&
    Number.isInteger(value.seq) &&
    typeof value.text === "string"
  );
}
