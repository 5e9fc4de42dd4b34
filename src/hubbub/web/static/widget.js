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

  function build() {
    var host = document.createElement("div");
    host.setAttribute("data-hubbub-widget", "");
    var root = host.attachShadow({ mode: "open" });
    // a constructed stylesheet needs no 'unsafe-inline' and no style-src entry on the host page
    var sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];

    var wrap = document.createElement("div");
    var launcher = document.createElement("button");
    launcher.type = "button";
    launcher.className = "launcher";
    launcher.setAttribute("aria-label", "Open chat");
    launcher.setAttribute("aria-expanded", "false");
    launcher.setAttribute("aria-haspopup", "dialog");
    launcher.appendChild(CHAT_ICON);
    var badge = document.createElement("span");
    badge.className = "badge";
    badge.hidden = true;
    launcher.appendChild(badge);

    var panel = document.createElement("div");
    panel.className = "panel";
    panel.hidden = true;
    wrap.appendChild(launcher);
    wrap.appendChild(panel);
    root.appendChild(wrap);

    var iframe = null;
    var isOpen = false;
    var ready = false;

    function post(message) {
      if (iframe && iframe.contentWindow && ready) {
        iframe.contentWindow.postMessage(message, frameUrl.origin);
      }
    }

    function ensureFrame() {
      if (iframe) return;
      iframe = document.createElement("iframe");
      iframe.src = frameUrl.href;
      iframe.title = script.dataset.hubbubTitle || "Chat with us";
      iframe.setAttribute("referrerpolicy", "no-referrer");
      panel.appendChild(iframe);
    }

    function setBadge(count) {
      var n = Number(count) || 0;
      badge.hidden = n <= 0 || isOpen;
      badge.textContent = n > 9 ? "9+" : String(n);
      launcher.setAttribute(
        "aria-label",
        isOpen ? "Close chat" : n > 0 ? "Open chat, " + n + " unread" : "Open chat",
      );
    }

    function open() {
      ensureFrame();
      isOpen = true;
      panel.hidden = false;
      wrap.className = "is-open";
      launcher.setAttribute("aria-expanded", "true");
      launcher.replaceChild(CLOSE_ICON, launcher.firstChild);
      setBadge(0);
      remember("sessionStorage", OPEN_KEY, true);
      post({ hubbub: "widget", type: "open" });
      iframe.focus();
    }

    function close(returnFocus) {
      isOpen = false;
      panel.hidden = true;
      wrap.className = "";
      launcher.setAttribute("aria-expanded", "false");
      launcher.replaceChild(CHAT_ICON, launcher.firstChild);
      setBadge(0);
      remember("sessionStorage", OPEN_KEY, false);
      post({ hubbub: "widget", type: "closed" });
      if (returnFocus) launcher.focus();
    }

    launcher.addEventListener("click", function () {
      if (isOpen) close(false);
      else open();
    });

    window.addEventListener("message", function (event) {
      if (!iframe || event.source !== iframe.contentWindow) return;
      if (event.origin !== frameUrl.origin) return;
      var data = event.data;
      if (!data || data.hubbub !== "widget") return;
      if (data.type === "ready") {
        ready = true;
        post({ hubbub: "widget", type: isOpen ? "open" : "closed" });
      } else if (data.type === "close") {
        close(true);
      } else if (data.type === "unread") {
        if (!isOpen) setBadge(data.count);
      } else if (data.type === "active") {
        remember("localStorage", ACTIVE_KEY, Boolean(data.active));
      }
    });

    document.body.appendChild(host);
    if (remembered("sessionStorage", OPEN_KEY)) open();
    else if (remembered("localStorage", ACTIVE_KEY)) ensureFrame(); // to hear replies while closed
  }

  // Chrome 73+, Firefox 101+, Safari 16.4+ (constructable stylesheets)
  if (typeof CSSStyleSheet !== "function" || !("adoptedStyleSheets" in Document.prototype)) return;
  if (document.body) build();
  else document.addEventListener("DOMContentLoaded", build);
})();
