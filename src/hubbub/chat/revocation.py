"""Operator rights end when the operator is removed, on open connections too.

A connection stores the user it speaks for at ``$connect``; an operator removed afterwards would
keep their rights on it until it closed (up to two hours). So every action of an operator's
connection asks the directory whether the operator still exists, remembered for a few seconds
per execution environment (``OPERATOR_RECHECK_SECONDS``, default 5; 0 asks every time): an
operator's console is chatty and the answer is nearly always yes, while removal is rare. Within
that window after a removal an environment that has just checked may still let an action
through; past it, none does.

Removing an operator also closes their open connections (``remove_operator``), through
``@connections`` DELETE: locally the runtime's endpoint, on AWS the stack's. A connection that
could not be closed gets no desk conversation after the window either: the fan-out asks the same
question of every operator among a desk topic's subscribers (``FanOut.recipients_of``), since
frames posted to a connection keep it open (up to two hours) however silent it is.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from hubbub.chat.desk import Desk
from hubbub.ids import ConnectionId, UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.push.port import Hangup
from hubbub.store.records import Operator, Role, User
from hubbub.store.roles import Connections, Directory

__all__ = ["OperatorCheck", "Removal", "remove_operator"]


class OperatorCheck:
    def __init__(
        self, directory: Directory, recheck_ms: int, *, max_remembered: int = 1024
    ) -> None:
        self._directory = directory
        self._recheck_ms = recheck_ms
        self._confirmed: OrderedDict[UserId, int] = OrderedDict()
        self._max_remembered = max_remembered

    def require(self, user: User, now_ms: int) -> None:
        """Raises ``unauthorized`` when ``user`` is an operator no longer in the directory."""
        if not self.allows(user, now_ms):
            raise ProtocolError(ErrorCode.UNAUTHORIZED, "operator removed; sign in again")

    def allows(self, user: User, now_ms: int) -> bool:
        """False when ``user`` is an operator no longer in the directory (anyone else: True)."""
        if user.role is not Role.OPERATOR:
            return True
        confirmed = self._confirmed.get(user.id)
        if confirmed is not None and 0 <= now_ms - confirmed < self._recheck_ms:
            return True
        if self._directory.get_operator(user.id) is None:
            self._confirmed.pop(user.id, None)
            return False
        self._confirmed[user.id] = now_ms
        self._confirmed.move_to_end(user.id)
        if len(self._confirmed) > self._max_remembered:
            self._confirmed.popitem(last=False)
        return True


@dataclass(slots=True)
class Removal:
    operator: Operator
    closed: list[ConnectionId] = field(default_factory=list)
    """Connections that were open and are closed now."""
    not_closed: list[ConnectionId] = field(default_factory=list)
    """Connections that could not be closed (no endpoint, or it failed): each is refused on its
    next action, and forgotten then."""


def remove_operator(
    desk: Desk,
    connections: Connections,
    hangup: Hangup | None,
    name_or_id: str,
    now_ms: int,
) -> Removal | None:
    """Remove the operator (None when there is none by that name or id), then close their open
    connections. Their ``$disconnect`` forgets each one as any close does; connections the
    gateway no longer knows are forgotten here."""
    operator = desk.remove_operator(name_or_id)
    if operator is None:
        return None
    removal = Removal(operator)
    theirs = [c.id for c in connections.online_operators(now_ms) if c.user.id == operator.id]
    if not theirs:
        return removal
    if hangup is None:
        removal.not_closed = theirs
        return removal
    outcome = hangup.disconnect(theirs)
    for connection_id in outcome.gone:
        connections.delete_connection(connection_id)
    removal.not_closed = [c for c in theirs if c in outcome.failed]
    removal.closed = [c for c in theirs if c not in outcome.failed and c not in outcome.gone]
    return removal
