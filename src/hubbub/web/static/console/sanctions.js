// The console's moderation: a form to mute, ban or kick a user on a topic (filled in for the
// open conversation's visitor by its Moderate button), and the sanctions in force, each with a
// Lift button. Everything goes in as text nodes; user ids and topics are never markup.

import { HubbubError } from "../hubbub.js";
import { byId, h } from "../ui/dom.js";

const LIFT = { mute: "unmute", ban: "unban" };

function until(s) {
  return s.until ? `until ${new Date(s.until).toLocaleString()}` : "until lifted";
}

export class SanctionsPanel {
  /** @param {object} parts  client, announcer */
  constructor({ client, announcer }) {
    this.client = client;
    this.announcer = announcer;
    this.panel = byId("sanctions");
    this.toggleButton = byId("sanctions-toggle");
    this.status = byId("moderate-status");
    this.toggleButton.addEventListener("click", () => this.show(this.panel.hidden));
    byId("moderate-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const minutes = Number(byId("moderate-minutes").value) || 0;
      this.apply(
        byId("moderate-topic").value.trim(),
        byId("moderate-user").value.trim(),
        byId("moderate-sanction").value,
        minutes > 0 ? Math.round(minutes * 60) : undefined,
      );
    });
  }

  /** Open the panel with the form filled in for `userId` on `topic`. */
  prefill(topic, userId) {
    byId("moderate-topic").value = topic;
    byId("moderate-user").value = userId;
    this.show(true);
    byId("moderate-sanction").focus();
  }

  show(open) {
    this.panel.hidden = !open;
    this.toggleButton.setAttribute("aria-expanded", String(open));
    if (open) this.refresh();
  }

  async apply(topic, userId, sanction, seconds) {
    try {
      const reply = await this.client.moderate(topic, userId, sanction, seconds);
      this.say(`${reply.sanction}: ${reply.userId} on ${reply.topic}`);
    } catch (err) {
      this.say(err instanceof HubbubError ? err.message : "The server did not answer.");
    }
    this.refresh();
  }

  say(text) {
    this.status.textContent = text;
    this.announcer.say(text);
  }

  async refresh() {
    let reply;
    try {
      reply = await this.client.sanctions();
    } catch {
      return;
    }
    const list = byId("sanction-list");
    list.replaceChildren(...reply.sanctions.map((s) => this.row(s)));
    byId("sanctions-empty").hidden = reply.sanctions.length > 0;
  }

  row(s) {
    const lift = h("button", {
      type: "button",
      class: "link-button",
      text: "Lift",
      attrs: { "aria-label": `Lift the ${s.sanction} of ${s.userId} on ${s.topic}` },
      on: { click: () => this.apply(s.topic, s.userId, LIFT[s.sanction]) },
    });
    const what = `${s.sanction} · ${s.userId} · ${s.topic} · ${until(s)}`;
    return h("li", { dataset: { user: s.userId, sanction: s.sanction } }, h("span", { text: what }), lift);
  }
}
