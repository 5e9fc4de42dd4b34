// Tokens off the URL, and renewed before they expire (docs/protocol.md, "Connecting").
//
// A browser's WebSocket sets no headers, so the token travels as a subprotocol next to hubbub.v1;
// the server answers hubbub.v1 (a browser drops a connection whose offered subprotocols get no
// answer). A URL would end up in proxy logs; a subprotocol does not.
//
// An operator's token lasts 12 hours: the client asks for a fresh one (`refresh`) once the token
// is past half its life, and at the latest 5 minutes before it expires. Its times are read from
// the token itself (the claims of a JWT are not secret, only signed).

export const SUBPROTOCOL = "hubbub.v1";
export const TOKEN_PREFIX = "hubbub.token.";

const MARGIN_MS = 5 * 60 * 1000;
/** Longer waits are left to the next session (connections last 2 hours at most). */
export const LONGEST_WAIT_MS = 3 * 3600 * 1000;

/** The subprotocols of a handshake: none as a guest, the token's otherwise. */
export function subprotocols(token) {
  return token ? [SUBPROTOCOL, `${TOKEN_PREFIX}${token}`] : [];
}

/** `{iat, exp}` in ms of a JWT, or null when it is not one. */
export function tokenTimes(token) {
  try {
    const part = String(token).split(".")[1];
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const { iat, exp } = JSON.parse(json);
    if (!Number.isFinite(iat) || !Number.isFinite(exp) || exp <= iat) return null;
    return { iat: iat * 1000, exp: exp * 1000 };
  } catch {
    return null;
  }
}

/**
 * How long to wait before refreshing `token` at `nowMs`: half its life, at most until 5 minutes
 * before it expires, never negative; null when there is nothing to schedule (no token, not a
 * JWT, or a wait this session will not outlive).
 */
export function refreshDelayMs(token, nowMs) {
  const times = tokenTimes(token);
  if (!times) return null;
  const at = Math.min(times.iat + (times.exp - times.iat) / 2, times.exp - MARGIN_MS);
  const delay = Math.max(0, Math.floor(at - nowMs));
  return delay > LONGEST_WAIT_MS ? null : delay;
}
