// The typing line under a transcript.

import { h } from "./dom.js";

/** "alice is typing…", from `typing` events; each lasts a few seconds unless renewed. */
export class TypingIndicator {
  constructor(el, { ttlMs = 6000 } = {}) {
    this.el = el;
    this.ttlMs = ttlMs;
    this.users = new Map(); // id -> {nickname, timer}
    this.text = h("span", { class: "typing-text" });
    this.dots = h("span", { class: "typing-dots", attrs: { "aria-hidden": "true" } }, h("i"), h("i"), h("i"));
    el.append(this.dots, this.text);
    this.render();
  }

  saw(user) {
    if (!user || !user.id) return;
    const known = this.users.get(user.id);
    if (known) clearTimeout(known.timer);
    const timer = setTimeout(() => this.stopped(user.id), this.ttlMs);
    this.users.set(user.id, { nickname: user.nickname || "Someone", timer });
    this.render();
  }

  stopped(userId) {
    const known = this.users.get(userId);
    if (!known) return;
    clearTimeout(known.timer);
    this.users.delete(userId);
    this.render();
  }

  clear() {
    for (const { timer } of this.users.values()) clearTimeout(timer);
    this.users.clear();
    this.render();
  }

  render() {
    const names = [...this.users.values()].map((u) => u.nickname);
    let text = "";
    if (names.length === 1) text = `${names[0]} is typing…`;
    else if (names.length === 2) text = `${names[0]} and ${names[1]} are typing…`;
    else if (names.length > 2) text = `${names.length} people are typing…`;
    this.text.textContent = text;
    this.el.classList.toggle("active", names.length > 0);
  }
}
