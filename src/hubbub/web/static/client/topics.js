// Per-topic sequence tracking: each topic's messages carry consecutive seqs, so the client knows
// what it has (everything up to `contig`, plus the seqs it saw above a hole), drops repeats
// (delivery is at-least-once, and a resume overlaps what was shown), notices a hole in live
// messages and fills it from `history {after}`, and resumes each subscription `since` the last
// seq with nothing missing below it.

import { isMessage } from "./protocol.js";

const GAP_FILL_DELAY_MS = 1500; // a late frame often fills the hole by itself
const CATCH_UP_PAGES = 50;

export class Topics {
  /**
   * @param {object} hooks
   *   request(ws, frame): a reply promise; usable(): the online socket or null;
   *   deliver(message, source): a message not seen before; duplicate(message): one seen before
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.duplicates = 0;
    this._topics = new Map(); // topic -> {contig, seen: Set<number>, gapTimer, filling}
  }

  _state(topic) {
    let state = this._topics.get(topic);
    if (!state) {
      state = { contig: null, seen: new Set(), gapTimer: null, filling: false };
      this._topics.set(topic, state);
    }
    return state;
  }

  /** The highest seq shown for `topic` with nothing missing below it (null: none yet). */
  lastSeq(topic) {
    return this._topics.get(topic)?.contig ?? null;
  }

  /** Everything up to `seq` counts as had (shown, or the page's to load with history). */
  advanceTo(topic, seq) {
    const state = this._state(topic);
    if (state.contig === null || seq > state.contig) state.contig = seq;
    for (const s of state.seen) if (s <= state.contig) state.seen.delete(s);
    while (state.seen.has(state.contig + 1)) {
      state.contig += 1;
      state.seen.delete(state.contig);
    }
  }

  /** Deliver a message once. Returns true if it was new. */
  accept(message, source) {
    if (!isMessage(message)) return false;
    const state = this._state(message.topic);
    if (state.contig === null) state.contig = message.seq - 1;
    if (message.seq <= state.contig || state.seen.has(message.seq)) {
      this.duplicates += 1;
      this.hooks.duplicate(message);
      return false;
    }
    state.seen.add(message.seq);
    this.advanceTo(message.topic, state.contig);
    this.hooks.deliver(message, source);
    if (state.seen.size > 0) this._scheduleGapFill(message.topic, state);
    return true;
  }

  /** Page forward with history {after} until the topic has no more (after a long outage). */
  async catchUp(ws, topic) {
    const state = this._state(topic);
    for (let pages = 0; pages < CATCH_UP_PAGES; pages += 1) {
      const start = state.contig ?? 0;
      const frame = { action: "history", topic, after: start, limit: 100 };
      const page = await this.hooks.request(ws, frame);
      for (const m of page.messages || []) this.accept(m, "backlog");
      if (!page.hasMore) {
        this._settleGaps(topic, state);
        return;
      }
      if ((state.contig ?? 0) === start) this._settleGaps(topic, state);
    }
  }

  _scheduleGapFill(topic, state) {
    if (state.gapTimer || state.filling) return;
    state.gapTimer = setTimeout(async () => {
      state.gapTimer = null;
      const ws = this.hooks.usable();
      if (state.seen.size === 0 || !ws) return;
      state.filling = true;
      try {
        await this.catchUp(ws, topic);
      } catch {
        // the next reconnect resumes with since anyway
      } finally {
        state.filling = false;
      }
    }, GAP_FILL_DELAY_MS);
  }

  /** Missing seqs that history cannot return (expired) are gaps for good: move past them. */
  _settleGaps(topic, state) {
    if (state.seen.size === 0) return;
    this.advanceTo(topic, Math.max(...state.seen));
  }
}
