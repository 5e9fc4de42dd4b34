"""Email to visitors who left, through a real ``hubbub serve`` (issue 19, item 4).

The whole path runs as on AWS: an operator's answer is a message item on the table's stream;
the mapping's FilterCriteria hand operators' desk answers to RelayFunction, which notes a
pending mail; the schedule's MailSendFunction sends what is due through SES (moto, behind the
runtime's recorder), and ``hubbub mail --data-dir`` prints it. The 10-minute window is not
waited for: the runtime's clock is moved past it (``POST /_runtime/clock``), as the functions'
clock follows it, and the schedule is fired on demand.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urljoin

import boto3
import pytest
from botocore.exceptions import ClientError

from hubbub.client import HubbubClient
from tests.conftest import TIMEOUT_FACTOR
from tests.e2e.conftest import StoreArgs
from tests.e2e.test_product import add_operator
from tests.support.server import REPO, ServerProcess
from tests.support.smtpsink import SmtpSink
from tests.support.waiting import eventually

SENDER = "support@example.com"
SITE = "https://example.com/help"
MAIL_ARGS = ("--parameter-overrides", f"MailSender={SENDER}", f"SiteUrl={SITE}")
WINDOW_MS = 600_000


def hubbub_mail(server: ServerProcess, *args: str) -> str:
    """What a developer reads: ``hubbub mail --data-dir DIR``."""
    done = subprocess.run(
        [sys.executable, "-m", "hubbub.cli", "mail", "--data-dir", str(server.data_dir), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60 * TIMEOUT_FACTOR,
        check=True,
    )
    return done.stdout


def emails_to(server: ServerProcess, address: str) -> list[str]:
    """Each email printed for ``address``, one string per email."""
    printed = hubbub_mail(server, "--to", address)
    return [chunk for chunk in printed.split("--- ")[1:] if chunk.strip()]


def fire(server: ServerProcess) -> dict[str, Any]:
    answer = server.admin("schedules/MailSendFunction.Every/fire", {})
    assert answer["ok"], answer
    report: dict[str, Any] = answer["payload"]
    return report


def move_clock(server: ServerProcess, ms: int) -> None:
    offset = int(server.admin("clock")["offsetMs"])
    server.admin("clock", {"offsetMs": offset + ms})


async def mailed(server: ServerProcess, address: str, count: int = 1) -> list[str]:
    """Fire the schedule until ``count`` emails went to ``address`` (the queueing function runs
    on the stream, so the pending mail may be noted a moment after the answer's ack)."""

    def probe() -> list[str] | None:
        fire(server)
        found = emails_to(server, address)
        return found if len(found) >= count else None

    return await eventually(probe, timeout=30, what=f"{count} email(s) to {address}")


def disconnects(server: ServerProcess) -> float:
    """How many ``$disconnect`` invocations have finished (``/metrics``)."""
    with urllib.request.urlopen(f"{server.base_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    prefix = 'lambda_invocations_total{function="DisconnectFunction"} '
    found = [line.removeprefix(prefix) for line in text.splitlines() if line.startswith(prefix)]
    return float(found[0]) if found else 0.0


async def visitor(server: ServerProcess, nickname: str, email: str | None) -> tuple[str, str]:
    """A visitor who registers (with ``email``), asks in their desk topic and closes the tab;
    returns (desk topic, token) once their ``$disconnect`` has run. Until it has, the visitor
    still follows the conversation, and a mail that falls due then is dropped, as it should be
    for a visitor who is there: on a loaded machine that made a test wait for an email that
    would never come."""
    client = await HubbubClient.connect(server.ws_url)
    welcome = await client.register(nickname, email)
    topic = f"desk/{welcome['user']['id']}"
    await client.subscribe(topic)
    await client.send(topic, "where is my order?")
    before = disconnects(server)
    await client.close()
    await eventually(lambda: disconnects(server) > before, what=f"{nickname}'s $disconnect")
    return topic, str(welcome["token"])


def unique(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:6]}@example.org"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10 * TIMEOUT_FACTOR) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


@pytest.mark.store
async def test_one_email_gathers_the_answers_and_only_visitors_away_with_an_address_get_one(
    fresh_server: Callable[..., ServerProcess],
) -> None:
    server = fresh_server(*MAIL_ARGS)
    ops = await HubbubClient.connect(server.ws_url, token=add_operator(server, "olga"))
    away = unique("away")
    here = unique("here")
    away_topic, _ = await visitor(server, "Ann", away)
    silent_topic, _ = await visitor(server, "Nobody", None)
    present = await HubbubClient.connect(server.ws_url)
    here_user = (await present.register("Hal", here))["user"]["id"]
    await present.subscribe(f"desk/{here_user}")

    for topic in (silent_topic, f"desk/{here_user}", away_topic):
        await ops.send(topic, "Hello! Looking into it.")
        await ops.send(topic, "It ships tomorrow.")
    await present.wait_for_seq(f"desk/{here_user}", 2)
    assert fire(server)["sent"] == 0  # inside the window: nothing is due yet

    move_clock(server, WINDOW_MS + 1000)
    [email] = await mailed(server, away)
    assert fire(server)["sent"] == 0
    assert len(emails_to(server, away)) == 1
    assert "Hello! Looking into it." in email and "It ships tomorrow." in email
    assert f"From: {SENDER}" in email and f"To: {away}" in email
    assert "Subject: You have 2 answers" in email
    assert SITE in email
    assert "/api/mail/unsubscribe?token=" in email
    assert emails_to(server, here) == []  # followed the conversation: read it there
    assert len(emails_to(server, "")) == 0 and hubbub_mail(server).count("--- ") == 1
    await present.close()
    await ops.close()

    server.restart()
    assert emails_to(server, away) == [email]  # kept in the data dir, not in moto's memory


def post_form(url: str, body: bytes) -> tuple[int, str]:
    """A form POST as a browser or a mailbox provider sends it: no cookie, no authorization."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10 * TIMEOUT_FACTOR) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def header_of(email: str, name: str) -> str:
    """A header field's value as ``hubbub mail`` prints it."""
    head = email.split("\n\n", 1)[0]
    return next(line.split(": ", 1)[1] for line in head.splitlines() if line.startswith(name + ":"))


@pytest.mark.store
async def test_the_link_asks_first_and_the_one_click_post_stops_the_emails(
    fresh_server: Callable[..., ServerProcess],
) -> None:
    """RFC 8058: the email names a URL in ``List-Unsubscribe`` and asks for one-click in
    ``List-Unsubscribe-Post``; a GET of the link (a mail scanner, a prefetch) unsubscribes
    nobody, the provider's POST of ``List-Unsubscribe=One-Click`` does."""
    server = fresh_server(*MAIL_ARGS)
    ops = await HubbubClient.connect(server.ws_url, token=add_operator(server, "olga"))
    address = unique("leaver")
    topic, _ = await visitor(server, "Lea", address)
    await ops.send(topic, "First answer.")
    move_clock(server, WINDOW_MS + 1000)
    [email] = await mailed(server, address)

    link = next(line for line in email.splitlines() if line.startswith("No more emails: "))
    url = link.split(": ", 1)[1].strip()
    assert url.startswith(f"{server.base_url}/api/mail/unsubscribe?token=")  # the HTTP API's
    assert header_of(email, "List-Unsubscribe") == f"<{url}>"
    assert header_of(email, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    [recorded] = [json.loads(line) for line in hubbub_mail(server, "--json").splitlines()]
    assert recorded["headers"] == {
        "List-Unsubscribe": f"<{url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }  # in DATA_DIR/ses-sent.jsonl

    for _ in range(2):  # a scanner, then the visitor: a page that asks, nothing more
        status, page = get(url)
        assert status == 200 and "<form method=post" in page and "Unsubscribed" not in page
        assert address not in page
    await ops.send(topic, "Second answer, after the link was opened.")
    move_clock(server, WINDOW_MS + 1000)
    second = (await mailed(server, address, 2))[1]  # still subscribed
    one_click = header_of(second, "List-Unsubscribe")[1:-1]

    assert post_form(url[: -len("x")] + "y", b"List-Unsubscribe=One-Click")[0] == 400  # forged
    status, page = post_form(one_click, b"List-Unsubscribe=One-Click")
    assert status == 200 and "Unsubscribed" in page and address not in page
    assert post_form(one_click, b"List-Unsubscribe=One-Click")[0] == 200  # idempotent
    form_token = page_token(get(url)[1])  # the confirmation page's own form posts too
    status, page = post_form(urljoin(url, "unsubscribe"), urlencode({"token": form_token}).encode())
    assert status == 200 and "Unsubscribed" in page
    assert address not in server.log_path.read_text()  # never in the server's or functions' logs

    # a control visitor answered after the leaver: once their email is out, the leaver's
    # answers (earlier on the same stream) have been through both functions too
    control = unique("control")
    control_topic, _ = await visitor(server, "Cid", control)
    await ops.send(topic, "Third answer, after the one-click unsubscribe.")
    await ops.send(control_topic, "Your answer.")
    await ops.close()
    move_clock(server, WINDOW_MS + 1000)
    await mailed(server, control)
    fire(server)
    assert len(emails_to(server, address)) == 2


def page_token(page: str) -> str:
    found = re.search(r"name=token value='([^']*)'", page)
    assert found is not None, page
    return html.unescape(found.group(1))


async def test_ses_checks_signatures_refuses_unverified_senders_and_relays_to_smtp(
    tmp_path: Path, store_args: StoreArgs
) -> None:
    """The SES emulation as any function meets it, and relaying to a real SMTP server."""
    with SmtpSink() as sink:
        env = {"HUBBUB_SES_SMTP_RELAY": f"127.0.0.1:{sink.port}"}
        server = ServerProcess(tmp_path / "data", *store_args(), *MAIL_ARGS, env=env).start()
        try:
            ses = boto3.client(
                "ses",
                region_name="us-east-1",
                endpoint_url=f"{server.base_url}/_aws/ses",
                **json.loads((server.data_dir / "runtime-credentials.json").read_text()),
            )
            with pytest.raises(ClientError) as refused:
                ses.send_email(
                    Source="someone@else.example",
                    Destination={"ToAddresses": ["a@example.org"]},
                    Message={"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "t"}}},
                )
            assert refused.value.response["Error"]["Code"] == "MessageRejected"
            unsigned = urllib.request.Request(
                f"{server.base_url}/_aws/ses", data=b"Action=SendEmail", method="POST"
            )
            with pytest.raises(urllib.error.HTTPError) as forbidden:
                await asyncio.to_thread(urllib.request.urlopen, unsigned, timeout=10)
            assert forbidden.value.code == 403
            forbidden.value.close()

            ops = await HubbubClient.connect(server.ws_url, token=add_operator(server, "olga"))
            address = unique("relayed")
            topic, _ = await visitor(server, "Rae", address)
            await ops.send(topic, "Relayed answer.")
            await ops.close()
            move_clock(server, WINDOW_MS + 1000)
            await mailed(server, address)
            [got] = await asyncio.to_thread(sink.wait_for, 1, 15 * TIMEOUT_FACTOR)
            assert got.recipients == [f"<{address}>"]
            assert "Relayed answer." in got.message.get_body(("plain",)).get_content()
            assert got.message["List-Unsubscribe"].startswith(f"<{server.base_url}/api/mail/")
            assert got.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
            assert len(emails_to(server, "someone@else.example")) == 0
        finally:
            server.stop()
