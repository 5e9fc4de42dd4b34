"""Email to visitors who left: an operator's answer in ``desk/{visitor}`` reaches a visitor who
is not following the conversation, gave an email and did not unsubscribe, at most once per
conversation per window (10 minutes), gathering the answers given in it.

Two steps, each run by its own function, so nothing waits in a process's memory:

- ``queue_answer``: the stream hands every operator answer in a desk topic to it (the mapping's
  filter lets nothing else through); it notes a pending mail in the store, due one window after
  the first answer, which later answers join.
- ``send_due``: a schedule runs it every minute; it claims each due mail (a conditional write,
  so two runs never send one twice), decides what to do with it (``send_step``, pure), reads the
  answers the visitor has not read or been mailed (``answers_to_mail``, pure), and sends one
  email with all of them (``compose``, pure).

A sent email is at-least-once: a function that dies between SES's answer and the write that
ends the pending mail sends it again after the lease (one minute).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlencode

from hubbub.chat.tokens import TokenIssuer, issue_unsubscribe, verify_unsubscribe
from hubbub.clock import Clock
from hubbub.ids import Topic, TopicFilter, UserId
from hubbub.mail.port import Mailer, MailRejected
from hubbub.protocol.topics import TopicClass, topic_class
from hubbub.store.records import Message, PendingMail, Role, Visitor
from hubbub.store.roles import Directory, Mailings, MessageLog, ReadMarkers, Subscriptions

__all__ = [
    "MailReport",
    "MailSettings",
    "Mailing",
    "Skip",
    "Step",
    "StepKind",
    "answers_to_mail",
    "compose",
    "is_answer",
    "queue_skip",
    "send_step",
    "unsubscribe",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MailSettings:
    window_s: float = 600.0
    """At most one email per conversation in this many seconds; the first answer opens it."""
    site_url: str = ""
    """Where the visitor picks the conversation up (the page with the widget)."""
    api_url: str = ""
    """The HTTP API's base URL, where the unsubscribe link points."""
    lease_s: float = 60.0
    """How long a claimed mail is left to its sender before another run may take it."""
    batch: int = 25
    """Due mails one run handles (the rest wait for the next run)."""
    max_answers: int = 20
    """Answers quoted in one email; more stay in the conversation, which the link opens."""

    @property
    def window_ms(self) -> int:
        return round(self.window_s * 1000)

    @property
    def lease_ms(self) -> int:
        return round(self.lease_s * 1000)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> MailSettings:
        base = cls()
        window = float(env.get("MAIL_WINDOW_SECONDS") or base.window_s)
        if window <= 0:
            raise ValueError("MAIL_WINDOW_SECONDS must be a positive number of seconds")
        return cls(
            window_s=window,
            site_url=env.get("SITE_URL", ""),
            api_url=env.get("MAIL_API_URL", "").rstrip("/"),
        )


# decisions ------------------------------------------------------------------------------------
class Skip(StrEnum):
    """Why an operator's message queues no email."""

    NOT_AN_ANSWER = "not_an_answer"
    NO_EMAIL = "no_email"
    OPTED_OUT = "opted_out"


def is_answer(message: Message) -> bool:
    """An operator's live message in a desk conversation (the stream's filter lets only these
    through on AWS; checked again here, since a filter is configuration)."""
    return (
        message.role is Role.OPERATOR
        and not message.deleted
        and topic_class(message.topic) is TopicClass.DESK
    )


def queue_skip(message: Message, visitor: Visitor | None, *, opted_out: bool) -> Skip | None:
    """None when ``message`` may be mailed to its conversation's visitor, else why not.

    Whether the visitor follows the conversation is not asked here but when the mail is due
    (``send_step``): a visitor who closed the tab a moment before the answer is still
    subscribed until their ``$disconnect`` has run, and one who was there may leave without
    reading it; what they did read is left out by the read marker."""
    if not is_answer(message):
        return Skip.NOT_AN_ANSWER
    if visitor is None or not visitor.email:
        return Skip.NO_EMAIL
    if opted_out:
        return Skip.OPTED_OUT
    return None


class StepKind(StrEnum):
    SEND = "send"
    WAIT = "wait"
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class Step:
    kind: StepKind
    until: int | None = None
    """For WAIT: when the mail may go."""


def send_step(
    pending: PendingMail,
    now_ms: int,
    window_ms: int,
    *,
    has_email: bool,
    opted_out: bool,
    following: bool,
) -> Step:
    """What to do with a due mail now. Dropped when there is nobody to mail (no address, an
    opt-out since it was queued) or the visitor is back in the conversation (they see the
    answers there); held until a window after the last email, so a conversation never gets two
    emails within one window whatever the timing of the runs; sent otherwise."""
    if not has_email or opted_out or following:
        return Step(StepKind.DROP)
    if pending.last_sent_at is not None and now_ms < pending.last_sent_at + window_ms:
        return Step(StepKind.WAIT, pending.last_sent_at + window_ms)
    return Step(StepKind.SEND)


def answers_to_mail(
    messages: Iterable[Message], mailed_seq: int, read_seq: int, limit: int
) -> list[Message]:
    """The operators' answers the visitor has neither been mailed nor read, oldest first, at
    most ``limit``."""
    after = max(mailed_seq, read_seq)
    fresh = [m for m in messages if m.seq > after and m.role is Role.OPERATOR and not m.deleted]
    return sorted(fresh, key=lambda m: m.seq)[:limit]


def compose(
    nickname: str, answers: list[Message], conversation_url: str, unsubscribe_url: str
) -> tuple[str, str]:
    """The subject and plain text of the email. Plain text only: the answers are user text,
    and no HTML means nothing in them is ever rendered as markup by a mail client."""
    subject = "You have an answer" if len(answers) == 1 else f"You have {len(answers)} answers"
    lines = [f"Hello {nickname},", "", "While you were away, we answered you:", ""]
    for answer in answers:
        lines.append(f"{answer.nickname or 'Support'}:")
        lines.extend(f"  {line}" for line in answer.text.splitlines() or [""])
        lines.append("")
    if conversation_url:
        lines += ["Continue the conversation:", conversation_url, ""]
    lines += [
        "You get this email because you left your address in our chat.",
        f"No more emails: {unsubscribe_url}",
    ]
    return subject, "\n".join(lines) + "\n"


def unsubscribe(tokens: TokenIssuer, mailings: Mailings, token: str, now_ms: int) -> bool:
    """Record the opt-out an unsubscribe link names (``unauthorized`` for a bad link); True
    when it is new, False when the visitor had already unsubscribed."""
    return mailings.opt_out(verify_unsubscribe(tokens, token, now_ms), now_ms)


# the service ----------------------------------------------------------------------------------
@dataclass(slots=True)
class MailReport:
    sent: int = 0
    dropped: int = 0
    waiting: int = 0
    failed: int = 0


class Mailing:
    def __init__(
        self,
        *,
        mailings: Mailings,
        directory: Directory,
        subscriptions: Subscriptions,
        messages: MessageLog,
        markers: ReadMarkers,
        mailer: Mailer,
        tokens: TokenIssuer,
        clock: Clock,
        settings: MailSettings,
    ) -> None:
        self._mailings = mailings
        self._directory = directory
        self._subscriptions = subscriptions
        self._messages = messages
        self._markers = markers
        self._mailer = mailer
        self._tokens = tokens
        self._clock = clock
        self.settings = settings

    def queue_answer(self, message: Message) -> Skip | None:
        """Note an operator's answer for mailing, or say why not (a repeat is a no-op)."""
        if not is_answer(message):  # read nothing for anything else
            return Skip.NOT_AN_ANSWER
        visitor_id = UserId(message.topic.split("/", 1)[1])
        visitor = self._directory.get_visitor(visitor_id)
        skip = queue_skip(
            message,
            visitor,
            opted_out=visitor is not None and self._mailings.opted_out(visitor_id),
        )
        if skip is None:
            due = message.ts + self.settings.window_ms
            self._mailings.queue_mail(message.topic, visitor_id, message.seq, due)
        return skip

    def send_due(self) -> MailReport:
        report = MailReport()
        now = self._clock.now_ms()
        for pending in self._mailings.due_mails(now, self.settings.batch):
            lease = now + self.settings.lease_ms
            if not self._mailings.claim_mail(pending.topic, pending.due_at, lease):
                continue  # another run has it
            try:
                outcome = self._handle(pending, now, lease)
            except Exception:  # the lease runs out and a later run tries again
                log.exception("mail for %s failed; retried after the lease", pending.topic)
                report.failed += 1
                continue
            setattr(report, outcome, getattr(report, outcome) + 1)
        return report

    def _handle(self, pending: PendingMail, now: int, lease: int) -> str:
        visitor = self._directory.get_visitor(pending.visitor_id)
        step = send_step(
            pending,
            now,
            self.settings.window_ms,
            has_email=visitor is not None and bool(visitor.email),
            opted_out=self._mailings.opted_out(pending.visitor_id),
            following=self._following(pending.topic, pending.visitor_id),
        )
        if step.kind is StepKind.WAIT and step.until is not None:
            self._mailings.claim_mail(pending.topic, lease, step.until)
            return "waiting"
        if step.kind is StepKind.DROP or visitor is None or not visitor.email:
            self._done(pending, pending.answer_seq, None, now)
            return "dropped"
        page = self._messages.read_after(pending.topic, pending.mailed_seq, 100, now)
        seqs = [m.seq for m in page.messages]
        # a long conversation is mailed a page at a time: the rest stays pending
        through = max([pending.mailed_seq, *seqs, *([] if page.has_more else [pending.answer_seq])])
        read = self._markers.read_markers(pending.visitor_id, [pending.topic])
        answers = answers_to_mail(
            page.messages, pending.mailed_seq, read.get(pending.topic, 0), self.settings.max_answers
        )
        if not answers:
            self._done(pending, through, None, now)
            return "dropped"
        unsubscribe_url = self._unsubscribe_url(visitor, now)
        subject, text = compose(visitor.nickname, answers, self.settings.site_url, unsubscribe_url)
        try:
            self._mailer.send(visitor.email, subject, text, unsubscribe_url=unsubscribe_url)
        except MailRejected as exc:
            log.warning("mail for %s refused by the mail service: %s", pending.topic, exc)
            self._done(pending, through, None, now)
            return "dropped"
        self._done(pending, through, now, now)
        log.info("mailed %d answers of %s", len(answers), pending.topic)
        return "sent"

    def _done(self, pending: PendingMail, through: int, sent_at: int | None, now: int) -> None:
        self._mailings.finish_mail(pending.topic, through, sent_at, now + self.settings.window_ms)

    def _unsubscribe_url(self, visitor: Visitor, now: int) -> str:
        token = issue_unsubscribe(self._tokens, visitor.id, now)
        return f"{self.settings.api_url}/api/mail/unsubscribe?{urlencode({'token': token})}"

    def _following(self, topic: Topic, visitor_id: UserId) -> bool:
        return any(
            sub.user.id == visitor_id for sub in self._subscriptions.subscribers(TopicFilter(topic))
        )
