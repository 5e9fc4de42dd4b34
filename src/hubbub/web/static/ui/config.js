// Where the chat server is (config.json), and where the pages keep what they remember: storage
// may be blocked (a frame on another site, with third-party cookies blocked), and then the pages
// still work, they just forget.

/**
 * The WebSocket URL to use: `explicit` if given, else from config.json (`websocketUrl`, or
 * `websocketPath` on the page's own host).
 */
export async function resolveWebSocketUrl(explicit, configUrl = new URL("/config.json", location.href)) {
  if (explicit) return toWebSocketUrl(explicit, location.href);
  const response = await fetch(configUrl, { cache: "no-cache", credentials: "omit" });
  if (!response.ok) throw new Error(`config.json: HTTP ${response.status}`);
  const config = await response.json();
  if (typeof config.websocketUrl === "string" && config.websocketUrl) {
    return toWebSocketUrl(config.websocketUrl, configUrl);
  }
  return toWebSocketUrl(config.websocketPath || "/ws", configUrl);
}

function toWebSocketUrl(value, base) {
  const url = new URL(value, base);
  if (url.protocol === "http:") url.protocol = "ws:";
  else if (url.protocol === "https:") url.protocol = "wss:";
  if (url.protocol !== "ws:" && url.protocol !== "wss:") throw new Error(`not a WebSocket URL: ${value}`);
  return url.toString();
}

/** localStorage (or sessionStorage) if this context may use it, else null. */
export function safeStorage(kind = "localStorage") {
  try {
    const storage = globalThis[kind];
    const probe = "__hubbub_probe__";
    storage.setItem(probe, "1");
    storage.removeItem(probe);
    return storage;
  } catch {
    return null;
  }
}

/** JSON values under one prefix; falls back to memory where storage is blocked. */
export class Store {
  constructor(prefix, storage = safeStorage()) {
    this.prefix = prefix;
    this.storage = storage;
    this.memory = new Map();
  }

  get(key, fallback = null) {
    try {
      const raw = this.storage ? this.storage.getItem(this.prefix + key) : this.memory.get(key);
      return raw === null || raw === undefined ? fallback : JSON.parse(raw);
    } catch {
      return fallback;
    }
  }

  set(key, value) {
    const raw = JSON.stringify(value);
    try {
      if (this.storage) this.storage.setItem(this.prefix + key, raw);
      else this.memory.set(key, raw);
    } catch {
      this.memory.set(key, raw);
    }
  }

  remove(key) {
    this.memory.delete(key);
    try {
      this.storage?.removeItem(this.prefix + key);
    } catch {
      // blocked
    }
  }
}
