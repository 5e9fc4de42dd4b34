// The signed-in console: the conversation list and the open conversation, kept live from the
// client's events (every desk/+ message, typing, visitors coming and going, reads from the
// operator's other tabs), and reloaded after every session.

import { HubbubError } from "../hubbub.js";
import { byId, icon } from "../ui/dom.js";
import { ConnectionBanner } from "../ui/status.js";
import { Inbox, visitorIdOf } from "./inbox.js";
import { SanctionsPanel } from "./sanctions.js";
import { Thread } from "./thread.js";

const RELATIVE_TIMES_MS = 60000;

/** Run the console for a signed-in operator; `signOut` ends it. */
export function runDesk(client, { announcer, signOut }) {
  byId("signout").prepend(icon("logout"));
  byId("signout").addEventListener("click", signOut, { once: true });
  byId("me-name").textContent = client.user.nickname || "Operator";
  const me = () => client.user?.id;
  let thread = null;
  const inbox = new Inbox({
    client,
    me,
    hooks: {
      openTopic: () => thread?.topic ?? null,
      open: (topic, fromUser) => thread.open(topic, fromUser),
      refreshed: () => {
        if (thread.topic) thread.markRead(thread.topic);
        thread.renderHead();
      },
      presenceChanged: () => thread.renderHead(),
    },
  });
  new ConnectionBanner(client, byId("conversation"));
  thread = new Thread({ client, inbox, me });
  const sanctions = new SanctionsPanel({ client, announcer });
  byId("moderate-visitor").addEventListener("click", () => {
    if (thread.topic) sanctions.prefill(thread.topic, thread.topic.split("/")[1]);
  });
  showConnected(client);
  followMessages(client, { inbox, thread, me, announcer });
  followPeople(client, { inbox, thread, me });
  followReads(client, { inbox, thread });
  // refresh relative times now and then
  setInterval(() => inbox.renderAll(), RELATIVE_TIMES_MS);
  client.addEventListener("session", () => inbox.refresh());
  client.subscribe("desk/+").catch((err) => {
    if (err instanceof HubbubError) announcer.say(`Cannot watch conversations: ${err.message}`);
  });
  inbox.refresh().then(() => {
    const wanted = decodeURIComponent(location.hash.slice(1));
    if (wanted.startsWith("desk/") && inbox.get(wanted)) thread.open(wanted, false);
  });
}

function showConnected(client) {
  const meDot = byId("me-dot");
  client.addEventListener("state", () => {
    meDot.classList.toggle("on", client.online);
    meDot.title = client.online ? "Connected" : "Not connected";
  });
  meDot.classList.toggle("on", client.online);
}

function followMessages(client, { inbox, thread, me, announcer }) {
  client.addEventListener("message", (e) => {
    const { message, source } = e.detail;
    if (!message.topic.startsWith("desk/")) return;
    const fromVisitor = message.from === visitorIdOf(message.topic);
    const c = countMessage(inbox, message, fromVisitor && message.nickname, {
      seen: thread.topic === message.topic && !document.hidden,
      own: message.from === me(),
    });
    if (fromVisitor) {
      inbox.setOnline(c.visitor.id, true);
      inbox.stoppedTyping(c.topic);
    }
    if (thread.topic === message.topic) {
      thread.transcript?.add(message);
      thread.typing.stopped(message.from);
      thread.markRead(message.topic);
    }
    inbox.renderRow(c);
    inbox.placeRows();
    if (source === "live" && fromVisitor) {
      announcer.say(`New message from ${message.nickname || "a visitor"}: ${message.text}`);
    }
  });
  client.addEventListener("outbox", (e) => {
    if (e.detail.entry.topic === thread.topic) thread.transcript?.showPending(e.detail.entry);
  });
}

/** The conversation of `message`, updated: last message, time, unread count. */
function countMessage(inbox, message, nickname, { seen, own }) {
  const known = inbox.get(message.topic);
  const visitor = { id: visitorIdOf(message.topic), nickname: nickname || null };
  const c = inbox.upsert({ topic: message.topic, visitor });
  if (!known) inbox.refresh(); // a new conversation: fetch its visitor's details
  const isNew = message.seq > c.lastSeq || !known;
  if (!c.lastMessage || message.seq >= c.lastMessage.seq) {
    c.lastMessage = message;
    c.updatedAt = Math.max(c.updatedAt, message.ts);
  }
  if (isNew) {
    c.lastSeq = Math.max(c.lastSeq, message.seq);
    if (!own && !seen) c.unread += 1;
  }
  return c;
}

function followPeople(client, { inbox, thread, me }) {
  client.addEventListener("typing", (e) => {
    const { topic, user } = e.detail;
    if (!topic.startsWith("desk/") || user.id === me()) return;
    if (topic === thread.topic) thread.typing.saw(user);
    const c = inbox.get(topic);
    if (c && user.id === c.visitor.id) inbox.typing(c);
  });
  for (const kind of ["joined", "left"]) {
    client.addEventListener(kind, (e) => {
      const { topic, user } = e.detail;
      if (!topic.startsWith("desk/") || user.id !== visitorIdOf(topic)) return;
      inbox.setOnline(user.id, kind === "joined");
      const c = inbox.get(topic);
      if (c) inbox.renderRow(c);
      if (topic === thread.topic) thread.renderHead();
    });
  }
}

function followReads(client, { inbox, thread }) {
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && thread.topic) thread.markRead(thread.topic);
  });
  // this operator read it in another tab: the marker is theirs, so this badge goes too
  client.addEventListener("read", (e) => {
    const { topic, seq } = e.detail;
    const c = inbox.get(topic);
    if (!c || typeof seq !== "number" || seq <= (c.readSeq ?? 0)) return;
    c.readSeq = seq;
    c.unread = seq >= c.lastSeq ? 0 : Math.min(c.unread, c.lastSeq - seq);
    inbox.renderRow(c);
    inbox.renderTotals();
  });
}
