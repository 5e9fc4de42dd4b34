// The operator console, /console: sign in with an operator token, watch every desk conversation
// live (desk/+), unread badges per conversation, open one to read and reply. This module is the
// sign-in; console/ has the signed-in console (desk.js), its list (inbox.js) and the open
// conversation (thread.js).
import { runDesk } from "./console/desk.js";
import { HubbubClient } from "./hubbub.js";
import { Store, resolveWebSocketUrl, safeStorage } from "./ui/config.js";
import { byId } from "./ui/dom.js";
import { Announcer } from "./ui/status.js";

function showSignin(message = "") {
  byId("app").hidden = true;
  byId("signin").hidden = false;
  byId("signin-error").textContent = message;
  document.title = "Sign in · hubbub console";
  byId("token").focus();
}

function resetSigninButton() {
  byId("signin-button").disabled = false;
  byId("signin-button").textContent = "Sign in";
}

async function main() {
  let url;
  try {
    url = await resolveWebSocketUrl();
  } catch (err) {
    byId("signin").hidden = false;
    byId("signin-error").textContent = `The chat server is not configured (${err.message}).`;
    return;
  }
  const key = `hubbub.console:${url}:`;
  const tokens = {
    session: new Store(key, safeStorage("sessionStorage")),
    local: new Store(key, safeStorage("localStorage")),
    forget() {
      this.session.remove("token");
      this.local.remove("token");
    },
  };
  const announcer = new Announcer(byId("announcer-host"));
  const start = (token, how) => signIn({ url, token, tokens, announcer, ...how });

  const stored = tokens.session.get("token") || tokens.local.get("token");
  if (stored) start(stored, { remember: Boolean(tokens.local.get("token")) });
  else showSignin();

  byId("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const token = byId("token").value.trim();
    if (!token) {
      byId("signin-error").textContent = "Paste your operator token.";
      return;
    }
    byId("signin-error").textContent = "";
    byId("signin-button").disabled = true;
    byId("signin-button").textContent = "Signing in…";
    start(token, { remember: byId("remember").checked, fromForm: true });
  });
}

/** Connect with `token`; once the server has said who it belongs to, run the console or refuse. */
function signIn({ url, token, tokens, announcer, remember, fromForm = false }) {
  const client = new HubbubClient(url, { token, authProbeAfter: 1 });
  let started = false;
  const refuse = (message) => {
    client.close();
    tokens.forget();
    resetSigninButton();
    showSignin(message);
  };
  client.addEventListener("unauthorized", () => {
    refuse(
      started
        ? "The server no longer accepts your token. Sign in again."
        : "That token was refused. Check that you pasted all of it.",
    );
  });
  client.addEventListener("token", (event) => {
    if (!started) return;
    token = event.detail.token; // renewed: an operator's token lasts 12 hours
    (remember ? tokens.local : tokens.session).set("token", token);
  });
  client.addEventListener("session", () => {
    if (started) return;
    if (client.user?.role !== "operator") {
      refuse("That is not an operator token.");
      return;
    }
    started = true;
    resetSigninButton();
    tokens.forget();
    (remember ? tokens.local : tokens.session).set("token", token);
    byId("token").value = "";
    byId("signin").hidden = true;
    byId("app").hidden = false;
    runDesk(client, {
      announcer,
      signOut: () => {
        client.close();
        tokens.forget();
        showSignin();
      },
    });
    if (fromForm) byId("conversation-list").focus();
  });
  client.connect();
}

main();
