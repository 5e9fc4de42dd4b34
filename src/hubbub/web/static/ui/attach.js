// Picking files for the next message: a paperclip button, pasting into the message box, and
// dropping files on the composer (or on another drop target the page names). Each file is
// checked against the limits first (type and size: refused here before any byte moves, with
// the reason shown), then uploaded at once; the chips above the box show each one's state.
// What is ready goes with the next send; a file still uploading holds the send back.

import { ATTACHMENT_TYPES } from "../client/uploads.js";
import { byteSize } from "./attachments.js";
import { h, icon } from "./dom.js";

const MAX_BYTES = 10 * 1024 * 1024;
const MAX_FILES = 5;

/** Why this file may not be attached (null: it may). Mirrors the server's rules. */
export function refusalOf(file, { maxBytes = MAX_BYTES } = {}) {
  if (!ATTACHMENT_TYPES.has(file.type)) {
    return "Only images (PNG, JPEG, GIF, WebP), PDF, plain text and ZIP files can be attached.";
  }
  if (file.size === 0) return "This file is empty.";
  if (file.size > maxBytes) return `Files can be at most ${byteSize(maxBytes)}.`;
  return null;
}

export class AttachmentTray {
  /**
   * @param {HTMLFormElement} composer  the message form (the button goes before its textarea)
   * @param {HTMLTextAreaElement} textarea
   * @param {object} opts  upload(file) -> Promise<attachment>, enabled() (may attach now),
   *   limits() -> {maxAttachments, maxAttachmentBytes} (hello.limits), dropTargets [elements]
   */
  constructor(composer, textarea, opts) {
    this.textarea = textarea;
    this.opts = opts;
    this.items = []; // {file, state: uploading|ready|failed, attachment?, error?, el}
    this.input = h("input", {
      class: "sr-only",
      attrs: { type: "file", multiple: true, accept: [...ATTACHMENT_TYPES].join(","), tabindex: "-1" },
      on: { change: () => this._take([...this.input.files], "input") },
    });
    this.button = h(
      "button",
      {
        type: "button",
        class: "icon-button attach-button",
        attrs: { "aria-label": "Attach files", title: "Attach files (or paste or drop them here)" },
        on: { click: () => this.opts.enabled() && this.input.click() },
      },
      icon("clip"),
    );
    const named = { "aria-label": "Files to send" };
    this.list = h("ul", { class: "attach-tray", attrs: named, hidden: true });
    composer.prepend(this.list, this.input, this.button);
    composer.classList.add("with-attachments");
    textarea.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files || [])];
      if (files.length) {
        event.preventDefault();
        this._take(files, "paste");
      }
    });
    for (const target of [composer, ...(opts.dropTargets || [])]) this._dropOn(target);
  }

  /** Attachments ready to go with the next message. */
  ready() {
    return this.items.filter((i) => i.state === "ready").map((i) => i.attachment);
  }

  /** A file is still on its way: the send waits for it. */
  get busy() {
    return this.items.some((i) => i.state === "uploading");
  }

  clear() {
    for (const item of this.items) item.el.remove();
    this.items = [];
    this._changed();
  }

  _dropOn(target) {
    target.addEventListener("dragover", (event) => {
      if (![...(event.dataTransfer?.types || [])].includes("Files")) return;
      event.preventDefault();
      target.classList.add("drop-here");
    });
    target.addEventListener("dragleave", () => target.classList.remove("drop-here"));
    target.addEventListener("drop", (event) => {
      target.classList.remove("drop-here");
      const files = [...(event.dataTransfer?.files || [])];
      if (!files.length) return;
      event.preventDefault();
      this._take(files, "drop");
    });
  }

  _take(files, how) {
    this.input.value = "";
    if (!this.opts.enabled()) return;
    const limits = this.opts.limits?.() || {};
    const room = (limits.maxAttachments || MAX_FILES) - this.items.length;
    files.forEach((file, n) => {
      const error =
        n >= room
          ? `At most ${limits.maxAttachments || MAX_FILES} files per message.`
          : refusalOf(file, { maxBytes: limits.maxAttachmentBytes || MAX_BYTES });
      this._add(file, error, how);
    });
  }

  _add(file, error, how) {
    const item = { file, state: error ? "failed" : "uploading", error, attachment: null };
    item.el = h("li", { class: "attach-chip", dataset: { how } });
    this.items.push(item);
    this.list.append(item.el);
    this._draw(item);
    if (!error) {
      this.opts
        .upload(file)
        .then((attachment) => {
          item.attachment = attachment;
          item.state = "ready";
        })
        .catch((err) => {
          item.state = "failed";
          item.error = err?.message || "The upload failed.";
        })
        .finally(() => this._draw(item));
    }
  }

  _draw(item) {
    if (!this.items.includes(item)) return;
    const name = item.file.name || "pasted image";
    const state = { uploading: "Uploading…", ready: byteSize(item.file.size), failed: item.error };
    item.el.dataset.state = item.state;
    item.el.replaceChildren(
      h("span", { class: "attach-name", text: name }),
      h("span", { class: "attach-state", text: state[item.state] }),
      h("button", {
        type: "button",
        class: "link-button subtle",
        text: "Remove",
        attrs: { "aria-label": `Remove ${name}` },
        on: { click: () => this._remove(item) },
      }),
    );
    this._changed();
  }

  _remove(item) {
    this.items = this.items.filter((i) => i !== item);
    item.el.remove();
    this._changed();
  }

  _changed() {
    this.list.hidden = this.items.length === 0;
    // a message of attachments alone needs no text
    this.textarea.required = this.ready().length === 0;
  }
}
