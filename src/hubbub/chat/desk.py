"""The live-support desk: operators, desk conversations by recency, unread counts, read markers.

A conversation is the topic ``desk/{visitorId}``; its head lives in the ``desk`` recency index, so
the console's list is one Query by recency (never a map kept on one item), and unread counts come
from the asking operator's own read markers, fetched in one batch.
"""

from __future__ import annotations

import secrets
from typing import Any

from hubbub.chat.tokens import TokenIssuer
from hubbub.chat.views import message_view
from hubbub.ids import ConnectionId, Topic, TopicFilter, UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.topics import TopicClass, topic_class
from hubbub.store.records import Operator, Role, User
from hubbub.store.roles import Connections, Directory, ReadMarkers, Subscriptions

__all__ = ["DESK_INDEX", "ROOM_INDEX", "Desk", "recency_index"]

DESK_INDEX = "desk"
ROOM_INDEX = "room"


def recency_index(topic: Topic) -> str | None:
    cls = topic_class(topic)
    if cls is TopicClass.DESK:
        return DESK_INDEX
    if cls is TopicClass.ROOM:
        return ROOM_INDEX
    return None


class Desk:
    def __init__(
        self,
        tokens: TokenIssuer,
        *,
        directory: Directory,
        markers: ReadMarkers,
        connections: Connections,
        subscriptions: Subscriptions,
    ) -> None:
        self._tokens = tokens
        self._directory = directory
        self._markers = markers
        self._connections = connections
        self._subscriptions = subscriptions

    # operators --------------------------------------------------------------------------------
    def add_operator(self, name: str, now_ms: int) -> tuple[Operator, str]:
        name = name.strip()
        if not name or len(name) > 40:
            raise ProtocolError(ErrorCode.BAD_REQUEST, "an operator name has 1-40 characters")
        if any(op.name == name for op in self._directory.list_operators()):
            raise ProtocolError(ErrorCode.CONFLICT, f"operator {name!r} exists")
        operator = Operator(UserId(f"o_{secrets.token_hex(8)}"), name, now_ms)
        self._directory.put_operator(operator)
        return operator, self.operator_token(operator, now_ms)

    def operator_token(self, operator: Operator, now_ms: int) -> str:
        user = User(operator.id, Role.OPERATOR, operator.name)
        return self._tokens.issue(user, now_ms)

    def remove_operator(self, name_or_id: str) -> Operator | None:
        """The operator removed from the directory; None when there was none to remove."""
        for op in self._directory.list_operators():
            if name_or_id in (op.name, op.id):
                return op if self._directory.delete_operator(op.id) else None
        return None

    def check_operator(self, user: User) -> None:
        """Operator tokens are revoked by removing the operator: check on every connect."""
        if user.role is Role.OPERATOR and self._directory.get_operator(user.id) is None:
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "operator revoked")

    def operators_status(self, now_ms: int) -> dict[str, Any]:
        online = {c.user.id for c in self._connections.online_operators(now_ms)}
        last_seen = now_ms if online else self._directory.operator_last_seen()
        return {"operatorsOnline": len(online), "operatorLastSeen": last_seen}

    def operators_status_change(
        self, connection_id: ConnectionId, operator: User, *, opened: bool, now_ms: int
    ) -> dict[str, Any] | None:
        """The status once ``connection_id`` of ``operator`` has opened or closed, or None when
        the number of operators online stays as it was (the operator has another connection).

        The connection itself counts by ``opened``, and the operator's other connections by a
        consistent read of each: the role index is eventually consistent on DynamoDB, so it may
        not show yet a connection just written, or may still show one just deleted.
        """
        others = [c for c in self._connections.online_operators(now_ms) if c.id != connection_id]
        mine = [c for c in others if c.user.id == operator.id]
        if any(self._connections.get_connection(c.id) is not None for c in mine):
            return None
        online = {c.user.id for c in others if c.user.id != operator.id}
        if opened:
            online.add(operator.id)
        # someone is online now, or the last operator has just gone: either way, seen now
        return {"operatorsOnline": len(online), "operatorLastSeen": now_ms}

    # conversations ----------------------------------------------------------------------------
    def conversations(
        self, operator: User, before_ms: int | None, limit: int, now_ms: int
    ) -> dict[str, Any]:
        if operator.role is not Role.OPERATOR:
            raise ProtocolError(ErrorCode.FORBIDDEN, "conversations are for operators")
        heads = self._directory.recent_topics(DESK_INDEX, before_ms, limit + 1, now_ms)
        page, has_more = heads[:limit], len(heads) > limit
        markers = self._markers.read_markers(operator.id, [h.topic for h in page])
        items = []
        for head in page:
            visitor_id = UserId(head.topic.split("/", 1)[1])
            visitor = self._directory.get_visitor(visitor_id)
            items.append(
                {
                    "topic": head.topic,
                    "visitor": {
                        "id": visitor_id,
                        "nickname": visitor.nickname if visitor else head.title,
                        "email": visitor.email if visitor else None,
                    },
                    "lastMessage": None
                    if head.last_message is None
                    else message_view(head.last_message),
                    "unread": max(0, head.last_seq - markers.get(head.topic, 0)),
                    "lastSeq": head.last_seq,
                    "updatedAt": head.updated_at,
                    # the visitor follows their own desk topic while the widget is open: one
                    # Query here instead of a `presence` round trip per row from the console
                    "online": any(
                        sub.user.id == visitor_id
                        for sub in self._subscriptions.subscribers(TopicFilter(head.topic))
                    ),
                }
            )
        return {"type": "conversations", "items": items, "hasMore": has_more}

    def mark_read(self, user: User, topic: Topic, seq: int) -> int:
        return self._markers.set_read_marker(user.id, topic, seq)
