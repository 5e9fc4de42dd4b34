// Who is in the room: the named people (with a Staff badge for operators), how many guests are
// reading, and the drawer that holds the list on narrow screens.

import { byId, h, icon } from "../ui/dom.js";

const RECHECK_MS = 1500;

export class People {
  /** @param {object} parts  client, topic; me(): the reader's id; typing: the TypingIndicator */
  constructor({ client, topic, me, typing }) {
    this.client = client;
    this.topic = topic;
    this.me = me;
    this.typing = typing;
    this.members = new Map();
    this._recheck = null;
    this._drawer();
    client.addEventListener("joined", (e) => {
      if (e.detail.topic !== topic) return;
      this.members.set(e.detail.user.id, e.detail.user);
      this._changed();
    });
    client.addEventListener("left", (e) => {
      if (e.detail.topic !== topic) return;
      this.members.delete(e.detail.user.id);
      typing.stopped(e.detail.user.id);
      this._changed();
    });
    client.addEventListener("session", () => this.refresh());
  }

  /** Ask the server who is here (after each session, and after a burst of joined/left). */
  async refresh() {
    try {
      const reply = await this.client.presence(this.topic);
      this.members.clear();
      for (const m of reply.members || []) this.members.set(m.id, m);
      this.render();
    } catch {
      // the next session tries again
    }
  }

  render() {
    const named = [...this.members.values()].filter((m) => m.nickname);
    named.sort((a, b) => a.nickname.localeCompare(b.nickname));
    const guests = this.members.size - named.length;
    byId("people-list").replaceChildren(...named.map((m) => this._row(m)));
    byId("guests").textContent =
      guests === 0 ? "" : guests === 1 ? "and 1 guest reading" : `and ${guests} guests reading`;
    byId("people-count").textContent = String(this.members.size);
    byId("people-title").textContent = `Online — ${this.members.size}`;
  }

  _row(m) {
    const you = m.id === this.me();
    return h(
      "li",
      { dataset: { id: m.id } },
      h("span", { class: "avatar", attrs: { "aria-hidden": "true" }, text: m.nickname.slice(0, 1) }),
      h("span", { class: "person-name", text: m.nickname }),
      you ? h("span", { class: "muted", text: "(you)" }) : null,
      m.role === "operator" ? h("span", { class: "badge", text: "Staff" }) : null,
    );
  }

  // joined/left are ephemeral and may cross (a user reconnecting from one connection to
  // another): after a burst of them, ask the server who is really here
  _changed() {
    this.render();
    clearTimeout(this._recheck);
    this._recheck = setTimeout(() => this.refresh(), RECHECK_MS);
  }

  _drawer() {
    const toggle = byId("people-toggle");
    const people = byId("people");
    toggle.prepend(icon("users"));
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      people.classList.toggle("open", open);
      if (open) byId("people-title").focus();
    });
    byId("people-title").tabIndex = -1;
    people.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && people.classList.contains("open")) {
        toggle.click();
        toggle.focus();
      }
    });
  }
}
