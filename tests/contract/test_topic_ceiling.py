"""A hot room's write ceiling on every store adapter (issue 18, item 3).

Every send to a topic conditionally updates the topic's head item, so one room can take only so
many sends a second however many users share it (docs/deploy.md, "Hot rooms"). Past the
``TOPIC_SEND`` bucket's burst a send is refused with ``rate_limited`` before it reaches the head;
these tests flood one topic from several execution environments at once (each a ``Chat`` over a
store of its own on the same data, as Lambda environments are) and check that exactly the
allowance is stored, gapless, that everything acknowledged is stored and nothing refused is,
and that the refused sends go through once the wait they were told has passed.
"""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

from hubbub.chat.service import Chat
from hubbub.chat.settings import ChatSettings
from hubbub.chat.tokens import TokenIssuer
from hubbub.clock import ManualClock
from hubbub.ids import Topic, UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.store.port import Role, User
from hubbub.store.records import AppendResult
from tests.contract.conftest import Backend
from tests.unit.fakes import RecordingPush

NOW_MS = 1_700_000_000_000
BURST = 12
SETTINGS = ChatSettings(
    send_per_s=1000.0,  # the senders' own limits out of the way: the room's is under test
    send_burst=1000,
    topic_send_per_s=0.5,  # no refill to speak of while the flood runs
    topic_send_burst=BURST,
)


def environments(backend: Backend, clock: ManualClock, count: int) -> list[Chat]:
    """``count`` chat services, each over a store of its own on the same data."""
    tokens = TokenIssuer(secrets.token_bytes(32), 3600)
    return [
        Chat(backend.store(stress=True), RecordingPush(), clock, tokens, SETTINGS)
        for _ in range(count)
    ]


def member(index: int) -> User:
    return User(UserId(f"v_{index:016x}"), Role.VISITOR, f"member{index}")


Outcome = tuple[str, AppendResult | ProtocolError]


def flood(chat: Chat, sender: User, topic: str, sends: int) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for number in range(sends):
        cmid = f"{sender.id}-{number}"
        try:
            outcomes.append((cmid, chat.send(sender, topic, f"hello {number}", cmid)))
        except ProtocolError as refused:
            outcomes.append((cmid, refused))
    return outcomes


def test_a_flood_into_one_room_stores_exactly_its_allowance_and_loses_nothing_acked(
    backend: Backend,
) -> None:
    clock = ManualClock(NOW_MS)
    chats = environments(backend, clock, 6)
    topic = "room/hot"
    with ThreadPoolExecutor(len(chats)) as pool:
        runs = pool.map(lambda i: flood(chats[i], member(i), topic, 6), range(len(chats)))
        outcomes = [outcome for run in runs for outcome in run]

    acked = {cmid: r for cmid, r in outcomes if isinstance(r, AppendResult)}
    refused = {cmid: r for cmid, r in outcomes if isinstance(r, ProtocolError)}
    assert len(acked) == BURST
    assert len(refused) == 36 - BURST
    assert {r.code for r in refused.values()} == {ErrorCode.RATE_LIMITED}
    assert all(r.retry_after is not None and r.retry_after > 0 for r in refused.values())

    stored = backend.store().read_after(Topic(topic), 0, 100, NOW_MS).messages
    assert [m.seq for m in stored] == list(range(1, BURST + 1))
    assert {m.client_msg_id: (m.id, m.seq) for m in stored} == {
        cmid: (r.message.id, r.message.seq) for cmid, r in acked.items()
    }

    # another room has an allowance of its own
    assert chats[0].send(member(0), "room/quiet", "still here", "q1").message.seq == 1

    # once the wait has passed, a refused send resent with its clientMsgId is stored, next in line
    cmid, refusal = next(iter(refused.items()))
    assert refusal.retry_after is not None
    clock.advance(int(refusal.retry_after * 1000) + 1)
    sender = member(int(cmid.split("-")[0][2:], 16))
    again = chats[1].send(sender, topic, "resent", cmid)
    assert (again.duplicate, again.message.seq) == (False, BURST + 1)


def test_the_ceiling_is_shared_by_every_environment_and_refills_at_the_rate(
    backend: Backend,
) -> None:
    """Sequential sends through different environments: the burst, then one per interval."""
    clock = ManualClock(NOW_MS)
    chats = environments(backend, clock, 3)
    topic = "room/steady"
    results = [flood(chats[n % 3], member(n), topic, 1)[0][1] for n in range(BURST + 3)]
    assert [isinstance(r, AppendResult) for r in results] == [True] * BURST + [False] * 3
    clock.advance(2000)  # one interval at 0.5/s
    assert isinstance(flood(chats[2], member(99), topic, 1)[0][1], AppendResult)
    assert isinstance(flood(chats[0], member(98), topic, 1)[0][1], ProtocolError)
