"""The email as it leaves hubbub (``mail/message.py``, ``mail/ses.py``): a plain-text MIME
message with RFC 8058's one-click unsubscribe header fields, sent with SES ``SendRawEmail``
(its parameters checked against botocore's SES model, as the real client would)."""

from __future__ import annotations

import email
import email.policy
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.validate import validate_parameters

from hubbub.mail.message import ONE_CLICK, plain_message
from hubbub.mail.port import MailRejected
from hubbub.mail.ses import SesMailer

URL = "https://abc123.execute-api.us-east-1.amazonaws.com/api/mail/unsubscribe?token=" + "e" * 300
TEXT = "Hello Zoë,\n\nOlga:\n  It ships tomorrow.\n.\n"
_MODEL = botocore.session.get_session().get_service_model("ses")


def parsed(raw: bytes) -> email.message.EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


def test_the_message_carries_both_one_click_fields_on_one_line() -> None:
    raw = plain_message("support@example.com", "ann@x.org", "You have an answer", TEXT,
                        unsubscribe_url=URL).as_bytes()  # fmt: skip
    # unfolded, not RFC 2047-encoded: a provider reads the URI between the angle brackets
    assert f"\r\nList-Unsubscribe: <{URL}>\r\n".encode() in raw
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    assert ONE_CLICK == "List-Unsubscribe=One-Click"
    assert raw.isascii()  # 7-bit, as SendRawEmail advises
    message = parsed(raw)
    assert (message["From"], message["To"], message["Subject"]) == (
        "support@example.com",
        "ann@x.org",
        "You have an answer",
    )
    assert message.get_content_type() == "text/plain" and not message.is_multipart()
    assert message.get_content_charset() == "utf-8"
    assert message.get_content().replace("\r\n", "\n") == TEXT


def test_without_a_url_there_is_no_unsubscribe_field() -> None:
    message = parsed(plain_message("s@x.org", "a@x.org", "s", "t\n").as_bytes())
    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None


class FakeSes:
    """Records each call after checking it against the SES service model."""

    def __init__(self, error: str | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.error = error

    def send_raw_email(self, **params: Any) -> dict[str, Any]:
        validate_parameters(params, _MODEL.operation_model("SendRawEmail").input_shape)
        self.calls.append(("SendRawEmail", params))
        if self.error is not None:
            raise ClientError({"Error": {"Code": self.error, "Message": "no"}}, "SendRawEmail")
        return {"MessageId": "m-1"}


def test_ses_gets_a_raw_message_from_the_sender_identity_to_the_visitor() -> None:
    ses = FakeSes()
    SesMailer("support@example.com", client=ses).send("ann@x.org", "Hi", TEXT, unsubscribe_url=URL)
    [(action, params)] = ses.calls
    assert action == "SendRawEmail"
    assert (params["Source"], params["Destinations"]) == ("support@example.com", ["ann@x.org"])
    message = parsed(params["RawMessage"]["Data"])
    assert message["List-Unsubscribe"] == f"<{URL}>"
    assert message["List-Unsubscribe-Post"] == ONE_CLICK


@pytest.mark.parametrize(
    ("code", "permanent"),
    [("MessageRejected", True), ("InvalidParameterValue", True), ("Throttling", False)],
)
def test_a_refusal_for_good_is_mail_rejected_and_anything_else_is_raised(
    code: str, permanent: bool
) -> None:
    mailer = SesMailer("support@example.com", client=FakeSes(error=code))
    expected: type[Exception] = MailRejected if permanent else ClientError
    with pytest.raises(expected) as raised:
        mailer.send("ann@x.org", "Hi", "t\n", unsubscribe_url=URL)
    assert "ann@x.org" not in str(raised.value)
