// The plain page: join a room and chat. User text only ever reaches textContent.
const $ = (id) => document.getElementById(id);
let ws = null;
let room = null;
const seen = new Set();

function show(msg) {
  if (seen.has(msg.id)) return;
  seen.add(msg.id);
  const li = document.createElement("li");
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = msg.nickname || msg.from;
  const text = document.createElement("span");
  text.textContent = msg.text;
  li.append(who, text);
  $("log").append(li);
}

async function join(nick, name) {
  const config = await (await fetch("/config.json")).json();
  const url = new URL(config.websocketPath, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  ws = new WebSocket(url);
  room = `room/${name}`;
  ws.onopen = () => {
    $("status").textContent = "online";
    ws.send(JSON.stringify({ action: "register", nickname: nick }));
    ws.send(JSON.stringify({ action: "subscribe", topic: room, since: 0 }));
  };
  ws.onclose = () => { $("status").textContent = "offline"; };
  ws.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "message" && frame.topic === room) show(frame);
    if (frame.type === "subscribed") (frame.messages || []).forEach(show);
    if (frame.type === "error") $("status").textContent = `error: ${frame.message}`;
  };
  $("say").hidden = false;
}

$("join").addEventListener("submit", (event) => {
  event.preventDefault();
  join($("nick").value, $("room").value);
});

$("say").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("text").value;
  if (!text || !ws) return;
  ws.send(JSON.stringify({ action: "send", topic: room, text, clientMsgId: crypto.randomUUID() }));
  $("text").value = "";
});
