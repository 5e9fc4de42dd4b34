"""The Mailer on Amazon SES: one ``SendEmail`` (the SES v1 API) per email, from the stack's
verified sender identity.

The endpoint is the standard ``AWS_ENDPOINT_URL_SES`` that boto3 reads by itself, which the
local runtime sets to its SES emulation; the function's role may call ``ses:SendEmail`` on that
identity only (template.yaml).
"""

from __future__ import annotations

from typing import Any

from hubbub.mail.port import Mailer, MailRejected

__all__ = ["SesMailer"]

_REJECTED = frozenset(
    {"MessageRejected", "MailFromDomainNotVerifiedException", "InvalidParameterValue"}
)
"""SES errors that say this email will never go (SES API reference, SendEmail, Errors)."""


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

    def send(self, to: str, subject: str, text: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self._ses().send_email(
                Source=self._sender,
                Destination={"ToAddresses": [to]},
                Message={
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": text, "Charset": "UTF-8"}},
                },
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _REJECTED:
                raise MailRejected(code) from None  # the message names the address: not kept
            raise
