"""Reading SES requests as boto3 sends them (serialised here by botocore's own Query
serializer from the SES service model, not typed by hand), and the outbox they are kept in."""

from __future__ import annotations

import os
import stat
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import botocore.session
from botocore.serialize import create_serializer

from hubbub.mail.message import plain_message
from hubbub.runtime.ses.outbox import OUTBOX_NAME, append_sent, read_sent
from hubbub.runtime.ses.requests import SentMail, action_of, form_of, sent_mail

_MODEL = botocore.session.get_session().get_service_model("ses")


def wire(operation: str, **params: Any) -> bytes:
    """The form body boto3's ``ses`` client sends for ``operation``."""
    request = create_serializer("query").serialize_to_request(
        params, _MODEL.operation_model(operation)
    )
    body = request["body"]
    if isinstance(body, dict):
        from urllib.parse import urlencode

        return urlencode(body).encode()
    return body if isinstance(body, bytes) else str(body).encode()


def test_a_send_email_is_read_field_for_field() -> None:
    body = wire(
        "SendEmail",
        Source="support@example.com",
        Destination={"ToAddresses": ["a@x.org", "b@x.org"], "CcAddresses": ["c@x.org"]},
        Message={
            "Subject": {"Data": "Hi & bye", "Charset": "UTF-8"},
            "Body": {"Text": {"Data": "Line 1\nLine 2 é"}, "Html": {"Data": "<p>x</p>"}},
        },
    )
    form = form_of(body)
    assert action_of(form) == "SendEmail"
    assert sent_mail(form, "id-1", 5) == SentMail(
        message_id="id-1",
        at_ms=5,
        source="support@example.com",
        to=["a@x.org", "b@x.org"],
        cc=["c@x.org"],
        subject="Hi & bye",
        text="Line 1\nLine 2 é",
        html="<p>x</p>",
    )


def test_a_raw_email_is_read_from_its_mime_message() -> None:
    mime = EmailMessage()
    mime["From"] = "support@example.com"
    mime["To"] = "a@x.org"
    mime["Subject"] = "Raw"
    mime.set_content("Plain body\n")
    body = wire("SendRawEmail", RawMessage={"Data": mime.as_bytes()})
    mail = sent_mail(form_of(body), "id-2", 7)
    assert mail is not None
    assert (mail.source, mail.to, mail.subject, mail.text) == (
        "support@example.com",
        ["a@x.org"],
        "Raw",
        "Plain body\n",
    )


def test_a_raw_email_keeps_its_one_click_unsubscribe_fields() -> None:
    """What ``mail/ses.py`` sends: the fields a developer must see are recorded, and survive
    the outbox (an older line without them still reads)."""
    url = "http://127.0.0.1:8000/api/mail/unsubscribe?token=" + "t" * 250
    mime = plain_message("support@example.com", "a@x.org", "Hi", "Zoë\n", unsubscribe_url=url)
    body = wire(
        "SendRawEmail",
        Source="support@example.com",
        Destinations=["a@x.org"],
        RawMessage={"Data": mime.as_bytes()},
    )
    mail = sent_mail(form_of(body), "id-3", 9)
    assert mail is not None
    assert mail.headers == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    assert (mail.to, mail.text) == (["a@x.org"], "Zoë\n")
    assert SentMail.from_json(mail.to_json()) == mail
    older = {k: v for k, v in mail.to_json().items() if k != "headers"}
    assert SentMail.from_json(older).headers == {}


def test_other_actions_and_unreadable_raw_mail_record_nothing() -> None:
    assert sent_mail(form_of(wire("VerifyEmailIdentity", EmailAddress="a@x.org")), "i", 1) is None
    broken = form_of(b"Action=SendRawEmail&RawMessage.Data=%%%not-base64")
    assert sent_mail(broken, "i", 1) is None


def test_the_outbox_keeps_emails_in_order_privately_and_skips_a_torn_line(tmp_path: Path) -> None:
    first = SentMail("1", 1, "s@x", ["a@x"], "one", "text one")
    second = SentMail("2", 2, "s@x", ["b@x"], "two", "text two", html="<b>2</b>")
    assert read_sent(tmp_path) == []
    append_sent(tmp_path, first)
    with (tmp_path / OUTBOX_NAME).open("a") as out:
        out.write('{"message_id": "3", "at_ms"')  # a crash mid-line
    append_sent(tmp_path, second)
    assert read_sent(tmp_path) == [first, second]
    assert stat.S_IMODE(os.stat(tmp_path / OUTBOX_NAME).st_mode) == 0o600
