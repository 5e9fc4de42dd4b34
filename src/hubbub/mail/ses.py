"""The Mailer on Amazon SES: one ``SendRawEmail`` (the SES v1 API) per email, from the stack's
verified sender identity.

``SendRawEmail`` rather than ``SendEmail``: only a raw MIME message can carry the
``List-Unsubscribe`` header fields of RFC 8058's one-click unsubscribe (``mail/message.py``;
SES API reference, SendRawEmail:
https://docs.aws.amazon.com/ses/latest/APIReference/API_SendRawEmail.html). ``Source`` and
``Destinations`` are given as parameters too, so SES reads neither from the message.

The endpoint is the standard ``AWS_ENDPOINT_URL_SES`` that boto3 reads by itself, which the
local runtime sets to its SES emulation; the function's role may call ``ses:SendRawEmail`` on
that identity only (template.yaml).
"""

from __future__ import annotations

from typing import Any

from hubbub.mail.message import plain_message
from hubbub.mail.port import Mailer, MailRejected

__all__ = ["SesMailer"]

_REJECTED = frozenset(
    {"MessageRejected", "MailFromDomainNotVerifiedException", "InvalidParameterValue"}
)
"""SES errors that say this email will never go (SES API reference, SendRawEmail, Errors)."""


class SesMailer(Mailer):
    def __init__(self, sender: str, *, client: Any = None) -> None:
        if not sender:
            raise ValueError("MAIL_SENDER: the verified SES identity to send from is not set")
        self._sender = sender
        self._client = client

    def _ses(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3})
            self._client = boto3.client("ses", config=config)
        return self._client

    def send(self, to: str, subject: str, text: str, *, unsubscribe_url: str | None = None) -> None:
        from botocore.exceptions import ClientError

        message = plain_message(self._sender, to, subject, text, unsubscribe_url=unsubscribe_url)
        try:
            self._ses().send_raw_email(
                Source=self._sender,
                Destinations=[to],
                RawMessage={"Data": message.as_bytes()},
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _REJECTED:
                raise MailRejected(code) from None  # the message names the address: not kept
            raise
