// The frame's side of the conversation with widget.js on the host page, by postMessage: the host
// says when the panel opens and closes; the frame says when it is ready, asks to be closed, counts
// unread replies for the button's badge, and whether the visitor has a conversation (so the host
// loads the frame early next time). The host's origin is not known (any site may embed the
// widget), so nothing secret is ever sent.

import { byId } from "../ui/dom.js";

export class HostLink {
  /** @param {object} hooks  opened(): the panel was opened */
  constructor(hooks) {
    this.embedded = window.parent !== window;
    this.isOpen = !this.embedded;
    this.unread = 0;
    this.hooks = hooks;
    window.addEventListener("message", (event) => this._onMessage(event));
    byId("w-close").addEventListener("click", () => this.post({ type: "close" }));
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.post({ type: "close" });
    });
  }

  post(message) {
    if (this.embedded) window.parent.postMessage({ hubbub: "widget", ...message }, "*");
  }

  setUnread(n) {
    this.unread = n;
    this.post({ type: "unread", count: n });
  }

  /** A reply arrived: one more on the badge, unless the visitor has the panel open. */
  replied() {
    if (!this.isOpen) this.setUnread(this.unread + 1);
  }

  _onMessage(event) {
    if (event.source !== window.parent || !event.data || event.data.hubbub !== "widget") return;
    if (event.data.type === "open") {
      this.isOpen = true;
      this.setUnread(0);
      this.hooks.opened();
    } else if (event.data.type === "closed") {
      this.isOpen = false;
    }
  }
}
