"""The chat service: one method per client action, plus the connection lifecycle and fan-out.

Handlers call ``handle(connection_id, action)`` and send back what it returns; everything that
touches the outside world goes through the Store, Push and Clock ports given to the constructor.
"""

from __future__ import annotations

import secrets
from typing import Any

from hubbub.chat import policy
from hubbub.chat.fanout import FanOut, FanOutReport
from hubbub.chat.settings import ChatSettings
from hubbub.chat.tokens import TokenIssuer
from hubbub.chat.views import message_view
from hubbub.clock import Clock
from hubbub.ids import ClientMsgId, ConnectionId, MessageId, UserId
from hubbub.protocol import actions as a
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.topics import parse_filter, parse_topic
from hubbub.push.port import Push
from hubbub.store.port import AppendRequest, Connection, Message, Role, Store, Subscription, User

__all__ = ["Chat"]

Event = dict[str, Any]


def guest_for(connection_id: ConnectionId) -> User:
    return User(UserId(f"g_{connection_id}"), Role.GUEST, None)


class Chat:
    def __init__(
        self,
        store: Store,
        push: Push,
        clock: Clock,
        tokens: TokenIssuer,
        settings: ChatSettings | None = None,
    ) -> None:
        self.store = store
        self.push = push
        self.clock = clock
        self.tokens = tokens
        self.settings = settings or ChatSettings()
        self.limits = self.settings.limits
        self._fanout = FanOut(store, push)

    # lifecycle --------------------------------------------------------------------------------
    def authenticate(self, token: str | None) -> User | None:
        """The user a token names; None for a guest (no token). Raises ``unauthorized``."""
        if token is None:
            return None
        return self.tokens.verify(token, self.clock.now_ms())

    def connect(self, connection_id: ConnectionId, user: User | None) -> User:
        now = self.clock.now_ms()
        who = user or guest_for(connection_id)
        self.store.put_connection(
            Connection(
                id=connection_id,
                user=who,
                connected_at=now,
                expires_at=now // 1000 + self.settings.connection_ttl_s,
            )
        )
        return who

    def disconnect(self, connection_id: ConnectionId) -> None:
        self.store.delete_connection(connection_id)

    def forget(self, connection_ids: set[ConnectionId]) -> None:
        """Connections the gateway reported gone (410): they will never come back."""
        for cid in connection_ids:
            self.store.delete_connection(cid)

    # actions ----------------------------------------------------------------------------------
    def handle(self, connection_id: ConnectionId, action: a.Action) -> Event | None:
        connection = self.store.get_connection(connection_id)
        if connection is None:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "unknown connection; reconnect")
        user = connection.user
        reply: Event | None
        match action:
            case a.Hello():
                reply = self._hello(connection)
            case a.Ping():
                reply = {"type": "pong", "ts": self.clock.now_ms()}
            case a.Register():
                reply = self._register(connection, action)
            case a.Subscribe():
                reply = self._subscribe(connection, action)
            case a.Unsubscribe():
                reply = self._unsubscribe(connection, action)
            case a.Send():
                reply = self._send(user, action)
            case a.History():
                reply = self._history(user, action)
            case _:
                raise ProtocolError(
                    ErrorCode.UNKNOWN_ACTION, f"action {action.action!r} is not available"
                )
        if reply is not None and action.ref is not None:
            reply["ref"] = action.ref
        return reply

    def _hello(self, connection: Connection) -> Event:
        return {
            "type": "hello",
            "connectionId": connection.id,
            "user": connection.user.public(),
            "limits": self.limits.public(),
        }

    def _register(self, connection: Connection, action: a.Register) -> Event:
        nickname = action.nickname.strip()
        if not nickname:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "nickname: must not be blank")
        current = connection.user
        if current.role is Role.GUEST:
            user = User(UserId(f"v_{secrets.token_hex(8)}"), Role.VISITOR, nickname)
        else:
            user = User(current.id, current.role, nickname)
        self.store.set_connection_user(connection.id, user)
        token = self.tokens.issue(user, self.clock.now_ms())
        return {"type": "welcome", "user": user.public(), "token": token}

    def _subscribe(self, connection: Connection, action: a.Subscribe) -> Event:
        topic_filter = parse_filter(action.topic, self.limits)
        policy.check_subscribe(connection.user, topic_filter)
        current = self.store.filters_of(connection.id)
        if len(current) >= self.limits.max_subscriptions and topic_filter not in current:
            raise ProtocolError(
                ErrorCode.CONFLICT,
                f"at most {self.limits.max_subscriptions} subscriptions per connection",
            )
        now = self.clock.now_ms()
        self.store.subscribe(
            Subscription(connection.id, topic_filter, connection.user),
            now,
            connection.expires_at,
        )
        reply: Event = {"type": "subscribed", "topic": topic_filter}
        if "+" in topic_filter or "#" in topic_filter:
            return reply
        topic = parse_topic(topic_filter, self.limits)
        reply["lastSeq"] = self.store.last_seq(topic)
        if action.since is not None:
            page = self.store.read_after(topic, action.since, self.limits.resume_max_messages, now)
            views, clipped = self._fit([message_view(m) for m in page.messages])
            reply["messages"] = views
            reply["hasMore"] = page.has_more or clipped
        return reply

    def _unsubscribe(self, connection: Connection, action: a.Unsubscribe) -> Event:
        topic_filter = parse_filter(action.topic, self.limits)
        removed = self.store.unsubscribe(connection.id, topic_filter)
        return {"type": "unsubscribed", "topic": topic_filter, "removed": removed}

    def _send(self, user: User, action: a.Send) -> Event:
        topic = parse_topic(action.topic, self.limits)
        policy.check_send(user, topic)
        now = self.clock.now_ms()
        result = self.store.append(
            AppendRequest(
                topic=topic,
                sender=user.id,
                nickname=user.nickname,
                text=action.text,
                client_msg_id=ClientMsgId(action.client_msg_id),
                message_id=MessageId(f"m_{secrets.token_hex(10)}"),
                now_ms=now,
                expires_at=now // 1000 + self.settings.retention_s(topic),
                dedupe_expires_at=now // 1000 + self.settings.dedupe_retention_s,
            )
        )
        message = result.message
        return {
            "type": "ack",
            "clientMsgId": message.client_msg_id,
            "topic": message.topic,
            "id": message.id,
            "seq": message.seq,
            "ts": message.ts,
            "duplicate": result.duplicate,
        }

    def _history(self, user: User, action: a.History) -> Event:
        topic = parse_topic(action.topic, self.limits)
        policy.check_read(user, topic)
        if action.before is not None and action.after is not None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "give 'before' or 'after', not both")
        limit = action.limit or 50
        now = self.clock.now_ms()
        if action.after is not None:
            page = self.store.read_after(topic, action.after, limit, now)
        else:
            page = self.store.read_before(topic, action.before, limit, now)
        views, clipped = self._fit([message_view(m) for m in page.messages], newest=True)
        return {
            "type": "history",
            "topic": topic,
            "messages": views,
            "hasMore": page.has_more or clipped,
        }

    def _fit(
        self, views: list[dict[str, Any]], *, newest: bool = False
    ) -> tuple[list[dict[str, Any]], bool]:
        """Keep a reply under the frame budget: drop the far end of the page and say so."""
        budget = self.limits.reply_budget_bytes
        sizes = [len(v["text"].encode()) + 256 for v in views]
        if sum(sizes) <= budget:
            return views, False
        order = range(len(views) - 1, -1, -1) if newest else range(len(views))
        kept: list[int] = []
        total = 0
        for index in order:
            total += sizes[index]
            if total > budget:
                break
            kept.append(index)
        kept.sort()
        return [views[i] for i in kept], True

    # fan-out ----------------------------------------------------------------------------------
    def deliver(self, message: Message) -> FanOutReport:
        """Push one stored message to its subscribers and forget the connections found gone."""
        report = self._fanout.deliver(message, self.store.wildcard_filters())
        if report.gone:
            self.forget(report.gone)
        return report

    def decode_change(self, image: dict[str, Any]) -> Message | None:
        return self.store.decode_change(image)
