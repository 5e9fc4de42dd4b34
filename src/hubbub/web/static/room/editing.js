// The author's second thoughts in a room: Edit opens an inline editor in place of the bubble,
// Delete asks first (a second click on "Delete for everyone?", no modal dialog). The server answers `edited`/`deleted` and the stream pushes the same to
// every reader; the transcript redraws the row from either (whichever comes first, once).

import { HubbubError } from "../hubbub.js";
import { h } from "../ui/dom.js";

const CONFIRM_MS = 5000; // how long "Delete for everyone?" waits for its second click

/**
 * Give `transcript`'s own rows their Edit and Delete controls, and follow the `edited` and
 * `deleted` events of `topic`.
 */
export function enableEditing({ client, topic, transcript, announcer }) {
  const failed = (err) => {
    const why = err instanceof HubbubError ? err.message : "the server did not answer";
    announcer.say(`Not changed: ${why}`);
  };
  transcript.opts.onEdit = (m) => openEditor({ client, topic, transcript, failed }, m);
  transcript.opts.onDelete = async (m) => {
    const button = transcript.bySeq.get(m.seq)?.querySelector(".msg-delete");
    if (button && button.dataset.armed !== "1") {
      button.dataset.armed = "1";
      button.textContent = "Delete for everyone?";
      setTimeout(() => {
        button.dataset.armed = "";
        button.textContent = "Delete";
      }, CONFIRM_MS);
      return;
    }
    try {
      transcript.revise(await client.deleteMessage(topic, m.id));
    } catch (err) {
      failed(err);
    }
  };
  for (const kind of ["edited", "deleted"]) {
    client.addEventListener(kind, (e) => {
      if (e.detail.topic === topic) transcript.revise(e.detail);
    });
  }
}

function openEditor({ client, topic, transcript, failed }, m) {
  const row = transcript.bySeq.get(m.seq);
  if (!row || row.querySelector("form.msg-editor")) return;
  const area = h("textarea", {
    class: "msg-editor-text",
    value: m.text,
    attrs: { "aria-label": "Edit your message", rows: "2", maxlength: "4000" },
  });
  const cancel = () => transcript.redraw(m.seq);
  const form = h(
    "form",
    { class: "msg-editor" },
    area,
    h("button", { type: "submit", class: "button small", text: "Save" }),
    h("button", {
      type: "button",
      class: "link-button subtle",
      text: "Cancel",
      on: { click: cancel },
    }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = area.value;
    if (!text.trim()) return;
    try {
      transcript.revise(await client.edit(topic, m.id, text));
    } catch (err) {
      failed(err);
    }
  });
  area.addEventListener("keydown", (event) => {
    if (event.key === "Escape") cancel();
  });
  for (const old of row.querySelectorAll(".bubble, .edited, .msg-actions")) old.remove();
  row.append(form);
  area.focus();
}
