"""The REST routes of moderation and of email opt-outs, included into the HTTP API's resolver
(``handlers/http.py``), so they share its token check, its error answers and its OpenAPI
document.

Moderation reaches every channel this way: ``POST /api/moderation`` is the WebSocket's
``moderate`` and ``GET /api/sanctions`` its ``sanctions``, through the same service and checks
(operators only).

Unsubscribing is in two steps, for the link at the foot of every email sent to a visitor
carries its own signed token (no sign-in) and mail scanners and link prefetchers follow such
links on their own: ``GET /api/mail/unsubscribe?token=`` changes nothing and answers a page
with a button (a plain form, no script); ``POST /api/mail/unsubscribe`` unsubscribes, with the
token in the query string or in the form. That POST is also RFC 8058's one-click unsubscribe
(https://www.rfc-editor.org/rfc/rfc8058, section 3.2): the mailbox provider POSTs the form
``List-Unsubscribe=One-Click`` to the email's ``List-Unsubscribe`` URL, token in its query
string, with no cookie and no further step.
"""

from __future__ import annotations

import binascii
import html
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from pydantic import BaseModel, ConfigDict, Field

from hubbub.chat.mailing import unsubscribe
from hubbub.chat.tokens import verify_unsubscribe
from hubbub.handlers.bootstrap import chat
from hubbub.ids import UserId
from hubbub.protocol.errors import ProtocolError
from hubbub.protocol.fields import SANCTION_SECONDS_MAX, TopicText, UserIdText
from hubbub.protocol.limits import DEFAULT_LIMITS
from hubbub.store.port import User

__all__ = ["router"]

router = Router()  # type: ignore[no-untyped-call]  # Powertools leaves it unannotated


class Sanctioning(BaseModel):
    """The body of ``POST /api/moderation``: the WebSocket ``moderate`` frame's fields."""

    model_config = ConfigDict(populate_by_name=True)

    topic: TopicText
    user_id: UserIdText = Field(alias="userId")
    sanction: Literal["mute", "unmute", "ban", "unban", "kick"]
    seconds: Annotated[int, Field(strict=True, ge=1, le=SANCTION_SECONDS_MAX)] | None = None


def _user(authorization: str | None) -> User:
    from hubbub.handlers.http import _caller  # the resolver's own check; it includes this router

    return _caller(authorization)


def _without_type(event: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in event.items() if k != "type"}


@router.post("/api/moderation")
def moderate(
    body: Sanctioning, authorization: Annotated[str | None, Header()] = None
) -> dict[str, Any]:
    """Mute, unmute, ban, unban or kick a user on a topic (operators only)."""
    service = chat()
    operator = _user(authorization)
    reply = service.moderation.moderate(
        operator, service.topic(body.topic), UserId(body.user_id), body.sanction, body.seconds
    )
    return _without_type(reply)


@router.get("/api/sanctions")
def sanctions(
    topic: Annotated[
        str | None, Query(min_length=1, max_length=DEFAULT_LIMITS.max_topic_chars)
    ] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """The mutes and bans in force, on one topic or on all (operators only)."""
    service = chat()
    operator = _user(authorization)
    listed = None if topic is None else service.topic(topic)
    return _without_type(service.moderation.list(operator, listed))


_PAGE = (
    "<!doctype html><html lang=en><meta charset=utf-8>"
    "<meta name=viewport content='width=device-width'><title>{title}</title>"
    "<body style='font-family:sans-serif;max-width:32em;margin:3em auto'>"
    "<h1>{title}</h1><p>{text}</p>{form}</body></html>"
)
_CONFIRM = (
    "<form method=post action=unsubscribe>"  # relative: the same route, whatever the base path
    "<input type=hidden name=token value='{token}'>"
    "<button type=submit>Unsubscribe</button></form>"
)
_TOKEN_CHARS = 2000
_FORM_TYPE = "application/x-www-form-urlencoded"


def _page(status: int, title: str, text: str, form: str = "") -> Response[str]:
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=_PAGE.format(title=title, text=text, form=form),
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _broken_link() -> Response[str]:
    return _page(400, "This link does not work", "It may be incomplete or too old.")


@router.get("/api/mail/unsubscribe")
def mail_unsubscribe(
    token: Annotated[str, Query(min_length=1, max_length=_TOKEN_CHARS)],
) -> Response[str]:
    """The link in each email: asks to confirm, and changes nothing (a scanner or a prefetch
    that follows the link unsubscribes nobody). A bad or expired token answers 400."""
    service = chat()
    try:
        verify_unsubscribe(service.tokens, token, service.clock.now_ms())
    except ProtocolError:
        return _broken_link()
    return _page(
        200,
        "Stop these emails?",
        "Press the button and you will get no more emails about your conversations.",
        _CONFIRM.format(token=html.escape(token, quote=True)),
    )


@router.post("/api/mail/unsubscribe")
def mail_unsubscribe_confirmed(
    token: Annotated[str | None, Query(min_length=1, max_length=_TOKEN_CHARS)] = None,
) -> Response[str]:
    """Stop the emails about answers given while one was away: the confirmation page's form
    (token in the form) or a mailbox provider's one-click POST (token in the query string,
    body ``List-Unsubscribe=One-Click``, RFC 8058). Idempotent: a second POST answers the same
    page."""
    service = chat()
    found = token or _form_token()
    if found is None:
        return _broken_link()
    try:
        unsubscribe(service.tokens, service.store, found, service.clock.now_ms())
    except ProtocolError:
        return _broken_link()
    return _page(200, "Unsubscribed", "You will get no more emails about your conversations.")


def _form_token() -> str | None:
    """The ``token`` field of a URL-encoded form body, if any (anything else: None)."""
    event = router.current_event
    if not (event.headers.get("content-type") or "").lower().startswith(_FORM_TYPE):
        return None
    try:
        fields = parse_qs(event.decoded_body or "", max_num_fields=20)
    except (ValueError, binascii.Error):  # not base64, not UTF-8, too many fields
        return None
    value = fields.get("token", [""])[-1]
    return value if 0 < len(value) <= _TOKEN_CHARS else None
