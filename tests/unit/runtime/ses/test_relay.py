"""Relaying the emails SES accepted to an SMTP server (``HUBBUB_SES_SMTP_RELAY``)."""

from __future__ import annotations

import pytest

from hubbub.runtime.ses.relay import RelayTarget, message_of, relay, relay_target
from hubbub.runtime.ses.requests import SentMail
from tests.support.smtpsink import SmtpSink

MAIL = SentMail(
    message_id="m-1",
    at_ms=1,
    source="support@example.com",
    to=["ann@example.org"],
    cc=["cc@example.org"],
    bcc=["hidden@example.org"],
    subject="You have an answer",
    text="Hello Ann,\n.\nIt ships tomorrow.\n",
    html="<p>It ships tomorrow.</p>",
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        ({"HUBBUB_SES_SMTP_RELAY": " "}, None),
        ({"HUBBUB_SES_SMTP_RELAY": "mail.example.com:25"}, RelayTarget("mail.example.com", 25)),
        ({"HUBBUB_SES_SMTP_RELAY": "[::1]:2525"}, RelayTarget("::1", 2525)),
        (
            {
                "HUBBUB_SES_SMTP_RELAY": "smtp.example.com:587",
                "HUBBUB_SES_SMTP_STARTTLS": "true",
                "HUBBUB_SES_SMTP_USERNAME": "u",
                "HUBBUB_SES_SMTP_PASSWORD": "p",
            },
            RelayTarget("smtp.example.com", 587, starttls=True, username="u", password="p"),
        ),
    ],
)
def test_the_relay_setting(env: dict[str, str], expected: RelayTarget | None) -> None:
    assert relay_target(env) == expected


@pytest.mark.parametrize("raw", ["mail.example.com", ":25", "host:0", "host:99999", "host:x"])
def test_a_malformed_relay_setting_is_refused(raw: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        relay_target({"HUBBUB_SES_SMTP_RELAY": raw})


def test_the_relayed_email_is_the_one_ses_accepted() -> None:
    with SmtpSink() as sink:
        relay(MAIL, RelayTarget("127.0.0.1", sink.port), timeout_s=5)
        [got] = sink.wait_for(1, timeout=5)
    assert got.sender == "<support@example.com>"
    assert got.recipients == ["<ann@example.org>", "<cc@example.org>", "<hidden@example.org>"]
    message = got.message
    assert (message["From"], message["To"], message["Cc"]) == (
        "support@example.com",
        "ann@example.org",
        "cc@example.org",
    )
    assert message["Bcc"] is None and message["Subject"] == "You have an answer"
    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    assert text.get_content().replace("\r\n", "\n") == MAIL.text  # the lone "." survives
    html = message.get_body(preferencelist=("html",))
    assert html is not None and "ships tomorrow" in html.get_content()


def test_a_mail_without_html_is_plain_text() -> None:
    plain = message_of(SentMail("m", 1, "a@x", ["b@x"], "s", "t\n"))
    assert plain.get_content_type() == "text/plain"


def test_a_raw_emails_other_fields_are_relayed_unfolded() -> None:
    url = "https://api.example.com/api/mail/unsubscribe?token=" + "t" * 300
    headers = {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    mail = SentMail("m", 1, "a@x", ["b@x"], "s", "t\n", headers=headers)
    with SmtpSink() as sink:
        relay(mail, RelayTarget("127.0.0.1", sink.port), timeout_s=5)
        [got] = sink.wait_for(1, timeout=5)
    assert got.message["List-Unsubscribe"] == f"<{url}>"
    assert got.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"List-Unsubscribe: <{url}>\r\n".encode() in message_of(mail).as_bytes()
