/*
 * hubbub support widget loader. On any page:
 *
 *   <script src="https://chat.example.com/static/widget.js"
 *           data-hubbub-url="wss://abc123.execute-api.eu-west-1.amazonaws.com/prod" defer></script>
 *
 * adds a chat button in the corner. The chat itself runs in an iframe served next to this file
 * (widget-frame.html), so the host page's CSS and scripts cannot reach it and it cannot break
 * the host page; the button lives in a shadow root with its own styles.
 *
 * Optional attributes: data-hubbub-title ("Chat with us"), data-hubbub-position ("right"|"left").
 * Without data-hubbub-url the frame reads config.json from its own origin.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.__hubbubWidgetLoaded) return;
  window.__hubbubWidgetLoaded = true;

  var SVG = "http://www.w3.org/2000/svg";
  var frameUrl = new URL("widget-frame.html", script.src);
  var params = new URLSearchParams();
  if (script.dataset.hubbubUrl) params.set("ws", script.dataset.hubbubUrl);
  if (script.dataset.hubbubTitle) params.set("title", script.dataset.hubbubTitle);
  frameUrl.hash = params.toString();
  var side = script.dataset.hubbubPosition === "left" ? "left" : "right";
  var OPEN_KEY = "hubbub.widget.open";
  var ACTIVE_KEY = "hubbub.widget.active";

  var CSS = [
    // !important in a shadow root beats the host page's !important on the host element
    ":host { all: initial !important; display: contents !important; }",
    ".launcher { position: fixed; bottom: 20px; " + side + ": 20px; z-index: 2147483000;",
    "  box-sizing: border-box; width: 60px; height: 60px; margin: 0; padding: 0; border: 0;",
    "  border-radius: 50%; background: #4c44d9; color: #fff; cursor: pointer;",
    "  display: flex; align-items: center; justify-content: center;",
    "  box-shadow: 0 6px 24px rgb(20 20 60 / 30%); transition: transform .15s ease; }",
    ".launcher:hover { transform: scale(1.05); background: #3f37c4; }",
    ".launcher:focus { outline: none; }",
    ".launcher:focus-visible { box-shadow: 0 0 0 3px #fff, 0 0 0 6px #4c44d9; }",
    ".launcher svg { width: 28px; height: 28px; pointer-events: none; }",
    ".badge { position: absolute; top: -4px; right: -4px; box-sizing: border-box; min-width: 22px;",
    "  height: 22px; padding: 0 6px; border-radius: 11px; background: #d92d20; color: #fff;",
    "  font: 700 12px/22px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; text-align: center; }",
    ".panel { position: fixed; bottom: 92px; " + side + ": 20px; z-index: 2147483000;",
    "  width: 380px; height: 620px; max-height: calc(100vh - 112px); max-width: calc(100vw - 40px);",
    "  border-radius: 16px; overflow: hidden; box-shadow: 0 12px 48px rgb(20 20 60 / 28%); }",
    ".panel iframe { display: block; width: 100%; height: 100%; border: 0; color-scheme: normal; }",
    "[hidden] { display: none !important; }",
    "@media (max-width: 480px) {",
    "  .panel { inset: 0; width: 100%; height: 100%; max-width: none; max-height: none; border-radius: 0; }",
    "  .is-open .launcher { display: none; }",
    "}",
    "@media (prefers-reduced-motion: reduce) { .launcher { transition: none; } }",
  ].join("\n");

  function storage(kind) {
    try {
      return window[kind];
    } catch (e) {
      return null;
    }
  }

  function remembered(kind, key) {
    try {
      return storage(kind) ? storage(kind).getItem(key) === "1" : false;
    } catch (e) {
      return false;
    }
  }

  function remember(kind, key, on) {
    try {
      if (!storage(kind)) return;
      if (on) storage(kind).setItem(key, "1");
      else storage(kind).removeItem(key);
    } catch (e) {
      // storage blocked on this page: the widget works, it just forgets
    }
  }

  function svg(paths) {
    var el = document.createElementNS(SVG, "svg");
    el.setAttribute("viewBox", "0 0 24 24");
    el.setAttribute("fill", "none");
    el.setAttribute("stroke", "currentColor");
    el.setAttribute("stroke-width", "2");
    el.setAttribute("stroke-linecap", "round");
    el.setAttribute("stroke-linejoin", "round");
    el.setAttribute("aria-hidden", "true");
    el.setAttribute("focusable", "false");
    paths.forEach(function (d) {
      var p = document.createElementNS(SVG, "path");
      p.setAttribute("d", d);
      el.appendChild(p);
    });
    return el;
  }

  var CHAT_ICON = svg([
    "M21 11.5a8.4 8.4 0 0 1-.9 3.8 8.5 8.5 0 0 1-7.6 4.7 8.4 8.4 0 0 1-3.8-.9L3 21l1.9-5.7a8.4 8.4 0 0 1-.9-3.8 8.5 8.5 0 0 1 4.7-7.6 8.4 8.4 0 0 1 3.8-.9h.5a8.5 8.5 0 0 1 8 8v.5z",
  ]);
  var CLOSE_ICON = svg(["M18 6 6 18M6 6l12 12"]);

  // The shadow root's host element; a constructed stylesheet needs no 'unsafe-inline' and no
  // style-src entry on the host page
  function shadowHost() {
    var host = document.createElement("div");
    host.setAttribute("data-hubbub-widget", "");
    var root = host.attachShadow({ mode: "open" });
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
    return host;
  }

  function launcherButton(badge) {
    var launcher = document.createElement("button");
    launcher.type = "button";
    launcher.className = "launcher";
    launcher.setAttribute("aria-label", "Open chat");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-haspopup", "dialog");
    launcher.appendChild(CHAT_ICON);
    launcher.appendChild(badge);
    return launcher;
  }

  // The button, the panel and the frame in it (created on first need), and their state
  function Widget() {
    this.host = shadowHost();
    this.badge = document.createElement("span");
    this.badge.className = "badge";
    this.badge.hidden = true;
    this.launcher = launcherButton(this.badge);
    this.panel = document.createElement("div");
    this.panel.className = "panel";
    this.panel.hidden = true;
    this.wrap = document.createElement("div");
    this.wrap.appendChild(this.launcher);
    this.wrap.appendChild(this.panel);
    this.host.shadowRoot.appendChild(this.wrap);
    this.iframe = null;
    this.isOpen = false;
    this.ready = false;
  }

  Widget.prototype.post = function (message) {
    if (this.iframe && this.iframe.contentWindow && this.ready) {
      this.iframe.contentWindow.postMessage(message, frameUrl.origin);
    }
  };

  Widget.prototype.ensureFrame = function () {
    if (this.iframe) return;
    this.iframe = document.createElement("iframe");
    this.iframe.src = frameUrl.href;
    this.iframe.title = script.dataset.hubbubTitle || "Chat with us";
    this.iframe.setAttribute("referrerpolicy", "no-referrer");
    this.panel.appendChild(this.iframe);
  };

  Widget.prototype.setBadge = function (count) {
    var n = Number(count) || 0;
    this.badge.hidden = n <= 0 || this.isOpen;
    this.badge.textContent = n > 9 ? "9+" : String(n);
    this.launcher.setAttribute(
      "aria-label",
      this.isOpen ? "Close chat" : n > 0 ? "Open chat, " + n + " unread" : "Open chat",
    );
  };

  Widget.prototype.open = function () {
    this.ensureFrame();
    this.isOpen = true;
    this.panel.hidden = false;
    this.wrap.className = "is-open";
    this.launcher.setAttribute("aria-expanded", "true");
    this.launcher.replaceChild(CLOSE_ICON, this.launcher.firstChild);
    this.setBadge(0);
    remember("sessionStorage", OPEN_KEY, true);
    this.post({ hubbub: "widget", type: "open" });
    this.iframe.focus();
  };

  Widget.prototype.close = function (returnFocus) {
    this.isOpen = false;
    this.panel.hidden = true;
    this.wrap.className = "";
    this.launcher.setAttribute("aria-expanded", "false");
    this.launcher.replaceChild(CHAT_ICON, this.launcher.firstChild);
    this.setBadge(0);
    remember("sessionStorage", OPEN_KEY, false);
    this.post({ hubbub: "widget", type: "closed" });
    if (returnFocus) this.launcher.focus();
  };

  // Only the frame this loader made, from the chat's origin, is listened to
  Widget.prototype.onMessage = function (event) {
    if (!this.iframe || event.source !== this.iframe.contentWindow) return;
    if (event.origin !== frameUrl.origin) return;
    var data = event.data;
    if (!data || data.hubbub !== "widget") return;
    if (data.type === "ready") {
      this.ready = true;
      this.post({ hubbub: "widget", type: this.isOpen ? "open" : "closed" });
    } else if (data.type === "close") {
      this.close(true);
    } else if (data.type === "unread") {
      if (!this.isOpen) this.setBadge(data.count);
    } else if (data.type === "active") {
      remember("localStorage", ACTIVE_KEY, Boolean(data.active));
    }
  };

  function build() {
    var widget = new Widget();
    widget.launcher.addEventListener("click", function () {
      if (widget.isOpen) widget.close(false);
      else widget.open();
    });
    window.addEventListener("message", function (event) {
      widget.onMessage(event);
    });
    document.body.appendChild(widget.host);
    if (remembered("sessionStorage", OPEN_KEY)) widget.open();
    else if (remembered("localStorage", ACTIVE_KEY)) widget.ensureFrame(); // to hear replies while closed
  }

  // Chrome 73+, Firefox 101+, Safari 16.4+ (constructable stylesheets)
  if (typeof CSSStyleSheet !== "function" || !("adoptedStyleSheets" in Document.prototype)) return;
  if (document.body) build();
  else document.addEventListener("DOMContentLoaded", build);
})();
