"""The email as it leaves hubbub: one plain-text MIME message, with the two header fields that
let a mailbox provider unsubscribe the recipient in one click (RFC 8058).

Why a whole MIME message: SES v1 ``SendEmail`` takes a subject and a body only, so the
``List-Unsubscribe`` and ``List-Unsubscribe-Post`` fields can only travel in a message built
here and sent with ``SendRawEmail`` (SES API reference, SendRawEmail:
https://docs.aws.amazon.com/ses/latest/APIReference/API_SendRawEmail.html; SES accepts both
fields, once each: https://docs.aws.amazon.com/ses/latest/dg/header-fields.html).

RFC 8058 (https://www.rfc-editor.org/rfc/rfc8058, sections 3.1 and 3.2): ``List-Unsubscribe``
holds an HTTPS URI that identifies the recipient by itself, and ``List-Unsubscribe-Post`` is
exactly ``List-Unsubscribe=One-Click``; the provider then POSTs that text as a form to the URI,
without cookies or any further step, and the POST alone must unsubscribe.

The policy keeps each header on one line (up to RFC 5322's 998 characters): Python's default
would fold the long token URL into RFC 2047 encoded words, which no provider reads as a URI.
The body is 7-bit (quoted-printable when the text is not ASCII), as SendRawEmail advises.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP

__all__ = ["ONE_CLICK", "POLICY", "one_click_headers", "plain_message"]

ONE_CLICK = "List-Unsubscribe=One-Click"
"""The value of ``List-Unsubscribe-Post``, and the form body the provider POSTs (RFC 8058)."""

POLICY = SMTP.clone(cte_type="7bit", max_line_length=998)


def one_click_headers(unsubscribe_url: str) -> dict[str, str]:
    """The RFC 8058 header fields for a URL that unsubscribes on a POST."""
    return {"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": ONE_CLICK}


def plain_message(
    sender: str, to: str, subject: str, text: str, *, unsubscribe_url: str | None = None
) -> EmailMessage:
    """The email: UTF-8 plain text only (user text is never rendered as markup)."""
    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    if unsubscribe_url:
        for name, value in one_click_headers(unsubscribe_url).items():
            message[name] = value
    message.set_content(text, charset="utf-8")
    return message
