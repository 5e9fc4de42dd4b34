// One message as a row of a transcript: who, when, and the text (links made safe). Own messages
// the server has not acknowledged yet get their state instead ("Sending…", "Not sent. Retry").
// A deleted message is a tombstone ("Message deleted"); an edited one says so; the author's own
// delivered messages carry Edit and Delete controls when the transcript is given what to call.

import { attachmentList } from "./attachments.js";
import { h, icon } from "./dom.js";
import { linkify, timeElement } from "./text.js";

const ROLES = new Set(["operator", "visitor", "guest"]);

/**
 * The sender's role as the server stamped it on the message (`m.role`, from the sender's
 * authenticated identity). Never from the nickname, which is free text ("Support (operator)"),
 * nor from the shape of an id; a message without one (or with an unknown one) claims nothing.
 */
export function roleOf(m) {
  return ROLES.has(m?.role) ? m.role : "visitor";
}

function bubble(text) {
  const body = h("div", { class: "bubble" });
  body.append(linkify(text));
  return body;
}

/** The bubble and markers of a message as it now stands (edited text, or a tombstone). */
export function messageBody(m) {
  if (m.deleted) {
    return [h("div", { class: "bubble tombstone", text: "Message deleted" })];
  }
  const parts = m.text || !m.attachments?.length ? [bubble(m.text)] : [];
  const files = attachmentList(m.attachments);
  if (files) parts.push(files);
  if (m.editedAt) parts.push(h("span", { class: "edited", text: "(edited)" }));
  return parts;
}

function controls(m, { onEdit, onDelete }) {
  if (m.deleted || (!onEdit && !onDelete)) return null;
  const box = h("div", { class: "msg-actions" });
  if (onEdit) {
    box.append(
      h("button", {
        type: "button",
        class: "link-button subtle msg-edit",
        text: "Edit",
        attrs: { "aria-label": "Edit message" },
        on: { click: () => onEdit(m) },
      }),
    );
  }
  if (onDelete) {
    box.append(
      h("button", {
        type: "button",
        class: "link-button subtle msg-delete",
        text: "Delete",
        attrs: { "aria-label": "Delete message" },
        on: { click: () => onDelete(m) },
      }),
    );
  }
  return box;
}

/** The <li> of a delivered message; `me` is the reader's user id, `operatorLabel` the badge. */
export function messageRow(m, { me, operatorLabel, onEdit, onDelete }) {
  const own = Boolean(me) && m.from === me;
  const role = roleOf(m);
  const meta = h("div", { class: "meta" });
  if (!own) {
    meta.append(h("span", { class: "author", text: m.nickname || "Guest" }));
    if (role === "operator") meta.append(h("span", { class: "badge", text: operatorLabel }));
  } else {
    meta.append(h("span", { class: "sr-only", text: "You" }));
  }
  meta.append(timeElement(m.ts));
  if (own) meta.append(icon("check", "Sent"));
  const dataset = {
    seq: String(m.seq),
    id: m.id || "",
    from: m.from || "",
    ts: String(m.ts),
    state: own ? "sent" : "received",
  };
  const mine = own ? controls(m, { onEdit, onDelete }) : null;
  const cls = `msg${own ? " own" : ""} role-${role}${m.deleted ? " deleted" : ""}`;
  return h("li", { class: cls, dataset }, meta, ...messageBody(m), mine);
}

/** The content of an unacknowledged own message's row: its text and its state. */
export function pendingContent(entry, { onRetry, onDiscard }) {
  const status = h("div", { class: "status" });
  if (entry.state === "failed") {
    status.append(
      icon("alert"),
      h("span", { text: "Not sent." }),
      h("button", {
        type: "button",
        class: "link-button",
        text: "Retry",
        on: { click: () => onRetry?.(entry.clientMsgId) },
      }),
      h("button", {
        type: "button",
        class: "link-button subtle",
        text: "Delete",
        on: { click: () => onDiscard?.(entry.clientMsgId) },
      }),
    );
  } else {
    status.append(icon("clock"), h("span", { text: "Sending…" }));
  }
  return [entry.text ? bubble(entry.text) : null, attachmentList(entry.attachments), status];
}
