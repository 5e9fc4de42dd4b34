// The room's conversation: the transcript (history on join, scroll-back, own messages with their
// state), who is typing, and the composer. New messages from others are announced and, while the
// tab is hidden, counted in its title.

import { HubbubError } from "../hubbub.js";
import { AttachmentTray } from "../ui/attach.js";
import { spoken } from "../ui/attachments.js";
import { byId, icon, wireComposer } from "../ui/dom.js";
import { ConnectionBanner } from "../ui/status.js";
import { Transcript } from "../ui/transcript.js";
import { enableEditing } from "./editing.js";

const PAGE = 50;

/**
 * @param {object} parts  client, topic, name (the room's), me(), canSend(), typing, announcer,
 *   title (the TitleBadge), fail(text) when the room cannot be shown
 */
export function showConversation(parts) {
  const { client, topic, name } = parts;
  const host = byId("transcript");
  new ConnectionBanner(client, host);
  const transcript = new Transcript(host, {
    me: parts.me,
    label: `Messages in #${name}`,
    emptyText: `No messages in #${name} yet. Say hello!`,
    operatorLabel: "Staff",
    loadOlder: async (before) => client.history(topic, { before, limit: PAGE }),
    onRetry: (cid) => client.retry(cid),
    onDiscard: (cid) => client.discard(cid),
  });
  follow(transcript, parts);
  enableEditing({ client, topic, transcript, announcer: parts.announcer });
  compose(parts);
  let loaded = false;
  client
    .subscribe(topic)
    .then(async (reply) => {
      if (loaded) return;
      loaded = true;
      const page = await client.history(topic, { before: (reply.lastSeq ?? 0) + 1, limit: PAGE });
      transcript.setLatest(page.messages || [], page.hasMore);
    })
    .catch((err) => {
      if (err instanceof HubbubError) parts.fail(err.message);
    });
}

/** Messages, own unacknowledged sends and typing from the client into the view. */
function follow(transcript, { client, topic, me, typing, announcer, title }) {
  client.addEventListener("typing", (e) => {
    if (e.detail.topic === topic && e.detail.user.id !== me()) typing.saw(e.detail.user);
  });
  client.addEventListener("message", (e) => {
    const { message, source, own } = e.detail;
    if (message.topic !== topic) return;
    transcript.add(message);
    typing.stopped(message.from);
    if (!own && source === "live") {
      announcer.say(`${message.nickname || "Guest"}: ${spoken(message)}`);
      title.bump();
    }
  });
  client.addEventListener("outbox", (e) => {
    if (e.detail.entry.topic === topic) transcript.showPending(e.detail.entry);
  });
  for (const entry of client.outbox(topic)) transcript.showPending(entry);
}

function compose({ client, topic, name, canSend }) {
  const composer = byId("composer");
  const textarea = byId("composer-text");
  byId("send").append(icon("send"));
  byId("composer-label").textContent = `Message #${name}`;
  textarea.placeholder = `Message #${name}`;
  const tray = new AttachmentTray(composer, textarea, {
    upload: (file) => client.upload(topic, file),
    enabled: canSend,
    limits: () => client.hello?.limits,
    dropTargets: [byId("transcript")],
  });
  wireComposer(composer, textarea, {
    ready: canSend,
    send: (text, attachments) => {
      client.send(topic, text, { attachments });
      textarea.focus();
    },
    typing: () => client.typing(topic),
    tray,
  });
}
