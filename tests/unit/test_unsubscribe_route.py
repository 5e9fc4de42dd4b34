"""The unsubscribe route of the HTTP API (``handlers/http_moderation.py``), through the real
handler with payload format 2.0 events: the link's GET only asks (mail scanners and link
prefetchers follow links), the POST unsubscribes, by the page's form or by a mailbox
provider's RFC 8058 one-click POST (``List-Unsubscribe=One-Click`` to the URL in the email's
``List-Unsubscribe`` field, token in its query string, no cookie)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model

from hubbub.chat.tokens import issue_unsubscribe
from hubbub.clock import ManualClock
from hubbub.handlers import bootstrap
from hubbub.handlers.http import handler
from hubbub.ids import UserId
from hubbub.store.port import Role, User
from hubbub.store.sqlite.adapter import SqliteStore
from tests.support.aws_events import http_api_event
from tests.unit.fakes import RecordingPush

T0 = 1_800_000_000_000
ANN = UserId("v_ann")
PATH = "/api/mail/unsubscribe"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Desk:
    def __init__(self, tmp_path: Path) -> None:
        (tmp_path / "token-secret").write_bytes(b"s" * 32)
        self.store = SqliteStore(tmp_path / "hubbub.sqlite3")
        env = {"HUBBUB_RUNTIME_DATA_DIR": str(tmp_path)}
        self.chat = bootstrap.build_chat(
            env, store=self.store, clock=ManualClock(T0), push=RecordingPush()
        )
        self.token = issue_unsubscribe(self.chat.tokens, ANN, T0)

    def call(self, method: str, query: dict[str, str] | None = None, **kw: Any) -> dict[str, Any]:
        event = http_api_event(method, PATH, query=urlencode(query or {}), now_ms=T0, **kw)
        APIGatewayProxyEventV2Model.model_validate(event)
        answer: dict[str, Any] = handler(event, None)
        return answer

    def opted_out(self) -> bool:
        return bool(self.store.opted_out(ANN))


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Desk]:
    monkeypatch.setenv("HUBBUB_RUNTIME_DATA_DIR", str(tmp_path))
    world = Desk(tmp_path)
    bootstrap.use_chat(world.chat)
    try:
        yield world
    finally:
        bootstrap.use_chat(None)
        world.store.close()


def private(answer: dict[str, Any]) -> bool:
    headers = {k.lower(): v for k, v in answer["headers"].items()}
    return (
        headers["cache-control"] == "no-store"
        and headers["referrer-policy"] == "no-referrer"
        and headers["content-type"].startswith("text/html")
    )


def test_the_links_get_asks_and_changes_nothing(desk: Desk) -> None:
    for _ in range(3):  # a scanner, a prefetch, the visitor: nobody unsubscribed yet
        answer = desk.call("GET", {"token": desk.token})
        assert answer["statusCode"] == 200 and private(answer)
    assert not desk.opted_out()
    page = answer["body"]
    assert "<script" not in page.lower()
    form = re.search(r"<form method=post action=unsubscribe>.*?</form>", page)
    assert form is not None and "type=submit" in form.group(0)
    carried = re.search(r"name=token value='([^']*)'", form.group(0))
    assert carried is not None and html.unescape(carried.group(1)) == desk.token


def test_the_pages_form_post_unsubscribes_and_again_answers_the_same(desk: Desk) -> None:
    body = urlencode({"token": desk.token}).encode()
    first = desk.call("POST", headers=FORM, body=body)
    assert first["statusCode"] == 200 and private(first) and "Unsubscribed" in first["body"]
    assert desk.opted_out()
    again = desk.call("POST", headers=FORM, body=body)
    assert (again["statusCode"], again["body"]) == (200, first["body"])


@pytest.mark.parametrize(
    "content_type", ["application/x-www-form-urlencoded", "multipart/form-data; boundary=b"]
)
def test_a_one_click_post_unsubscribes_without_any_cookie(desk: Desk, content_type: str) -> None:
    if content_type.startswith("multipart"):
        body = b'--b\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
        body += b"One-Click\r\n--b--\r\n"
    else:
        body = b"List-Unsubscribe=One-Click"
    answer = desk.call(
        "POST", {"token": desk.token}, headers={"Content-Type": content_type}, body=body
    )
    assert answer["statusCode"] == 200 and "Unsubscribed" in answer["body"]
    assert desk.opted_out()


@pytest.mark.parametrize(
    ("method", "query", "body"),
    [
        ("GET", {"token": "not-a-token"}, None),
        ("POST", {"token": "not-a-token"}, b"List-Unsubscribe=One-Click"),
        ("POST", None, b"token=not-a-token"),
        ("POST", None, b"List-Unsubscribe=One-Click"),  # no token anywhere
        ("POST", None, b"token=" + b"x" * 2001),
        ("POST", None, b"\xff\xfe=%%%"),
    ],
)
def test_a_bad_token_answers_the_400_page_and_changes_nothing(
    desk: Desk, method: str, query: dict[str, str] | None, body: bytes | None
) -> None:
    answer = desk.call(method, query, headers=FORM, body=body)
    assert answer["statusCode"] == 400 and private(answer)
    assert "This link does not work" in answer["body"]
    assert not desk.opted_out()


def test_an_expired_link_is_refused_by_get_and_post(desk: Desk) -> None:
    old = issue_unsubscribe(desk.chat.tokens, ANN, T0 - 366 * 24 * 3600 * 1000)
    assert desk.call("GET", {"token": old})["statusCode"] == 400
    assert desk.call("POST", {"token": old}, headers=FORM, body=b"")["statusCode"] == 400
    assert not desk.opted_out()


def test_a_sign_in_token_unsubscribes_nobody(desk: Desk) -> None:
    sign_in = desk.chat.tokens.issue(User(ANN, Role.VISITOR, "Ann"), T0)
    answer = desk.call("POST", {"token": sign_in}, headers=FORM, body=b"List-Unsubscribe=One-Click")
    assert answer["statusCode"] == 400 and not desk.opted_out()
