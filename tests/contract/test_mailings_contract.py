"""The contract of pending emails and opt-outs, on SQLite and on DynamoDB (moto).

The stream queues a conversation's answers, the scheduled sender finds what is due, claims it,
and finishes it; every step is one conditional write, so a repeat or a second sender changes
nothing. Both adapters must agree on each of those outcomes.
"""

from __future__ import annotations

from hubbub.ids import Topic, UserId
from hubbub.store.port import PendingMail, Store
from tests.contract.conftest import Backend
from tests.contract.test_store_contract import NOW_MS

DESK = Topic("desk/v_ann")
OTHER = Topic("desk/v_bob")
ANN = UserId("v_ann")
BOB = UserId("v_bob")
WINDOW = 600_000


def test_nothing_is_due_in_an_empty_store(store: Store) -> None:
    assert store.due_mails(NOW_MS, 10) == []


def test_answers_gather_under_the_first_due_time(store: Store) -> None:
    assert store.queue_mail(DESK, ANN, 3, NOW_MS + WINDOW)
    assert store.queue_mail(DESK, ANN, 5, NOW_MS + 60_000 + WINDOW)
    assert store.due_mails(NOW_MS + WINDOW - 1, 10) == []
    assert store.due_mails(NOW_MS + WINDOW, 10) == [
        PendingMail(DESK, ANN, NOW_MS + WINDOW, answer_seq=5, mailed_seq=0, last_sent_at=None)
    ]


def test_a_repeated_or_older_answer_queues_nothing(store: Store) -> None:
    assert store.queue_mail(DESK, ANN, 4, NOW_MS)
    assert not store.queue_mail(DESK, ANN, 4, NOW_MS)
    assert not store.queue_mail(DESK, ANN, 2, NOW_MS)
    [pending] = store.due_mails(NOW_MS, 10)
    assert pending.answer_seq == 4


def test_due_mails_come_earliest_first_and_bounded(store: Store) -> None:
    store.queue_mail(OTHER, BOB, 1, NOW_MS + 5)
    store.queue_mail(DESK, ANN, 1, NOW_MS + 1)
    assert [p.topic for p in store.due_mails(NOW_MS + 10, 10)] == [DESK, OTHER]
    assert [p.topic for p in store.due_mails(NOW_MS + 10, 1)] == [DESK]


def test_only_one_claim_wins(backend: Backend) -> None:
    first, second = backend.store(), backend.store()
    first.queue_mail(DESK, ANN, 1, NOW_MS)
    assert first.claim_mail(DESK, NOW_MS, NOW_MS + 60_000)
    assert not second.claim_mail(DESK, NOW_MS, NOW_MS + 60_000)
    assert first.due_mails(NOW_MS, 10) == []
    [leased] = first.due_mails(NOW_MS + 60_000, 10)
    assert leased.due_at == NOW_MS + 60_000


def test_finishing_ends_the_pending_mail_and_later_answers_open_a_new_one(store: Store) -> None:
    store.queue_mail(DESK, ANN, 2, NOW_MS)
    assert store.claim_mail(DESK, NOW_MS, NOW_MS + 60_000)
    assert store.finish_mail(DESK, 2, NOW_MS + 1, NOW_MS + 1 + WINDOW) is None
    assert store.due_mails(NOW_MS + 10 * WINDOW, 10) == []
    assert not store.queue_mail(DESK, ANN, 2, NOW_MS + 5)  # mailed already: a stream retry
    assert store.queue_mail(DESK, ANN, 3, NOW_MS + 5 + WINDOW)
    assert store.due_mails(NOW_MS + 5 + WINDOW, 10) == [
        PendingMail(DESK, ANN, NOW_MS + 5 + WINDOW, 3, mailed_seq=2, last_sent_at=NOW_MS + 1)
    ]


def test_an_answer_queued_while_sending_stays_pending(backend: Backend) -> None:
    sender, stream = backend.store(), backend.store()
    stream.queue_mail(DESK, ANN, 2, NOW_MS)
    assert sender.claim_mail(DESK, NOW_MS, NOW_MS + 60_000)
    assert not stream.queue_mail(DESK, ANN, 2, NOW_MS)
    assert stream.queue_mail(DESK, ANN, 4, NOW_MS + 30)  # keeps the leased due time
    kept = sender.finish_mail(DESK, 2, NOW_MS + 40, NOW_MS + 40 + WINDOW)
    expected = PendingMail(DESK, ANN, NOW_MS + 40 + WINDOW, 4, 2, NOW_MS + 40)
    assert kept == expected
    assert sender.due_mails(NOW_MS + 40 + WINDOW, 10) == [expected]


def test_a_dropped_mail_keeps_the_last_sent_time(store: Store) -> None:
    store.queue_mail(DESK, ANN, 1, NOW_MS)
    store.finish_mail(DESK, 1, NOW_MS, NOW_MS + WINDOW)
    store.queue_mail(DESK, ANN, 2, NOW_MS + WINDOW)
    store.finish_mail(DESK, 2, None, NOW_MS + 2 * WINDOW)
    store.queue_mail(DESK, ANN, 3, NOW_MS + 3 * WINDOW)
    [pending] = store.due_mails(NOW_MS + 3 * WINDOW, 10)
    assert (pending.mailed_seq, pending.last_sent_at) == (2, NOW_MS)


def test_finishing_an_unknown_conversation_is_harmless(store: Store) -> None:
    assert store.finish_mail(DESK, 1, NOW_MS, NOW_MS + WINDOW) is None
    assert store.due_mails(NOW_MS + 10 * WINDOW, 10) == []


def test_opting_out_is_remembered_and_idempotent(backend: Backend) -> None:
    store = backend.store()
    assert not store.opted_out(ANN)
    assert store.opt_out(ANN, NOW_MS)
    assert not store.opt_out(ANN, NOW_MS + 1)
    assert backend.store().opted_out(ANN)
    assert not store.opted_out(BOB)
