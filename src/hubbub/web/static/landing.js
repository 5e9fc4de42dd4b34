// The start page: join a room by name, see active rooms, find the widget demo and the console.
import { resolveWebSocketUrl } from "./ui/config.js";
import { byId, h } from "./ui/dom.js";
import { shortTime } from "./ui/text.js";

const NAME_RE = /^[A-Za-z0-9_.:@~-]{1,120}$/;

byId("room-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const name = byId("room-input").value.trim();
  if (!NAME_RE.test(name)) {
    byId("room-input").setCustomValidity("Use letters, digits and _ . : @ ~ - only.");
    byId("room-input").reportValidity();
    return;
  }
  location.assign(`/r/${encodeURIComponent(name)}`);
});
byId("room-input").addEventListener("input", () => byId("room-input").setCustomValidity(""));

resolveWebSocketUrl()
  .then((url) => {
    byId("endpoint").textContent = url;
  })
  .catch(() => {
    byId("endpoint").textContent = "not configured";
  });

// active rooms from the REST API, where it is served next to the pages
fetch("/api/rooms?limit=8", { credentials: "omit" })
  .then((response) => (response.ok ? response.json() : null))
  .then((body) => {
    const rooms = (body && Array.isArray(body.rooms) ? body.rooms : []).filter((r) => NAME_RE.test(r.name));
    if (rooms.length === 0) return;
    byId("recent-list").replaceChildren(
      ...rooms.map((r) =>
        h(
          "li",
          {},
          h("a", { href: `/r/${encodeURIComponent(r.name)}`, text: `#${r.name}` }),
          h("span", { class: "recent-meta", text: `${r.lastSeq} messages · ${shortTime(r.updatedAt)}` }),
        ),
      ),
    );
    byId("recent").hidden = false;
  })
  .catch(() => {});
