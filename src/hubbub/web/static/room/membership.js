// Who the reader of a room is: a guest who reads until they pick a nickname, then a registered
// user whose token is kept (per endpoint) and used from the next connection on. Shows the
// composer or the nickname form accordingly, and registers again by itself when the server stops
// accepting the stored token.

import { HubbubError } from "../hubbub.js";
import { byId } from "../ui/dom.js";

export class Membership {
  /**
   * @param {object} identity  what the store remembered ({token, user, nickname}) or null
   * @param {object} parts  client, topic, store; rejoined(): after coming back to the topic
   */
  constructor(identity, { client, topic, store, rejoined }) {
    this.identity = identity;
    this.client = client;
    this.topic = topic;
    this.store = store;
    this.rejoined = rejoined;
    this.composer = byId("composer");
    this.textarea = byId("composer-text");
    this.joinForm = byId("join");
    this.nickInput = byId("nickname");
    this.joinError = byId("join-error");
    this.joinForm.addEventListener("submit", (event) => this._onJoin(event));
    byId("rename").addEventListener("click", () => this._rename());
    client.addEventListener("unauthorized", () => this._registerAgain());
    client.addEventListener("session", () => this._onSession());
  }

  get registered() {
    return Boolean(this.identity);
  }

  get userId() {
    return this.identity?.user?.id || null;
  }

  /** The composer for a registered reader, the nickname form for a guest. */
  show(focus) {
    const registered = Boolean(this.identity?.token);
    this.composer.hidden = !registered;
    this.joinForm.hidden = registered;
    byId("you").hidden = !registered;
    if (registered) byId("you-name").textContent = this.identity.nickname;
    if (focus) (registered ? this.textarea : this.nickInput).focus();
  }

  async register(nickname) {
    // Leave as who we were (others get `left`), register, and come back under the nickname
    // (others get `joined`): the server does not announce a change of identity by itself.
    // The re-subscription asks for everything after the last seq seen, so nothing is missed.
    await this.client.unsubscribe(this.topic);
    try {
      const welcome = await this.client.request("register", { nickname });
      const { token, user } = welcome;
      this.identity = { token, user, nickname: user.nickname };
      this.store.set("identity", this.identity);
      this.client.setToken(token); // for the next connections
    } finally {
      this.client.subscribe(this.topic).then(this.rejoined, () => {});
    }
  }

  async _onJoin(event) {
    event.preventDefault();
    const nickname = this.nickInput.value.trim();
    if (!nickname) return;
    this.joinError.textContent = "";
    const button = byId("join-button");
    button.disabled = true;
    try {
      await this.register(nickname);
      this.show(true);
    } catch (err) {
      this.joinError.textContent =
        err instanceof HubbubError ? err.message : "Could not reach the chat server. Try again.";
    } finally {
      button.disabled = false;
    }
  }

  _rename() {
    this.nickInput.value = this.identity?.nickname || "";
    this.composer.hidden = true;
    this.joinForm.hidden = false;
    this.nickInput.focus();
    this.nickInput.select();
  }

  /** The server no longer accepts the stored token: register again under the same nickname. */
  async _registerAgain() {
    const nickname = this.identity?.nickname;
    this.identity = null;
    this.store.remove("identity");
    this.show(false);
    if (!nickname) return;
    try {
      await this.register(nickname);
      this.show(false);
    } catch {
      this.nickInput.value = nickname;
    }
  }

  _onSession() {
    const user = this.client.user;
    if (this.identity && user && user.role !== "guest") {
      this.identity = { ...this.identity, user, nickname: user.nickname };
      this.store.set("identity", this.identity);
    }
    this.show(false);
  }
}
