// A message's attachments as its row shows them: images inline (size-capped by the stylesheet),
// other files as download links, each by its presigned URL. Names go in as text; the URL only
// ever becomes an <img src> or an <a href>, never markup. Until the server's copy of an own
// message arrives, its attachments have no URL yet and show by name.

import { IMAGE_TYPES } from "../client/uploads.js";
import { h } from "./dom.js";

/** "2.4 MB", "830 KB", "12 bytes". */
export function byteSize(n) {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url, location.href);
    return parsed.protocol === "https:" || parsed.protocol === "http:" ? parsed.toString() : null;
  } catch {
    return null;
  }
}

function one(a) {
  const url = a.url ? safeUrl(a.url) : null;
  const label = `${a.filename} (${byteSize(a.size)})`;
  if (url && IMAGE_TYPES.has(a.contentType)) {
    const img = h("img", {
      class: "attachment-image",
      attrs: { src: url, alt: a.filename, loading: "lazy", decoding: "async" },
    });
    const open = { href: url, target: "_blank", rel: "noopener noreferrer", title: label };
    return h("li", { class: "attachment image" }, h("a", { attrs: open }, img));
  }
  if (url) {
    const link = { href: url, rel: "noopener noreferrer", download: a.filename };
    return h("li", { class: "attachment file" }, h("a", { attrs: link, text: label }));
  }
  return h("li", { class: "attachment file pending-file", text: label });
}

/** The <ul> of a message's attachments, or null when it has none. */
export function attachmentList(attachments) {
  if (!Array.isArray(attachments) || attachments.length === 0) return null;
  return h("ul", { class: "attachments" }, ...attachments.map(one));
}

/** What a screen reader is told of a message: its text, and the names of its files. */
export function spoken(message) {
  const names = (message.attachments || []).map((a) => a.filename);
  const files = names.length ? `(attached: ${names.join(", ")})` : "";
  return [message.text || "", files].filter(Boolean).join(" ");
}

/** True when `next` brings links the row of `shown` lacks (the push after an own ack). */
export function bringsLinks(shown, next) {
  const had = (shown?.attachments || []).some((a) => a.url);
  return !had && (next?.attachments || []).some((a) => a.url);
}
