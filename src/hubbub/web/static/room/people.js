// Who is in the room: the named people (with a Staff badge for operators), how many guests are
// reading, and the drawer that holds the list on narrow screens. A large room (over the server's
// presence threshold) shows "N online" instead: the server then pushes a count now and then
// (`presence {topic, count}`), not joined/left for everyone.

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
    this.crowd = null; // the count of a large room, null for a room whose members are listed
    this._recheck = null;
    this._drawer();
    client.addEventListener("joined", (e) => {
      if (e.detail.topic !== topic) return;
      if (this.crowd === null) this.members.set(e.detail.user.id, e.detail.user);
      this._changed(); // in a large room: it shrank under the threshold, ask who is here
    });
    client.addEventListener("left", (e) => {
      if (e.detail.topic !== topic) return;
      if (this.crowd === null) this.members.delete(e.detail.user.id);
      typing.stopped(e.detail.user.id);
      this._changed();
    });
    client.addEventListener("presence", (e) => {
      // a request's reply is not an event: this is the summary a large room pushes
      if (e.detail.topic !== topic || typeof e.detail.count !== "number") return;
      this.crowd = e.detail.count;
      this.render();
    });
    client.addEventListener("session", () => this.refresh());
  }

  /** Ask the server who is here (after each session, and after a burst of joined/left). */
  async refresh() {
    try {
      const reply = await this.client.presence(this.topic);
      this.members.clear();
      this.crowd = reply.large ? reply.count : null;
      if (this.crowd === null) for (const m of reply.members || []) this.members.set(m.id, m);
      this.render();
    } catch {
      // the next session tries again
    }
  }

  render() {
    if (this.crowd !== null) {
      byId("people-list").replaceChildren();
      byId("guests").textContent = "Too many people to list them all.";
      byId("people-count").textContent = String(this.crowd);
      byId("people-title").textContent = `${this.crowd} online`;
      return;
    }
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
