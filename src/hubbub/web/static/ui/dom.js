// Building the pages' DOM without markup: elements from tag + properties, icons as SVG built node
// by node, and the composer's textarea behaviour. Text only ever goes in as text nodes
// (textContent / Text), never through an HTML parser: the pages run under Trusted Types.

const SVG = "http://www.w3.org/2000/svg";

/** Build an element. props: class, text, attrs {name: value}, on {event: fn}, dataset, hidden. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "hidden") el.hidden = Boolean(value);
    else if (key === "attrs") {
      for (const [name, v] of Object.entries(value)) {
        if (v !== undefined && v !== null && v !== false) el.setAttribute(name, v === true ? "" : v);
      }
    } else el[key] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el;
}

// ---- icons (inline SVG built with createElementNS) -----------------------------------------

const ICONS = {
  send: [["path", { d: "M22 2 11 13" }], ["path", { d: "M22 2 15 22l-4-9-9-4 20-7z" }]],
  chat: [
    [
      "path",
      {
        d: "M21 11.5a8.4 8.4 0 0 1-.9 3.8 8.5 8.5 0 0 1-7.6 4.7 8.4 8.4 0 0 1-3.8-.9L3 21l1.9-5.7a8.4 8.4 0 0 1-.9-3.8 8.5 8.5 0 0 1 4.7-7.6 8.4 8.4 0 0 1 3.8-.9h.5a8.5 8.5 0 0 1 8 8v.5z",
      },
    ],
  ],
  close: [["path", { d: "M18 6 6 18M6 6l12 12" }]],
  users: [
    ["path", { d: "M17 21v-2a4 4 0 0 0-4-4H5a4 4 0 0 0-4 4v2" }],
    ["circle", { cx: "9", cy: "7", r: "4" }],
    ["path", { d: "M23 21v-2a4 4 0 0 0-3-3.9M16 3.1a4 4 0 0 1 0 7.8" }],
  ],
  back: [["path", { d: "M19 12H5M12 19l-7-7 7-7" }]],
  clip: [["path", { d: "M16 6v10a4 4 0 0 1-8 0V5a2.5 2.5 0 0 1 5 0v10a1 1 0 0 1-2 0V7" }]],
  down: [["path", { d: "M12 5v14M19 12l-7 7-7-7" }]],
  check: [["path", { d: "M20 6 9 17l-5-5" }]],
  clock: [["circle", { cx: "12", cy: "12", r: "9" }], ["path", { d: "M12 7v5l3 2" }]],
  alert: [["circle", { cx: "12", cy: "12", r: "9" }], ["path", { d: "M12 8v4M12 16h.01" }]],
  logout: [["path", { d: "M9 21H5a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2h4M16 17l5-5-5-5M21 12H9" }]],
  hash: [["path", { d: "M4 9h16M4 15h16M10 3 8 21M16 3l-2 18" }]],
  inbox: [
    ["path", { d: "M22 12h-6l-2 3h-4l-2-3H2" }],
    ["path", { d: "M5.5 5.1 2 12v6a2 2 0 0 0 2 2h16a2 2 0 0 0 2-2v-6l-3.5-6.9A2 2 0 0 0 16.8 4H7.2a2 2 0 0 0-1.7 1.1z" }],
  ],
};

export function icon(name, label) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("class", `icon icon-${name}`);
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  if (label) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
  } else {
    svg.setAttribute("aria-hidden", "true");
  }
  svg.setAttribute("focusable", "false");
  for (const [tag, attrs] of ICONS[name] || []) {
    const part = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) part.setAttribute(k, v);
    svg.append(part);
  }
  return svg;
}

/** Grow a textarea with its content, up to its CSS max-height. */
export function autoGrow(textarea) {
  const fit = () => {
    textarea.style.height = "auto";
    textarea.style.height = `${textarea.scrollHeight}px`;
  };
  textarea.addEventListener("input", fit);
  return fit;
}

/** Enter sends, Shift+Enter makes a new line (IME composition is left alone). */
export function submitOnEnter(textarea, form) {
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

/**
 * The composer every view shares: Enter submits, the box grows with its text, and only while
 * `ready()` holds is non-blank text (or ready attachments of `tray`, an AttachmentTray) handed
 * to `send(text, attachments)` (then the box empties and shrinks back) and a keystroke reported
 * to `typing`. Until then (no conversation picked, no identity yet) nothing leaves; nor while a
 * file is still uploading.
 */
export function wireComposer(composer, textarea, { ready, send, typing, tray = null }) {
  const fit = autoGrow(textarea);
  submitOnEnter(textarea, composer);
  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = textarea.value;
    const attachments = tray ? tray.ready() : [];
    if ((!text.trim() && attachments.length === 0) || !ready() || tray?.busy) return;
    send(text, attachments);
    textarea.value = "";
    tray?.clear();
    fit();
  });
  textarea.addEventListener("input", () => {
    if (ready() && textarea.value.trim()) typing();
  });
}
