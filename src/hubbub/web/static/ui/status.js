// Telling people what is going on without moving the page: the live-region announcer, the title
// counter of a hidden tab, and the connection banner.

import { h } from "./dom.js";

/** A polite live region for screen readers ("New message from alice: hi"). */
export class Announcer {
  constructor(parent = document.body) {
    this.el = h("div", { class: "sr-only", attrs: { "aria-live": "polite", "aria-atomic": "true" } });
    parent.append(this.el);
    this.timer = null;
  }

  say(text) {
    clearTimeout(this.timer);
    this.el.textContent = "";
    // a new text node after a tick is announced even when it repeats the last one
    this.timer = setTimeout(() => {
      this.el.textContent = text;
    }, 60);
  }
}

/** "(3) title" while the tab is hidden and messages arrive; cleared when it is seen again. */
export class TitleBadge {
  constructor(base = document.title) {
    this.base = base;
    this.count = 0;
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden) this.reset();
    });
  }

  setBase(base) {
    this.base = base;
    this.render();
  }

  bump() {
    if (!document.hidden) return;
    this.count += 1;
    this.render();
  }

  reset() {
    this.count = 0;
    this.render();
  }

  render() {
    document.title = this.count > 0 ? `(${this.count}) ${this.base}` : this.base;
  }
}

/**
 * The connection banner: hidden while online; after a short grace period it says what is going
 * on (connecting, reconnecting in N s with "Retry now", offline), and "Back online" briefly.
 * It overlays the page (no layout shift) and is a status live region.
 */
export class ConnectionBanner {
  constructor(client, parent, { graceMs = 700 } = {}) {
    this.client = client;
    this.text = h("span", { class: "banner-text" });
    this.retry = h("button", {
      type: "button",
      class: "link-button",
      text: "Retry now",
      hidden: true,
      on: { click: () => client.retryNow() },
    });
    this.el = h("div", { class: "banner", attrs: { role: "status" }, dataset: { state: "online" } }, this.text, this.retry);
    this.el.hidden = true;
    parent.append(this.el);
    this.graceMs = graceMs;
    this.showTimer = null;
    this.tick = null;
    this.hideTimer = null;
    this.shown = false;
    client.addEventListener("state", () => this.update());
    this.update();
  }

  update() {
    const state = this.client.state;
    this.el.dataset.state = state;
    clearInterval(this.tick);
    this.tick = null;
    if (state === "online") {
      clearTimeout(this.showTimer);
      this.showTimer = null;
      if (this.shown) {
        this.text.textContent = "Back online";
        this.retry.hidden = true;
        clearTimeout(this.hideTimer);
        this.hideTimer = setTimeout(() => {
          this.el.hidden = true;
          this.shown = false;
        }, 2000);
      }
      return;
    }
    clearTimeout(this.hideTimer);
    this.render();
    if (this.client.state === "reconnecting" && this.client.retryAt) {
      this.tick = setInterval(() => this.render(), 1000);
    }
    if (this.shown) return;
    if (!this.showTimer) {
      const grace = this.client.quiet ? this.graceMs * 4 : this.graceMs;
      this.showTimer = setTimeout(() => {
        this.showTimer = null;
        if (this.client.state !== "online") {
          this.shown = true;
          this.el.hidden = false;
          this.render();
        }
      }, grace);
    }
  }

  render() {
    const state = this.client.state;
    const retryAt = this.client.retryAt;
    this.retry.hidden = true;
    if (state === "connecting") {
      this.text.textContent = "Connecting…";
    } else if (state === "offline") {
      this.text.textContent = navigator.onLine
        ? "Disconnected."
        : "You are offline. Messages you send will go out when you are back.";
    } else if (retryAt && retryAt > Date.now() + 900) {
      const seconds = Math.ceil((retryAt - Date.now()) / 1000);
      this.text.textContent = `Connection lost. Reconnecting in ${seconds} s…`;
      this.retry.hidden = false;
    } else {
      this.text.textContent = "Reconnecting…";
    }
  }
}
