"""Email to visitors who left: the pure decisions (table-driven), the unsubscribe token, the
email's text, and the service over a real SQLite store with a manual clock and a recording
mailer; then the two handlers with events built from the captured shapes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hubbub.chat.mailing import (
    Mailing,
    MailSettings,
    Skip,
    Step,
    StepKind,
    answers_to_mail,
    compose,
    queue_skip,
    send_step,
    unsubscribe,
)
from hubbub.chat.tokens import TokenIssuer, issue_unsubscribe, verify_unsubscribe
from hubbub.clock import ManualClock
from hubbub.handlers import bootstrap, relay
from hubbub.handlers import mail as mail_handlers
from hubbub.ids import ClientMsgId, ConnectionId, MessageId, Topic, TopicFilter, UserId
from hubbub.mail.port import Mailer, MailRejected
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.runtime.cloudformation.specs import ScheduleSpec
from hubbub.runtime.eventbridge.events import schedule_event
from hubbub.store.items import message_item
from hubbub.store.port import (
    AppendRequest,
    Message,
    PendingMail,
    Role,
    Subscription,
    User,
    Visitor,
)
from hubbub.store.sqlite.adapter import SqliteStore
from tests.support.aws_events import stream_event, stream_record
from tests.unit.fakes import RecordingPush

SECRET = b"s" * 32
T0 = 1_800_000_000_000
WINDOW = 600_000
ANN = UserId("v_ann")
DESK = Topic("desk/v_ann")
ADDRESS = "ann@example.org"


def message(
    seq: int,
    *,
    role: Role = Role.OPERATOR,
    topic: str = "desk/v_ann",
    deleted: bool = False,
    text: str = "hi",
) -> Message:
    return Message(
        topic=Topic(topic),
        seq=seq,
        id=MessageId(f"m.{seq}"),
        ts=T0 + seq,
        sender=UserId("o_1") if role is Role.OPERATOR else ANN,
        nickname="Olga" if role is Role.OPERATOR else "Ann",
        text="" if deleted else text,
        client_msg_id=ClientMsgId(f"c{seq}"),
        expires_at=T0 // 1000 + 3600,
        role=role,
        deleted=deleted,
    )


ANN_VISITOR = Visitor(ANN, "Ann", ADDRESS, T0)


# -- decisions ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("msg", "visitor", "opted_out", "expected"),
    [
        (message(1), ANN_VISITOR, False, None),
        (message(1, role=Role.VISITOR), ANN_VISITOR, False, Skip.NOT_AN_ANSWER),
        (message(1, topic="room/lobby"), ANN_VISITOR, False, Skip.NOT_AN_ANSWER),
        (message(1, topic="user/v_ann"), ANN_VISITOR, False, Skip.NOT_AN_ANSWER),
        (message(1, deleted=True), ANN_VISITOR, False, Skip.NOT_AN_ANSWER),
        (message(1), None, False, Skip.NO_EMAIL),
        (message(1), Visitor(ANN, "Ann", None, T0), False, Skip.NO_EMAIL),
        (message(1), Visitor(ANN, "Ann", "", T0), False, Skip.NO_EMAIL),
        (message(1), ANN_VISITOR, True, Skip.OPTED_OUT),
    ],
)
def test_which_answers_queue_an_email(
    msg: Message, visitor: Visitor | None, opted_out: bool, expected: Skip | None
) -> None:
    assert queue_skip(msg, visitor, opted_out=opted_out) is expected


def pending(last_sent_at: int | None) -> PendingMail:
    return PendingMail(DESK, ANN, T0, answer_seq=3, mailed_seq=1, last_sent_at=last_sent_at)


@pytest.mark.parametrize(
    ("last_sent", "now", "email", "opted", "following", "expected"),
    [
        (None, T0, True, False, False, Step(StepKind.SEND)),
        (T0 - WINDOW, T0, True, False, False, Step(StepKind.SEND)),
        (T0 - WINDOW + 1, T0, True, False, False, Step(StepKind.WAIT, T0 + 1)),
        (T0 - 5, T0, True, False, False, Step(StepKind.WAIT, T0 - 5 + WINDOW)),
        (None, T0, False, False, False, Step(StepKind.DROP)),
        (None, T0, True, True, False, Step(StepKind.DROP)),
        (None, T0, True, False, True, Step(StepKind.DROP)),
        (T0 - 5, T0, True, True, False, Step(StepKind.DROP)),
    ],
)
def test_what_a_due_mail_becomes(
    last_sent: int | None,
    now: int,
    email: bool,
    opted: bool,
    following: bool,
    expected: Step,
) -> None:
    step = send_step(
        pending(last_sent), now, WINDOW, has_email=email, opted_out=opted, following=following
    )
    assert step == expected


@pytest.mark.parametrize(
    ("mailed", "read", "limit", "expected"),
    [
        (0, 0, 10, [2, 4, 5]),
        (2, 0, 10, [4, 5]),
        (0, 4, 10, [5]),
        (4, 2, 10, [5]),
        (5, 0, 10, []),
        (0, 0, 2, [2, 4]),
    ],
)
def test_the_answers_an_email_quotes(
    mailed: int, read: int, limit: int, expected: list[int]
) -> None:
    """Operators' live answers after both the last email and the visitor's read marker."""
    conversation = [
        message(1, role=Role.VISITOR),
        message(2),
        message(3, deleted=True),
        message(5),
        message(4),
    ]
    picked = answers_to_mail(conversation, mailed, read, limit)
    assert [m.seq for m in picked] == expected


def test_the_email_quotes_each_answer_and_links_back_and_out() -> None:
    answers = [message(2, text="Hello!"), message(4, text="Line one\nline two")]
    subject, text = compose("Ann", answers, "https://example.com/help", "https://u/x?token=t")
    assert subject == "You have 2 answers"
    assert "Hello Ann," in text
    assert "  Hello!\n" in text and "  Line one\n  line two\n" in text
    assert "https://example.com/help" in text
    assert text.rstrip().endswith("No more emails: https://u/x?token=t")
    one, no_link = compose("Ann", answers[:1], "", "https://u")
    assert one == "You have an answer" and "Continue the conversation" not in no_link


# -- the unsubscribe token ------------------------------------------------------------------------
def test_an_unsubscribe_token_names_its_visitor_and_nothing_else() -> None:
    issuer = TokenIssuer(SECRET, 3600)
    token = issue_unsubscribe(issuer, ANN, T0)
    assert verify_unsubscribe(issuer, token, T0 + 1000) == ANN
    for bad in (
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # forged signature
        issue_unsubscribe(TokenIssuer(b"t" * 32, 3600), ANN, T0),  # another key
        issuer.issue(User(ANN, Role.VISITOR, "Ann"), T0),  # a sign-in token
        "not-a-token",
    ):
        with pytest.raises(ProtocolError) as refused:
            verify_unsubscribe(issuer, bad, T0)
        assert refused.value.code is ErrorCode.UNAUTHORIZED
    with pytest.raises(ProtocolError):  # and it signs nobody in
        issuer.verify(token, T0)
    with pytest.raises(ProtocolError):  # a year later it has expired
        verify_unsubscribe(issuer, token, T0 + 366 * 24 * 3600 * 1000)


# -- the service ------------------------------------------------------------------------------
class RecordingMailer(Mailer):
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.unsubscribe_urls: list[str | None] = []
        self.fail_with: Exception | None = None

    def send(self, to: str, subject: str, text: str, *, unsubscribe_url: str | None = None) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append((to, subject, text))
        self.unsubscribe_urls.append(unsubscribe_url)


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.store = SqliteStore(tmp_path / "t.sqlite3")
        self.clock = ManualClock(T0)
        self.mailer = RecordingMailer()
        self.tokens = TokenIssuer(SECRET, 3600)
        self.mailing = Mailing(
            mailings=self.store,
            directory=self.store,
            subscriptions=self.store,
            messages=self.store,
            markers=self.store,
            mailer=self.mailer,
            tokens=self.tokens,
            clock=self.clock,
            settings=MailSettings(site_url="https://example.com/help", api_url="http://api"),
        )
        self.store.put_visitor(ANN_VISITOR)
        self._cmids = 0

    def say(self, text: str, role: Role = Role.OPERATOR) -> Message:
        self._cmids += 1
        sender = UserId("o_1") if role is Role.OPERATOR else ANN
        stored = self.store.append(
            AppendRequest(
                topic=DESK,
                sender=sender,
                nickname="Olga" if role is Role.OPERATOR else "Ann",
                text=text,
                client_msg_id=ClientMsgId(f"c{self._cmids}"),
                message_id=MessageId(f"m{self._cmids}"),
                now_ms=self.clock.now_ms(),
                expires_at=self.clock.now_ms() // 1000 + 86400,
                dedupe_expires_at=self.clock.now_ms() // 1000 + 86400,
                role=role,
            )
        ).message
        self.mailing.queue_answer(stored)
        return stored

    def at(self, ms: int) -> None:
        self.clock._now = ms  # the manual clock's own hand


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path)
    yield w
    w.store.close()


def test_answers_in_one_window_make_one_email(world: World) -> None:
    world.say("where is my order?", Role.VISITOR)
    world.say("Looking into it.")
    world.at(T0 + 60_000)
    world.say("It ships tomorrow.")
    assert world.mailing.send_due().sent == 0  # the window is still open
    world.at(T0 + WINDOW)
    report = world.mailing.send_due()
    assert (report.sent, report.failed) == (1, 0)
    [(to, subject, text)] = world.mailer.sent
    assert (to, subject) == (ADDRESS, "You have 2 answers")
    assert "Looking into it." in text and "It ships tomorrow." in text
    assert "where is my order?" not in text
    assert world.mailing.send_due().sent == 0


def test_a_later_answer_waits_a_whole_window_after_the_last_email(world: World) -> None:
    world.say("First.")
    world.at(T0 + WINDOW)
    assert world.mailing.send_due().sent == 1
    world.at(T0 + WINDOW + 1000)
    world.say("Second.")
    world.at(T0 + 2 * WINDOW)
    assert world.mailing.send_due().sent == 0
    world.at(T0 + 2 * WINDOW + 1000)
    assert world.mailing.send_due().sent == 1
    assert "Second." in world.mailer.sent[-1][2] and "First." not in world.mailer.sent[-1][2]


def test_nothing_for_a_visitor_following_the_conversation(world: World) -> None:
    world.store.subscribe(
        Subscription(ConnectionId("c1"), TopicFilter(DESK), User(ANN, Role.VISITOR, "Ann")),
        T0,
        T0 // 1000 + 3600,
    )
    world.say("You are here.")
    world.at(T0 + WINDOW)
    assert world.mailing.send_due().sent == 0
    assert world.mailer.sent == []


def test_a_visitor_still_subscribed_when_the_answer_came_is_mailed_once_gone(world: World) -> None:
    """The tab was closed a moment before the answer, but ``$disconnect`` had not run yet: the
    answer is queued all the same, and mailed since they are gone when it is due."""
    leaving = Subscription(ConnectionId("c1"), TopicFilter(DESK), User(ANN, Role.VISITOR, "Ann"))
    world.store.subscribe(leaving, T0, T0 // 1000 + 3600)
    world.say("Right after you left.")
    world.store.unsubscribe(leaving.connection_id, leaving.filter)
    world.at(T0 + WINDOW)
    assert world.mailing.send_due().sent == 1
    assert "Right after you left." in world.mailer.sent[-1][2]


def test_answers_read_meanwhile_are_not_mailed(world: World) -> None:
    answer = world.say("Read it in the widget.")
    world.store.set_read_marker(ANN, DESK, answer.seq)
    world.at(T0 + WINDOW)
    assert world.mailing.send_due().dropped == 1
    assert world.mailer.sent == []


def test_an_opt_out_through_the_link_stops_the_emails(world: World) -> None:
    world.say("First.")
    world.at(T0 + WINDOW)
    world.mailing.send_due()
    link = world.mailer.sent[0][2].rsplit("No more emails: ", 1)[1].strip()
    assert link.startswith("http://api/api/mail/unsubscribe?token=")
    assert world.mailer.unsubscribe_urls == [link]  # the one-click URL is the footer's link
    token = link.split("token=", 1)[1]
    assert unsubscribe(world.tokens, world.store, token, T0 + WINDOW)
    assert not unsubscribe(world.tokens, world.store, token, T0 + WINDOW)  # idempotent
    world.say("Second.")
    world.at(T0 + 3 * WINDOW)
    assert world.mailing.send_due().sent == 0
    assert len(world.mailer.sent) == 1


def test_a_refused_email_is_dropped_and_a_failed_one_retried_after_the_lease(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    world.say("First.")
    world.at(T0 + WINDOW)
    world.mailer.fail_with = ConnectionError("SES unreachable")
    assert world.mailing.send_due().failed == 1
    world.mailer.fail_with = None
    assert world.mailing.send_due().sent == 0  # leased to the run that failed
    world.at(T0 + WINDOW + 60_000)
    assert world.mailing.send_due().sent == 1
    world.say("Second.")
    world.at(T0 + 3 * WINDOW)
    world.mailer.fail_with = MailRejected("MessageRejected")
    assert world.mailing.send_due().dropped == 1
    world.at(T0 + 5 * WINDOW)
    assert world.mailing.send_due().sent == 0
    assert ADDRESS not in caplog.text  # addresses never reach the logs


# -- the handlers ---------------------------------------------------------------------------------
def test_the_handlers_queue_from_the_stream_and_send_on_the_schedule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The relay notes the answer it reads from the stream; the scheduled run sends it."""
    monkeypatch.setenv("HUBBUB_RUNTIME_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MAIL_SENDER", "help@example.org")
    (tmp_path / "token-secret").write_bytes(SECRET)
    store = SqliteStore(tmp_path / "hubbub.sqlite3")
    clock = ManualClock(T0)
    env = {"HUBBUB_RUNTIME_DATA_DIR": str(tmp_path)}
    service = bootstrap.build_chat(env, store=store, clock=clock, push=RecordingPush())
    bootstrap.use_chat(service)
    mailer = RecordingMailer()
    mail_handlers.use_mailing(
        Mailing(
            mailings=store,
            directory=store,
            subscriptions=store,
            messages=store,
            markers=store,
            mailer=mailer,
            tokens=service.tokens,
            clock=clock,
            settings=MailSettings(),
        )
    )
    try:
        store.put_visitor(ANN_VISITOR)
        answer = message(1, text="Answered.")
        store.append(
            AppendRequest(
                DESK, answer.sender, "Olga", "Answered.", answer.client_msg_id,
                MessageId("m"), T0, T0 // 1000 + 3600, T0 // 1000 + 3600, role=Role.OPERATOR,
            )
        )  # fmt: skip
        stored = store.read_after(DESK, 0, 10, T0).messages[0]
        event = stream_event([stream_record(message_item(stored), sequence_number="1")])
        assert relay.handler(event, None) == {"batchItemFailures": []}
        clock._now = T0 + WINDOW
        spec = ScheduleSpec("MailSendFunction.Every", "MailSendFunction", "Schedule",
                            "rate(1 minute)", True, "every")  # fmt: skip
        tick = schedule_event(spec, datetime.now(UTC), region="us-east-1", account_id="1" * 12)
        assert mail_handlers.send_handler(tick, None) == {
            "sent": 1, "dropped": 0, "waiting": 0, "failed": 0,
        }  # fmt: skip
        assert [to for to, _, _ in mailer.sent] == [ADDRESS]
    finally:
        mail_handlers.use_mailing(None)
        bootstrap.use_chat(None)
        store.close()


class _RefusesAnswers:
    """A mailing whose store fails on the first answer it notes."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def queue_answer(self, message: Message) -> None:
        self.seen.append(message.text)
        if message.role is Role.OPERATOR:
            raise ConnectionError("table unreachable")


def test_the_relay_retries_from_the_answer_it_could_not_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A question, then an answer the store fails to note, then another record: the question
    is done; the answer and what follows come back with the retry. An edit notes nothing."""
    monkeypatch.setenv("MAIL_SENDER", "help@example.org")
    store = SqliteStore(tmp_path / "hubbub.sqlite3")
    (tmp_path / "token-secret").write_bytes(SECRET)
    env = {"HUBBUB_RUNTIME_DATA_DIR": str(tmp_path)}
    bootstrap.use_chat(bootstrap.build_chat(env, store=store, push=RecordingPush()))
    refusing = _RefusesAnswers()
    mail_handlers.use_mailing(refusing)  # type: ignore[arg-type]  # queue_answer is all it uses
    try:
        for n, (text, role) in enumerate(
            [("Help?", Role.VISITOR), ("Answered.", Role.OPERATOR), ("Thanks", Role.VISITOR)]
        ):
            store.append(
                AppendRequest(
                    DESK, UserId("o_1" if role is Role.OPERATOR else ANN), "n", text, f"c{n}",
                    MessageId(f"m{n}"), T0, T0 // 1000 + 3600, T0 // 1000 + 3600, role=role,
                )
            )  # fmt: skip
        stored = store.read_after(DESK, 0, 10, T0).messages
        edit = stream_record(message_item(stored[1]), sequence_number="0", event_name="MODIFY")
        records = [stream_record(message_item(m), sequence_number=str(m.seq)) for m in stored]
        assert relay.handler(stream_event([edit]), None) == {"batchItemFailures": []}
        assert refusing.seen == []
        assert relay.handler(stream_event(records), None) == {
            "batchItemFailures": [{"itemIdentifier": "2"}, {"itemIdentifier": "3"}]
        }
        assert refusing.seen == ["Help?", "Answered."]
    finally:
        mail_handlers.use_mailing(None)
        bootstrap.use_chat(None)
        store.close()
