"""Who may do what on which topic. One table, checked on every action (DESIGN §5).

Wildcards may not stand in the first level, so no filter can reach across topic classes; beyond
that a filter is allowed only when every topic it can match is readable by the user.

System topics carry only ephemeral events pushed by hubbub itself: nothing is ever stored there
(so no history and no read markers) and who listens is nobody's business (so no presence).
"""

from __future__ import annotations

from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.topics import OPERATORS_TOPIC, TopicClass, topic_class
from hubbub.store.port import Role, User

__all__ = ["check_read", "check_send", "check_subscribe"]


def check_subscribe(user: User, topic_filter: str) -> None:
    levels = topic_filter.split("/")
    if levels[0] in ("+", "#"):
        _forbid("a filter's first level must name a topic class")
    cls = topic_class(levels[0])
    rest = levels[1] if len(levels) > 1 else "#"
    if cls is TopicClass.ROOM:
        return
    if cls is TopicClass.DESK:
        if user.role is Role.OPERATOR or (rest == user.id and user.role is Role.VISITOR):
            return
        _forbid("a desk conversation is open to its visitor and the operators only")
    if cls is TopicClass.USER:
        if rest == user.id and user.role is not Role.GUEST:
            return
        _forbid("an inbox is open to its owner only")
    if cls is TopicClass.SYSTEM:
        # every page that shows "we are online" follows $sys/operators, guests' pages included
        if user.role is Role.OPERATOR or topic_filter == OPERATORS_TOPIC:
            return
        _forbid("system topics are for operators, but for $sys/operators")
    _forbid("unknown topic class")


def check_read(user: User, topic: str) -> None:
    """History, presence and read markers of a concrete topic follow the same rules as
    subscribing to it, except on system topics, which have none of them for anyone."""
    if topic_class(topic) is TopicClass.SYSTEM:
        _forbid("system topics have no history, presence or read markers")
    check_subscribe(user, topic)


def check_send(user: User, topic: str) -> None:
    if user.role is Role.GUEST or not user.nickname:
        _forbid("register with a nickname before sending")
    cls = topic_class(topic)
    owner = topic.split("/", 1)[1] if "/" in topic else ""
    if cls is TopicClass.ROOM:
        return
    if cls is TopicClass.DESK:
        if user.role is Role.OPERATOR or owner == user.id:
            return
        _forbid("a desk conversation is open to its visitor and the operators only")
    if cls is TopicClass.USER:
        return
    _forbid("nobody sends to system topics")


def _forbid(why: str) -> None:
    raise ProtocolError(ErrorCode.FORBIDDEN, why)
