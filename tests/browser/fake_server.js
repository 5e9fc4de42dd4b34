// An in-page stand-in for a hubbub server, for driving hubbub.js through exact situations:
// globalThis.FakeSocket is handed to HubbubClient as its WebSocket class, globalThis.fake is the
// server's state and switches. Evaluated by tests/browser/test_client_js.py (never served).
() => {
  const fake = {
    sockets: [],
    received: [],
    store: {}, // topic -> [message]
    acks: {}, // clientMsgId -> ack fields
    refuse: false, // handshakes fail (server down, or a refused token)
    refuseTokens: false, // handshakes with a token fail, without succeed
    mutePong: false,
    dropAcks: false,
    sendError: null,
    operators: { operatorsOnline: 0, operatorLastSeen: null }, // what $sys/operators starts from
    limits: {}, // what hello.limits says
    reset() {
      this.sockets = [];
      this.received = [];
      this.store = {};
      this.acks = {};
      this.refuse = this.refuseTokens = this.mutePong = this.dropAcks = false;
      this.sendError = null;
      this.operators = { operatorsOnline: 0, operatorLastSeen: null };
      this.limits = {};
    },
    get open() {
      return this.sockets.filter((s) => s.readyState === 1);
    },
    append(topic, text, from = "v_other") {
      const list = (this.store[topic] ||= []);
      const m = {
        topic,
        id: `m${topic}${list.length + 1}`,
        seq: list.length + 1,
        ts: Date.now(),
        from,
        nickname: from,
        text,
        clientMsgId: `c${Math.random()}`,
      };
      list.push(m);
      return m;
    },
    push(frame) {
      for (const s of this.open) s.deliver(frame);
    },
    handle(sock, f) {
      const reply = (obj) => setTimeout(() => sock.deliver({ ...obj, ref: f.ref }), 0);
      const list = this.store[f.topic] || [];
      switch (f.action) {
        case "hello":
          reply({
            type: "hello",
            connectionId: `c${this.sockets.length}`,
            user: { id: "v_me", role: "visitor", nickname: "me" },
            operatorsOnline: 0,
            operatorLastSeen: null,
            limits: this.limits,
          });
          break;
        case "ping":
          if (!this.mutePong) reply({ type: "pong", ts: Date.now() });
          break;
        case "refresh":
          this.refreshes = (this.refreshes || 0) + 1;
          reply({ type: "token", token: this.nextToken, expiresAt: Date.now() + 3600e3 });
          break;
        case "subscribe": {
          const r = { type: "subscribed", topic: f.topic, lastSeq: list.length };
          if (f.topic === "$sys/operators") Object.assign(r, this.operators);
          if (f.since !== undefined) {
            r.messages = list.filter((m) => m.seq > f.since);
            r.hasMore = false;
          }
          reply(r);
          break;
        }
        case "history": {
          const page = list.filter((m) => (f.after !== undefined ? m.seq > f.after : true));
          reply({ type: "history", topic: f.topic, messages: page.slice(0, f.limit || 50), hasMore: false });
          break;
        }
        case "send": {
          if (this.sendError) {
            reply({ type: "error", code: this.sendError, message: `refused: ${this.sendError}`, action: "send" });
            break;
          }
          const known = this.acks[f.clientMsgId];
          if (known) {
            reply({ type: "ack", ...known, duplicate: true });
            break;
          }
          const m = this.append(f.topic, f.text, "v_me");
          m.clientMsgId = f.clientMsgId;
          this.acks[f.clientMsgId] = { clientMsgId: f.clientMsgId, topic: f.topic, id: m.id, seq: m.seq, ts: m.ts };
          if (!this.dropAcks) reply({ type: "ack", ...this.acks[f.clientMsgId], duplicate: false });
          break;
        }
        case "echo":
          // answers after `delay` ms, to check that replies are matched by ref, not by order
          setTimeout(() => sock.deliver({ type: "echo", value: f.value, ref: f.ref }), f.delay || 0);
          break;
        default:
          reply({ type: "error", code: "unknown_action", message: f.action });
      }
    },
  };

  class FakeSocket {
    constructor(url, protocols = []) {
      this.url = url;
      this.protocols = [].concat(protocols);
      // the token, as the server's $connect reads it: a subprotocol or (old clients) the query
      const carried = this.protocols.find((p) => p.startsWith("hubbub.token."));
      this.token = carried?.slice("hubbub.token.".length) ?? new URL(url).searchParams.get("token");
      this.protocol = this.protocols.includes("hubbub.v1") ? "hubbub.v1" : "";
      this.readyState = 0;
      fake.sockets.push(this);
      const refused = fake.refuse || (fake.refuseTokens && Boolean(this.token));
      setTimeout(() => {
        if (this.readyState !== 0) return;
        if (refused) {
          this.readyState = 3;
          this.onclose?.({ code: 1006 });
        } else {
          this.readyState = 1;
          this.onopen?.({});
        }
      }, 5);
    }

    send(data) {
      if (this.readyState !== 1) throw new Error("not open");
      const frame = JSON.parse(data);
      fake.received.push(frame);
      fake.handle(this, frame);
    }

    deliver(frame) {
      if (this.readyState === 1) this.onmessage?.({ data: JSON.stringify(frame) });
    }

    close() {
      if (this.readyState >= 2) return;
      this.readyState = 3;
      setTimeout(() => this.onclose?.({ code: 1000 }), 0);
    }

    // the server side drops the connection
    kill() {
      if (this.readyState >= 2) return;
      this.readyState = 3;
      this.onclose?.({ code: 1006 });
    }
  }

  globalThis.fake = fake;
  globalThis.FakeSocket = FakeSocket;
  globalThis.until = async (probe, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!probe()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${probe}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
};
