"""What an SES (v1, Query protocol) request asks, read from its form body: the action, and for
a send the email itself, in the shape the runtime records it. Pure: no I/O.

Fields as the SES API reference names them: ``SendEmail`` takes ``Source``,
``Destination.{To,Cc,Bcc}Addresses.member.N``, ``Message.Subject.Data``,
``Message.Body.Text.Data`` and ``Message.Body.Html.Data``; ``SendRawEmail`` a base64
``RawMessage.Data`` (a whole MIME message) with optional ``Source`` and
``Destinations.member.N``.

Of a raw message, the header fields the other ``SentMail`` fields do not already show are kept
as they are (``headers``): what a developer needs to see of, say, ``List-Unsubscribe``.
"""

from __future__ import annotations

import base64
import binascii
import email
import email.message
import email.policy
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs

__all__ = ["SENDS", "SentMail", "action_of", "form_of", "sent_mail"]

SENDS = frozenset({"SendEmail", "SendRawEmail"})
_SHOWN = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "subject",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    }
)
"""Header fields that ``SentMail`` shows in fields of its own, or that only frame the body."""


@dataclass(frozen=True, slots=True)
class SentMail:
    """One email SES accepted, as ``hubbub mail`` shows it."""

    message_id: str
    at_ms: int
    source: str
    to: list[str]
    subject: str
    text: str
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    """A raw message's other header fields (``List-Unsubscribe``...), first value of each."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SentMail:
        return cls(
            message_id=str(data["message_id"]),
            at_ms=int(data["at_ms"]),
            source=str(data["source"]),
            to=[str(a) for a in data.get("to", [])],
            subject=str(data.get("subject", "")),
            text=str(data.get("text", "")),
            cc=[str(a) for a in data.get("cc", [])],
            bcc=[str(a) for a in data.get("bcc", [])],
            html=None if data.get("html") is None else str(data["html"]),
            headers={str(k): str(v) for k, v in dict(data.get("headers") or {}).items()},
        )


def form_of(body: bytes) -> dict[str, str]:
    """The Query protocol's form, one value per name (SES repeats none)."""
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {name: values[-1] for name, values in parsed.items()}


def action_of(form: dict[str, str]) -> str:
    return form.get("Action", "")


def _members(form: dict[str, str], prefix: str) -> list[str]:
    found: list[tuple[int, str]] = []
    for name, value in form.items():
        head, _, index = name.rpartition(".")
        if head == prefix and index.isdigit():
            found.append((int(index), value))
    return [value for _, value in sorted(found)]


def sent_mail(form: dict[str, str], message_id: str, at_ms: int) -> SentMail | None:
    """The email a send request carried (None for other actions, or an unreadable raw one)."""
    action = action_of(form)
    if action == "SendEmail":
        return SentMail(
            message_id=message_id,
            at_ms=at_ms,
            source=form.get("Source", ""),
            to=_members(form, "Destination.ToAddresses.member"),
            cc=_members(form, "Destination.CcAddresses.member"),
            bcc=_members(form, "Destination.BccAddresses.member"),
            subject=form.get("Message.Subject.Data", ""),
            text=form.get("Message.Body.Text.Data", ""),
            html=form.get("Message.Body.Html.Data"),
        )
    if action == "SendRawEmail":
        return _raw(form, message_id, at_ms)
    return None


def _raw(form: dict[str, str], message_id: str, at_ms: int) -> SentMail | None:
    try:
        raw = base64.b64decode(form.get("RawMessage.Data", ""), validate=True)
    except (binascii.Error, ValueError):
        return None
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    to = _members(form, "Destinations.member") or [
        a.strip() for a in str(parsed.get("To", "")).split(",") if a.strip()
    ]
    return SentMail(
        message_id=message_id,
        at_ms=at_ms,
        source=form.get("Source") or str(parsed.get("From", "")),
        to=to,
        subject=str(parsed.get("Subject", "")),
        text="" if text_part is None else _lines(str(text_part.get_content())),
        html=None if html_part is None else _lines(str(html_part.get_content())),
        headers=_other_headers(parsed),
    )


def _lines(text: str) -> str:
    """A part's text with the wire's CRLF line ends read as the newlines it was written with."""
    return text.replace("\r\n", "\n")


def _other_headers(parsed: email.message.Message) -> dict[str, str]:
    kept: dict[str, str] = {}
    for name, value in parsed.items():
        if name.lower() not in _SHOWN and name not in kept:
            kept[name] = str(value)
    return kept
