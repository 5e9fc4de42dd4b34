// User text and times as the pages show them: links made safe, clock times, "5 minutes ago".

import { h } from "./dom.js";

const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?'"\u201d\u2019)\]}>*_~]$/;

function count(text, ch) {
  let n = 0;
  for (const c of text) if (c === ch) n += 1;
  return n;
}

/**
 * User text as a fragment of text nodes, with http(s) URLs as links that open in a new tab
 * without a referrer or an opener. Nothing in `text` is ever parsed as HTML.
 */
export function linkify(text) {
  const frag = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(URL_RE)) {
    let raw = match[0];
    while (TRAILING.test(raw)) {
      if (raw.endsWith(")") && count(raw, "(") >= count(raw, ")")) break;
      raw = raw.slice(0, -1);
    }
    let url;
    try {
      url = new URL(raw);
    } catch {
      continue;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") continue;
    const start = match.index;
    if (start > last) frag.append(document.createTextNode(text.slice(last, start)));
    const a = document.createElement("a");
    a.href = url.href;
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    a.textContent = raw;
    frag.append(a);
    last = start + raw.length;
  }
  if (last < text.length) frag.append(document.createTextNode(text.slice(last)));
  return frag;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dayTimeFmt = new Intl.DateTimeFormat(undefined, {
  month: "short",
  day: "numeric",
  hour: "numeric",
  minute: "2-digit",
});
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const relFmt = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

function sameDay(a, b) {
  return (
    a.getFullYear() === b.getFullYear() &&
    a.getMonth() === b.getMonth() &&
    a.getDate() === b.getDate()
  );
}

/** A <time> element: the clock time today, the day and time before. */
export function timeElement(ts) {
  const date = new Date(ts);
  const label = sameDay(date, new Date()) ? timeFmt.format(date) : dayTimeFmt.format(date);
  return h("time", { text: label, attrs: { datetime: date.toISOString(), title: fullFmt.format(date) } });
}

/** "just now", "5 minutes ago", "yesterday"... */
export function relativeTime(ts, now = Date.now()) {
  const seconds = Math.round((ts - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 45) return "just now";
  if (abs < 3600) return relFmt.format(Math.round(seconds / 60), "minute");
  if (abs < 86400) return relFmt.format(Math.round(seconds / 3600), "hour");
  if (abs < 86400 * 30) return relFmt.format(Math.round(seconds / 86400), "day");
  return dayTimeFmt.format(new Date(ts));
}

/** Short form for lists: 14:05 today, "Mon" this week, "Mar 3" before. */
export function shortTime(ts) {
  const date = new Date(ts);
  const now = new Date();
  if (sameDay(date, now)) return timeFmt.format(date);
  if (now - date < 6 * 86400000) {
    return new Intl.DateTimeFormat(undefined, { weekday: "short" }).format(date);
  }
  return new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" }).format(date);
}
