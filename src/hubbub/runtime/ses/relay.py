"""Relaying the emails the SES emulation accepts to a real SMTP server, for a machine that
serves real visitors with ``hubbub serve`` and no SES (docs/operations.md).

Off unless ``HUBBUB_SES_SMTP_RELAY=host:port`` is set in ``hubbub serve``'s environment;
``HUBBUB_SES_SMTP_STARTTLS=true`` upgrades the connection, and ``HUBBUB_SES_SMTP_USERNAME`` /
``HUBBUB_SES_SMTP_PASSWORD`` log in. The email is recorded first and relayed after SES's answer
went back, so a slow or failing relay never fails the function; a failure is logged (without the
addresses) and not retried.
"""

from __future__ import annotations

import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP

from hubbub.runtime.ses.requests import SentMail

__all__ = ["RelayTarget", "message_of", "relay", "relay_target"]


@dataclass(frozen=True, slots=True)
class RelayTarget:
    host: str
    port: int
    starttls: bool = False
    username: str | None = None
    password: str | None = None


def relay_target(env: Mapping[str, str]) -> RelayTarget | None:
    """The relay the environment names, or None; a malformed one is a ``ValueError``."""
    raw = env.get("HUBBUB_SES_SMTP_RELAY", "").strip()
    if not raw:
        return None
    host, sep, port = raw.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"HUBBUB_SES_SMTP_RELAY must be host:port, not {raw!r}")
    return RelayTarget(
        host=host.strip("[]"),
        port=int(port),
        starttls=env.get("HUBBUB_SES_SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
        username=env.get("HUBBUB_SES_SMTP_USERNAME") or None,
        password=env.get("HUBBUB_SES_SMTP_PASSWORD") or None,
    )


_POLICY = SMTP.clone(max_line_length=998)
"""Header fields on one line: the default folding would turn a long ``List-Unsubscribe`` URL
into RFC 2047 encoded words, which a mail client cannot follow."""


def message_of(mail: SentMail) -> EmailMessage:
    """The email as SES would have built it: text, HTML as an alternative, and a raw message's
    other header fields (``List-Unsubscribe``...) as they were."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = mail.source
    message["To"] = ", ".join(mail.to)
    if mail.cc:
        message["Cc"] = ", ".join(mail.cc)
    message["Subject"] = mail.subject
    message["Message-ID"] = f"<{mail.message_id}@hubbub.local>"
    for name, value in mail.headers.items():
        if name.lower() not in ("message-id", "date"):  # SES sets its own (SendRawEmail)
            message[name] = value
    message.set_content(mail.text)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    return message


def relay(mail: SentMail, target: RelayTarget, *, timeout_s: float = 10.0) -> None:
    """Blocking: hand the email to the SMTP server (Bcc recipients in the envelope only)."""
    with smtplib.SMTP(target.host, target.port, timeout=timeout_s) as smtp:
        if target.starttls:
            smtp.starttls()
        if target.username is not None and target.password is not None:
            smtp.login(target.username, target.password)
        smtp.send_message(message_of(mail), to_addrs=[*mail.to, *mail.cc, *mail.bcc])
