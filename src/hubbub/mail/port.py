"""The Mailer port: send one plain-text email. Chat decides who gets what and when; the adapter
only delivers (Amazon SES on AWS, the local runtime's SES emulation through the same API)."""

from __future__ import annotations

from abc import ABC, abstractmethod

__all__ = ["MailRejected", "Mailer"]


class MailRejected(Exception):
    """The mail service refused this email for good (an unverified sender or recipient in the
    SES sandbox, a malformed address): retrying will not help, so the mail is dropped. Any
    other error is transient and the mail is tried again."""


class Mailer(ABC):
    @abstractmethod
    def send(self, to: str, subject: str, text: str, *, unsubscribe_url: str | None = None) -> None:
        """Send, or raise ``MailRejected`` (permanent) or any other error (transient).

        ``unsubscribe_url``: where one POST unsubscribes the recipient; the adapter offers it
        to the mailbox provider as RFC 8058's one-click unsubscribe (``mail/message.py``)."""
