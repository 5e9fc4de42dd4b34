"""The chat service: one method per client action, plus the connection lifecycle and fan-out.

Handlers call ``handle(connection_id, action)`` and send back what it returns; everything that
touches the outside world goes through the Store, Push and Clock ports given to the constructor.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hubbub.chat import policy
from hubbub.chat.attachments import Attachments
from hubbub.chat.budget import fit
from hubbub.chat.chunking import ChunkPolicy
from hubbub.chat.desk import Desk, recency_index
from hubbub.chat.editing import Editing
from hubbub.chat.fanout import BatchReport, Change, FanOut, FanOutReport
from hubbub.chat.keepalive import ping_interval_ms
from hubbub.chat.markers import ReadMarkers
from hubbub.chat.moderation import Moderation
from hubbub.chat.mqtt_members import MqttMembers, parse_lifecycle
from hubbub.chat.presence import Presence, PresenceScale, is_large, makes_present
from hubbub.chat.ratelimit import Limited, Throttle
from hubbub.chat.revocation import OperatorCheck
from hubbub.chat.settings import ChatSettings
from hubbub.chat.subscribing import Subscribing
from hubbub.chat.tokens import TokenIssuer
from hubbub.chat.views import message_view
from hubbub.clock import Clock
from hubbub.files.port import Files, NoFiles
from hubbub.ids import ClientMsgId, ConnectionId, MessageId, Topic, UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.topics import (
    OPERATORS_TOPIC,
    TopicClass,
    parse_topic,
    topic_class,
)
from hubbub.push.port import (
    Broadcast,
    ChunkQueue,
    FramesOutcome,
    MqttHangup,
    NoBroadcast,
    Push,
    PushOutcome,
)
from hubbub.store.port import (
    AppendRequest,
    AppendResult,
    Connection,
    Message,
    Rate,
    Role,
    Store,
    StoreUnavailable,
    TokensRefused,
    User,
    Visitor,
)

if TYPE_CHECKING:
    from hubbub.protocol import actions as a

__all__ = ["Chat"]

log = logging.getLogger(__name__)

Event = dict[str, Any]


def guest_for(connection_id: ConnectionId) -> User:
    """Guests get an id of their own that is a valid topic level (a connection id may not be)."""
    digest = hashlib.sha256(connection_id.encode()).hexdigest()[:16]
    return User(UserId(f"g_{digest}"), Role.GUEST, None)


class Chat:
    """The whole chat over the whole Store: it hands each service below only the roles of the
    store that service uses (the fan-out and presence ``Subscriptions``, the desk its four), and
    keeps the union for the actions it runs itself."""

    def __init__(
        self,
        store: Store,
        push: Push,
        clock: Clock,
        tokens: TokenIssuer,
        settings: ChatSettings | None = None,
        broadcast: Broadcast | None = None,
        files: Files | None = None,
        chunks: ChunkQueue | None = None,
        mqtt_hangup: MqttHangup | None = None,
    ) -> None:
        self.store = store
        self.push = push
        self.broadcast = broadcast or NoBroadcast()  # the MQTT broker, when the stack has one
        self.clock = clock
        self.tokens = tokens
        self.settings = settings or ChatSettings()
        self.limits = self.settings.limits
        self.attachments = Attachments(store, files or NoFiles(), clock, self.settings)
        chunking = ChunkPolicy(
            self.settings.chunk_threshold, self.settings.chunk_size, self.settings.chunk_groups
        )
        self._operators = OperatorCheck(store, round(self.settings.operator_recheck_s * 1000))
        self._fanout = FanOut(
            store,
            push,
            self.broadcast,
            chunks=chunks,
            policy=chunking,
            show=self.attachments.view,
            sanctions=store,
            clock=self.clock,
            operators=self._operators,
        )
        scale = PresenceScale(
            threshold=self.settings.presence_threshold,
            every_ms=round(self.settings.presence_summary_every_s * 1000),
        )
        self.presence = Presence(store, store, push, self._fanout, scale)
        self.desk = Desk(
            tokens, directory=store, markers=store, connections=store, subscriptions=store
        )
        self.editing = Editing(store, clock, self.limits)
        self.markers = ReadMarkers(self.desk, store, self._fanout, push, self.limits)
        self.moderation = Moderation(
            sanctions=store,
            subscriptions=store,
            directory=store,
            presence=self.presence,
            push=push,
            clock=clock,
            connections=store,
            mqtt_hangup=mqtt_hangup,
        )
        self.subscribing = Subscribing(
            store,
            clock,
            self.settings,
            self.presence,
            self.moderation,
            self.desk,
            show=self.attachments.view,
        )
        self.throttle = Throttle(store, _rates(self.settings))
        self.mqtt_members = MqttMembers(
            store,
            self.presence,
            self.moderation,
            self.limits,
            clock,
            self._operators_changed,
            self.throttle,
        )

    # lifecycle --------------------------------------------------------------------------------
    def authenticate(self, token: str | None) -> User | None:
        """The user a token names; None for a guest (no token). Raises ``unauthorized``."""
        if token is None:
            return None
        user = self.tokens.verify(token, self.clock.now_ms())
        self.desk.check_operator(user)
        return user

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
        if who.role is Role.OPERATOR:
            self.store.set_operator_last_seen(now)
            # Recipients found gone here are left for the fan-out or their $disconnect to forget:
            # $connect writes nothing but its own connection (and may delete nothing).
            self._operators_changed(connection_id, who, opened=True, now_ms=now)
        return who

    def disconnect(self, connection_id: ConnectionId) -> None:
        self._drop(connection_id)

    def forget(self, connection_ids: set[ConnectionId]) -> None:
        """Connections the gateway reported gone (410): they will never come back."""
        for cid in connection_ids:
            self._drop(cid)

    def _drop(self, connection_id: ConnectionId) -> None:
        connection = self.store.get_connection(connection_id)
        removed = self.store.delete_connection(connection_id)
        outcome = PushOutcome()
        if connection is not None and connection.user.role is Role.OPERATOR:
            now = self.clock.now_ms()
            self.store.set_operator_last_seen(now)
            outcome = self._operators_changed(
                connection_id, connection.user, opened=False, now_ms=now
            )
        outcome.merge(self.presence.departed(removed, self.clock.now_ms()))
        for cid in outcome.gone - {connection_id}:
            self._drop(cid)

    def mqtt_lifecycle(self, event: Event) -> None:
        """One IoT Core lifecycle event: an MQTT client's presence (``chat/mqtt_members.py``)."""
        outcome = self.mqtt_members.apply(parse_lifecycle(event))
        self.forget(outcome.gone)

    def _operators_changed(
        self, connection_id: ConnectionId, operator: User, *, opened: bool, now_ms: int
    ) -> PushOutcome:
        """Widgets show "we are online" from ``$sys/operators`` instead of polling ``hello``, so
        the function that sees an operator's first connection open, or their last one close, says
        so there. Best effort: the connection itself is already written (or deleted), so a store
        that fails here must not refuse the operator's handshake or fail their ``$disconnect``;
        followers catch up at their next subscribe or ``hello``."""
        try:
            status = self.desk.operators_status_change(
                connection_id, operator, opened=opened, now_ms=now_ms
            )
        except StoreUnavailable as exc:
            log.warning("operator status not announced: %s", exc)
            return PushOutcome()
        if status is None:
            return PushOutcome()
        return self.presence.publish(OPERATORS_TOPIC, {"type": "operators", **status})

    # actions ----------------------------------------------------------------------------------
    def handle(
        self, connection_id: ConnectionId, action: a.Action, *, source_ip: str | None = None
    ) -> Event | None:
        """``source_ip`` (the event's ``identity.sourceIp``) keys a guest's registrations."""
        # here, not at the top: Connect, Disconnect and FanOut never decode a frame, and
        # pydantic is most of their cold start (docs/benchmarks.md)
        from hubbub.protocol import actions as a

        connection = self._acting(connection_id)
        user = connection.user
        reply: Event | None
        match action:
            case a.Hello():
                reply = self._hello(connection)
            case a.Ping():
                reply = {"type": "pong", "ts": self.clock.now_ms()}
            case a.Register():
                reply = self._register(connection, action, source_ip)
            case a.Subscribe():
                reply = self.subscribing.subscribe(connection, action)
            case a.Unsubscribe():
                reply = self.subscribing.unsubscribe(connection, action)
            case a.Send():
                sent = self.send(
                    user, action.topic, action.text, action.client_msg_id, action.attachments
                )
                reply = self._send_reply(sent)
            case a.History():
                reply = self._history(user, action)
            case a.Presence():
                reply = self._presence(user, action)
            case a.Typing():
                reply = self._typing_event(connection, action)
            case a.Read():
                reply = self.markers.read(connection, action)
            case a.Conversations():
                limit = action.limit or 20
                reply = self.desk.conversations(user, action.before, limit, self.clock.now_ms())
            case a.Refresh():
                reply = self._refresh(user)
            case a.Edit():
                reply = self.edit(user, action.topic, action.id, action.text)
            case a.Delete():
                reply = self.delete(user, action.topic, action.id)
            case a.Moderate():
                topic = self.topic(action.topic)
                target = UserId(action.user_id)
                reply = self.moderation.moderate(
                    user, topic, target, action.sanction, action.seconds
                )
            case a.Sanctions():
                listed = None if action.topic is None else self.topic(action.topic)
                reply = self.moderation.list(user, listed)
        if reply is not None and action.ref is not None:
            reply["ref"] = action.ref
        return reply

    def _acting(self, connection_id: ConnectionId) -> Connection:
        """The connection an action comes from, with its rights re-checked: a removed
        operator's connection is forgotten (its subscriptions stop receiving) and refused."""
        connection = self.store.get_connection(connection_id)
        if connection is None:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "unknown connection; reconnect")
        try:
            self._operators.require(connection.user, self.clock.now_ms())
        except ProtocolError:
            self._drop(connection_id)
            raise
        return connection

    def _hello(self, connection: Connection) -> Event:
        return {
            "type": "hello",
            "connectionId": connection.id,
            "user": connection.user.public(),
            **self.desk.operators_status(self.clock.now_ms()),
            "limits": {
                **self.limits.public(),
                "pingIntervalMs": ping_interval_ms(self.settings.idle_timeout_s),
            },
        }

    def _register(self, connection: Connection, action: a.Register, source_ip: str | None) -> Event:
        nickname = action.nickname.strip()
        if not nickname:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "nickname: must not be blank")
        now = self.clock.now_ms()
        current = connection.user
        if current.role is Role.GUEST:
            # new identities per source address; without one (a direct caller), per connection
            where = f"ip:{source_ip}" if source_ip else f"conn:{connection.id}"
            self.throttle.take(Limited.GUEST_REGISTER, where, now, "registering too often")
        else:
            self.throttle.take(Limited.RENAME, current.id, now, "renaming too often")
        if current.role is Role.GUEST:
            user = User(UserId(f"v_{secrets.token_hex(8)}"), Role.VISITOR, nickname)
        else:
            user = User(current.id, current.role, nickname)
        if user.role is Role.VISITOR:
            known = self.store.get_visitor(user.id)
            email = action.email if action.email is not None else (known.email if known else None)
            created = known.created_at if known else now
            self.store.put_visitor(Visitor(user.id, nickname, email, created))
        self.store.set_connection_user(connection.id, user)
        if user != current:
            self._reannounce(connection.id, current, user)
        return {"type": "welcome", "user": user.public(), "token": self.tokens.issue(user, now)}

    def _refresh(self, user: User) -> Event:
        """A fresh token for the connection's user (a removed operator gets none)."""
        if user.role is Role.GUEST:
            raise ProtocolError(ErrorCode.FORBIDDEN, "guests have no token: register first")
        self.desk.check_operator(user)
        now = self.clock.now_ms()
        token = self.tokens.issue(user, now)
        return {"type": "token", "token": token, "expiresAt": self.tokens.expires_at_ms(user, now)}

    def _reannounce(self, connection_id: ConnectionId, before: User, after: User) -> None:
        """The connection's rooms learn its new name: ``left`` as before, ``joined`` as after."""
        for topic_filter in self.store.filters_of(connection_id):
            if not makes_present(topic_filter):
                continue
            topic = Topic(topic_filter)
            if self.presence.large_with(topic, 0):
                continue  # a large room shows a count, which a new name does not change
            if before.id != after.id and not self.presence.is_present(
                topic, before, besides=connection_id
            ):
                self.presence.announce("left", topic, before, exclude=connection_id)
            if before.id == after.id or not self.presence.is_present(
                topic, after, besides=connection_id
            ):
                self.presence.announce("joined", topic, after, exclude=connection_id)

    def upload(
        self, user: User, raw_topic: str, filename: str, content_type: str, size: int
    ) -> Event:
        """A presigned upload of one attachment, for someone who may send on the topic (the
        same checks as a send, and the same allowance: a file is a message's worth)."""
        topic = parse_topic(raw_topic, self.limits)
        policy.check_send(user, topic)
        self.moderation.check(user, topic, sending=True)
        self.throttle.take(Limited.SEND, user.id, self.clock.now_ms(), "uploading too fast")
        return self.attachments.prepare(user, topic, filename, content_type, size)

    def send(
        self,
        user: User,
        raw_topic: str,
        text: str,
        client_msg_id: str,
        attachment_ids: list[str] | None = None,
    ) -> AppendResult:
        """Store one message (idempotently); the stream delivers it. Also the REST path. With
        attachments (upload ids), the text may be empty. The send's rate-limit tokens go with
        the append (one commit on SQLite, where they were two); a send a check refuses before
        that is charged on its own, as every send was."""
        topic = parse_topic(raw_topic, self.limits)
        policy.check_send(user, topic)
        self.moderation.check(user, topic, sending=True)
        if not text.strip() and not attachment_ids:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "text: must not be blank")
        if len(text) > self.limits.max_text_chars:
            raise ProtocolError(ErrorCode.TOO_LARGE, "text is too long")
        now = self.clock.now_ms()
        why = "sending too fast"
        takes = self.throttle.send_takes(user.id, topic, now, why)
        try:
            if topic_class(topic) is TopicClass.USER:
                self._require_recipient(topic)
            attachments = self.attachments.resolve(user, topic, attachment_ids or [])
        except ProtocolError:  # charged all the same: no probing for users or uploads unthrottled
            self.throttle.take_send(user.id, topic, now, why)
            raise
        is_desk = topic_class(topic) is TopicClass.DESK
        request = AppendRequest(
            topic=topic,
            sender=user.id,
            nickname=user.nickname,
            role=user.role,
            text=text,
            client_msg_id=ClientMsgId(client_msg_id),
            message_id=MessageId(f"m_{secrets.token_hex(10)}"),
            now_ms=now,
            expires_at=now // 1000 + self.settings.retention_s(topic),
            dedupe_expires_at=now // 1000 + self.settings.dedupe_retention_s,
            recency_index=recency_index(topic),
            title=user.nickname if is_desk and user.role is Role.VISITOR else None,
            attachments=attachments,
            # your own message is read by you: it never counts as unread for its sender
            mark_read=True,
            takes=takes,
        )
        try:
            return self.store.append(request)
        except TokensRefused as refused:
            raise self.throttle.send_refused(user.id, topic, now, why, refused) from None

    def _require_recipient(self, topic: Topic) -> None:
        """A direct message goes to someone who exists: a visitor or an operator. Inboxes of
        made-up users would be stored for 30 days and read by nobody."""
        recipient = UserId(topic.split("/")[1])
        if recipient.startswith("o_"):
            found = self.store.get_operator(recipient) is not None
        else:
            found = self.store.get_visitor(recipient) is not None
        if not found:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no user {recipient!r}")

    @staticmethod
    def _send_reply(result: AppendResult) -> Event:
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

    def edit(self, user: User, raw_topic: str, message_id: str, text: str) -> Event:
        """The author's new text (``edited``); the stream pushes it. Also the REST path."""
        topic = parse_topic(raw_topic, self.limits)
        policy.check_send(user, topic)
        self.moderation.check(user, topic, sending=True)
        # an edit pushes to the whole topic as a send does, so it spends the same allowance
        self.throttle.take(Limited.SEND, user.id, self.clock.now_ms(), "editing too fast")
        return self.editing.edit(user, topic, message_id, text)

    def delete(self, user: User, raw_topic: str, message_id: str) -> Event:
        """A tombstone in the message's place (``deleted``); the stream pushes it. Also REST."""
        topic = parse_topic(raw_topic, self.limits)
        return self.editing.delete(user, topic, message_id, deleted=self.attachments.discard)

    def history(
        self, user: User, raw_topic: str, before: int | None, after: int | None, limit: int
    ) -> Event:
        topic = parse_topic(raw_topic, self.limits)
        policy.check_read(user, topic)
        self.moderation.check(user, topic, sending=False)
        if before is not None and after is not None:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "give 'before' or 'after', not both")
        now = self.clock.now_ms()
        if after is not None:
            page = self.store.read_after(topic, after, limit, now)
        else:
            page = self.store.read_before(topic, before, limit, now)
        views, clipped = fit(
            [message_view(m, self.attachments.view) for m in page.messages],
            self.limits.reply_budget_bytes,
            newest=after is None,
        )
        return {
            "type": "history",
            "topic": topic,
            "messages": views,
            "hasMore": page.has_more or clipped,
        }

    def _history(self, user: User, action: a.History) -> Event:
        return self.history(user, action.topic, action.before, action.after, action.limit or 50)

    def _presence(self, user: User, action: a.Presence) -> Event:
        """A small room answers with everyone, as it always has; a large one (or a request that
        asks for pages) with its count and one bounded page of members."""
        topic = parse_topic(action.topic, self.limits)
        policy.check_read(user, topic)
        count = self.presence.count(topic)
        large = is_large(count, self.presence.scale.threshold)
        if not large and action.limit is None and action.after is None:
            return {"type": "presence", "topic": topic, "members": self.presence.members(topic)}
        page_max = self.limits.presence_page_max
        limit = min(action.limit or page_max, page_max)
        members, cursor = self.presence.page(topic, action.after, limit)
        reply: Event = {
            "type": "presence",
            "topic": topic,
            "count": count,
            "large": large,
            "members": members,
            "hasMore": cursor is not None,
        }
        if cursor is not None:
            reply["next"] = cursor
        return reply

    def _typing_event(self, connection: Connection, action: a.Typing) -> Event | None:
        topic = parse_topic(action.topic, self.limits)
        policy.check_send(connection.user, topic)
        self.throttle.take(
            Limited.TYPING, connection.user.id, self.clock.now_ms(), "typing too often"
        )
        self.moderation.check(connection.user, topic, sending=True)
        self.presence.typing(topic, connection.user, exclude=connection.id)
        if action.ref is None:
            return None
        # a frame that carries a ref always gets a direct reply, so a client can tell it went out
        return {"type": "typing", "topic": topic, "user": connection.user.public()}

    # fan-out ----------------------------------------------------------------------------------
    def deliver(self, message: Message, *, inserted: bool = True) -> FanOutReport:
        """Push one stored message (or its edit or delete, when not ``inserted``) to its
        subscribers and forget the connections found gone."""
        report = self._fanout.deliver(message, inserted=inserted)
        self.forget(report.gone)
        return report

    def deliver_batch(self, changes: Sequence[Change | None]) -> BatchReport:
        """A stream batch at once (``FanOut.deliver_batch``); forget the connections found gone."""
        report = self._fanout.deliver_batch(changes)
        self.forget(report.gone)
        return report

    def publish_batch(self, changes: Sequence[Change | None]) -> BatchReport:
        """A stream batch to the MQTT broker (``FanOut.publish_batch``): the relay's part."""
        return self._fanout.publish_batch(changes)

    def push_chunk(self, body: str) -> FramesOutcome:
        """Deliver one chunk of a large topic's fan-out (the push function); forget the gone."""
        outcome = self._fanout.push_chunk(body)
        self.forget(outcome.gone)
        return outcome

    def decode_change(self, image: dict[str, Any]) -> Message | None:
        return self.store.decode_change(image)

    def topic(self, raw: str) -> Topic:
        return parse_topic(raw, self.limits)


def _rates(settings: ChatSettings) -> dict[Limited, Rate]:
    return {
        Limited.SEND: Rate(settings.send_per_s, settings.send_burst),
        Limited.TYPING: Rate(settings.typing_per_s, settings.typing_burst),
        Limited.RENAME: Rate(settings.rename_per_s, settings.rename_burst),
        Limited.GUEST_REGISTER: Rate(settings.guest_register_per_s, settings.guest_register_burst),
        Limited.TOPIC_SEND: Rate(settings.topic_send_per_s, settings.topic_send_burst),
    }
