// The operator status in the widget's head: "Ann is here" when an operator has this conversation
// open (presence of desk/{visitorId}), else online or when one was last seen. Pushed, never
// polled: the widget follows $sys/operators (hubbub.js follows it again after every reconnect,
// and each subscribed reply carries the status to start from), and `operators` frames bring each
// change.

import { byId } from "../ui/dom.js";
import { relativeTime } from "../ui/text.js";

const OPERATORS = "$sys/operators";
const AGEING_MS = 60000;

export class OperatorStatus {
  /** @param {object} parts  client; topic(): the visitor's conversation, or null */
  constructor({ client, topic }) {
    this.client = client;
    this.topic = topic;
    this.status = null; // {online, lastSeen}: the last one the server told
    this.here = new Map(); // operators subscribed to this conversation
    client.addEventListener("hello", (e) => this._set(e.detail.hello));
    client.addEventListener("subscribed", (e) => {
      if (e.detail.topic === OPERATORS) this._set(e.detail.reply);
    });
    client.addEventListener("operators", (e) => this._set(e.detail));
    client.subscribe(OPERATORS).catch(() => {
      // refused or cut off: the status stays as the last hello told it
    });
    // "last seen 5 minutes ago" ages: redraw it now and then (this asks the server nothing)
    setInterval(() => this.render(), AGEING_MS);
    for (const kind of ["joined", "left"]) {
      client.addEventListener(kind, (e) => {
        if (e.detail.topic !== topic() || e.detail.user.role !== "operator") return;
        if (kind === "joined") this.here.set(e.detail.user.id, e.detail.user);
        else this.here.delete(e.detail.user.id);
        this.render();
      });
    }
  }

  /** Ask who is in the conversation (after each session). */
  async refreshHere() {
    try {
      const reply = await this.client.presence(this.topic());
      this.here.clear();
      for (const m of reply.members || []) if (m.role === "operator") this.here.set(m.id, m);
      this.render();
    } catch {
      // shown on the next session
    }
  }

  _set(frame) {
    if (!frame || typeof frame.operatorsOnline !== "number") return;
    this.status = { online: frame.operatorsOnline, lastSeen: frame.operatorLastSeen ?? null };
    this.render();
  }

  render() {
    const [on, text] = this._describe();
    byId("w-dot").classList.toggle("on", on);
    byId("w-status-text").textContent = text;
  }

  _describe() {
    const here = [...this.here.values()];
    const status = this.status;
    if (!status) return [false, "Connecting…"];
    if (here.length > 0) return [true, `${here[0].nickname || "An operator"} is here`];
    if (status.online > 0) return [true, "We are online and usually reply in a few minutes"];
    if (status.lastSeen) {
      return [false, `Away · last seen ${relativeTime(status.lastSeen)}. Leave a message!`];
    }
    return [false, "Leave a message and we will get back to you."];
  }
}
