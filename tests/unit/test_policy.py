"""The authorization matrix of ``hubbub.chat.policy``: who may subscribe, read and send where."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from hubbub.chat.policy import check_read, check_send, check_subscribe
from hubbub.ids import UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.store.port import Role, User

GUEST = User(UserId("g_conn1"), Role.GUEST, None)
VISITOR = User(UserId("v_1"), Role.VISITOR, "Vera")
OTHER = User(UserId("v_2"), Role.VISITOR, "Walt")
NAMELESS = User(UserId("v_3"), Role.VISITOR, None)
OPERATOR = User(UserId("o_1"), Role.OPERATOR, "Olga")

USERS = {"guest": GUEST, "visitor": VISITOR, "other": OTHER, "nameless": NAMELESS, "op": OPERATOR}
CHECKS: dict[str, Callable[[User, str], None]] = {
    "subscribe": check_subscribe,
    "read": check_read,
    "send": check_send,
}

Y, N = True, False

# check, topic or filter, and the verdict for: guest, visitor (v_1), other visitor (v_2), operator.
# "visitor" owns desk/v_1 and user/v_1; "other" does not.
MATRIX: list[tuple[str, str, bool, bool, bool, bool]] = [
    # check        topic                 guest visitor other operator
    ("subscribe", "room/lobby",          Y,    Y,      Y,    Y),
    ("subscribe", "room/+",              Y,    Y,      Y,    Y),
    ("subscribe", "room/#",              Y,    Y,      Y,    Y),
    ("subscribe", "desk/v_1",            N,    Y,      N,    Y),
    ("subscribe", "desk/v_1/#",          N,    Y,      N,    Y),
    ("subscribe", "desk/+",              N,    N,      N,    Y),
    ("subscribe", "desk/#",              N,    N,      N,    Y),
    ("subscribe", "desk",                N,    N,      N,    Y),
    ("subscribe", "user/v_1",            N,    Y,      N,    N),
    ("subscribe", "user/o_1",            N,    N,      N,    Y),
    ("subscribe", "user/g_conn1",        N,    N,      N,    N),
    ("subscribe", "user/+",              N,    N,      N,    N),
    ("subscribe", "user/#",              N,    N,      N,    N),
    ("subscribe", "$sys/presence",       N,    N,      N,    Y),
    ("subscribe", "$sys/#",              N,    N,      N,    Y),
    ("subscribe", "$sys/operators",      Y,    Y,      Y,    Y),
    ("subscribe", "$sys/+",              N,    N,      N,    Y),
    ("subscribe", "$sys/operators/#",    N,    N,      N,    Y),
    ("subscribe", "+/lobby",             N,    N,      N,    N),
    ("subscribe", "+/+",                 N,    N,      N,    N),
    ("subscribe", "#",                   N,    N,      N,    N),
    ("subscribe", "+",                   N,    N,      N,    N),
    ("subscribe", "chat/lobby",          N,    N,      N,    N),
    ("read",      "room/lobby",          Y,    Y,      Y,    Y),
    ("read",      "desk/v_1",            N,    Y,      N,    Y),
    ("read",      "desk/v_2",            N,    N,      Y,    Y),
    ("read",      "user/v_1",            N,    Y,      N,    N),
    ("read",      "user/v_2",            N,    N,      Y,    N),
    ("read",      "$sys/presence",       N,    N,      N,    N),
    ("read",      "$sys/operators",      N,    N,      N,    N),
    ("read",      "chat/lobby",          N,    N,      N,    N),
    ("send",      "room/lobby",          N,    Y,      Y,    Y),
    ("send",      "desk/v_1",            N,    Y,      N,    Y),
    ("send",      "desk/v_2",            N,    N,      Y,    Y),
    ("send",      "user/v_1",            N,    Y,      Y,    Y),
    ("send",      "user/o_1",            N,    Y,      Y,    Y),
    ("send",      "$sys/presence",       N,    N,      N,    N),
    ("send",      "$sys/operators",      N,    N,      N,    N),
    ("send",      "chat/lobby",          N,    N,      N,    N),
]  # fmt: skip


def _cases() -> list[object]:
    cases: list[object] = []
    for check, topic, *verdicts in MATRIX:
        for role, allowed in zip(("guest", "visitor", "other", "op"), verdicts, strict=True):
            verdict = "allow" if allowed else "forbid"
            cases.append(
                pytest.param(check, role, topic, allowed, id=f"{check}-{topic}-{role}-{verdict}")
            )
    # sending needs a nickname: a visitor without one may read but not send
    cases.append(pytest.param("send", "nameless", "room/lobby", False, id="send-nameless-forbid"))
    cases.append(pytest.param("send", "nameless", "desk/v_3", False, id="send-own-desk-nameless"))
    cases.append(pytest.param("read", "nameless", "desk/v_3", True, id="read-own-desk-nameless"))
    return cases


@pytest.mark.parametrize(("check", "role", "topic", "allowed"), _cases())
def test_authorization_matrix(check: str, role: str, topic: str, allowed: bool) -> None:
    """Each check allows exactly the users the topic table of protocol.md allows; everyone else
    is refused with forbidden."""
    user = USERS[role]
    if allowed:
        CHECKS[check](user, topic)
        return
    with pytest.raises(ProtocolError) as caught:
        CHECKS[check](user, topic)
    assert caught.value.code is ErrorCode.FORBIDDEN


def test_the_matrix_covers_every_check_and_topic_class() -> None:
    """The table above exercises every check against rooms, desks, inboxes, $sys and wildcards."""
    checks = {row[0] for row in MATRIX}
    heads = {row[1].split("/", 1)[0] for row in MATRIX}
    assert checks == set(CHECKS)
    assert {"room", "desk", "user", "$sys", "+", "#"} <= heads
