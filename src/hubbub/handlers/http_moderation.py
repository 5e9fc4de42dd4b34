"""The REST routes of moderation and of email opt-outs, included into the HTTP API's resolver
(``handlers/http.py``), so they share its token check, its error answers and its OpenAPI
document.

Moderation reaches every channel this way: ``POST /api/moderation`` is the WebSocket's
``moderate`` and ``GET /api/sanctions`` its ``sanctions``, through the same service and checks
(operators only). ``GET /api/mail/unsubscribe`` is the link at the foot of every email sent to
a visitor: it carries its own signed token, so it needs no sign-in, and answers a small page.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Header, Query
from pydantic import BaseModel, ConfigDict, Field

from hubbub.chat.mailing import unsubscribe
from hubbub.handlers.bootstrap import chat
from hubbub.ids import UserId
from hubbub.protocol.actions import SANCTION_SECONDS_MAX, TopicText, UserIdText
from hubbub.protocol.errors import ProtocolError
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
    "<h1>{title}</h1><p>{text}</p></body></html>"
)


def _page(status: int, title: str, text: str) -> Response[str]:
    return Response(
        status_code=status,
        content_type="text/html; charset=utf-8",
        body=_PAGE.format(title=title, text=text),
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


@router.get("/api/mail/unsubscribe")
def mail_unsubscribe(
    token: Annotated[str, Query(min_length=1, max_length=2000)],
) -> Response[str]:
    """Stop the emails about answers given while one was away (the link in each email).
    Idempotent: a second visit answers the same page."""
    service = chat()
    try:
        unsubscribe(service.tokens, service.store, token, service.clock.now_ms())
    except ProtocolError:
        return _page(400, "This link does not work", "It may be incomplete or too old.")
    return _page(200, "Unsubscribed", "You will get no more emails about your conversations.")
