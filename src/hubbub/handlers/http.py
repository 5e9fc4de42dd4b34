"""The REST command channel (API Gateway HTTP API): the same services and store as the WebSocket
path, so a message posted here is pushed to WebSocket subscribers by the same stream fan-out.

Built on Powertools' HTTP resolver with validation on, which also generates the OpenAPI document
served at ``/api/openapi.json``.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from pydantic import BaseModel, Field, StringConstraints

from hubbub.handlers.bootstrap import chat
from hubbub.handlers.http_moderation import router as moderation_router
from hubbub.ids import UserId
from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.limits import DEFAULT_LIMITS, MAX_WIRE_INT
from hubbub.store.port import Role, StoreUnavailable, User

__all__ = ["app", "handler"]

app = APIGatewayHttpResolver(enable_validation=True)

_STATUS = {
    ErrorCode.BAD_REQUEST: 400,
    ErrorCode.UNKNOWN_ACTION: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.CONFLICT: 409,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.INTERNAL: 500,
}
_ANONYMOUS = User(UserId("g_rest"), Role.GUEST, None)
AttachmentId = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
]


class NewMessage(BaseModel):
    topic: str = Field(min_length=1, max_length=DEFAULT_LIMITS.max_topic_chars)
    text: str = Field(default="", max_length=DEFAULT_LIMITS.max_text_chars)
    attachments: list[AttachmentId] | None = Field(
        default=None, max_length=4 * DEFAULT_LIMITS.max_attachments
    )


class NewUpload(BaseModel):
    topic: str = Field(min_length=1, max_length=DEFAULT_LIMITS.max_topic_chars)
    filename: str = Field(min_length=1, max_length=1024)
    content_type: str = Field(alias="contentType", min_length=1, max_length=255)
    size: int = Field(ge=0, le=MAX_WIRE_INT)


class Edition(BaseModel):
    topic: str = Field(min_length=1, max_length=DEFAULT_LIMITS.max_topic_chars)
    text: str = Field(min_length=1, max_length=DEFAULT_LIMITS.max_text_chars)


MessageIdPath = Annotated[str, Path(min_length=1, max_length=64)]


class Posted(BaseModel):
    id: str
    topic: str
    seq: int
    ts: int
    duplicate: bool


def _caller(authorization: str | None) -> User:
    if not authorization:
        return _ANONYMOUS
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ProtocolError(ErrorCode.UNAUTHORIZED, "use 'Authorization: Bearer <token>'")
    user = chat().authenticate(token.strip())
    return user or _ANONYMOUS


def _protocol_error(exc: ProtocolError) -> Response[str]:
    body: dict[str, Any] = {"code": exc.code.value, "message": exc.message}
    headers = {}
    if exc.retry_after is not None:
        body["retryAfter"] = exc.retry_after
        # whole seconds, rounded up: a client that waits exactly this long is let through
        headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
    return Response(
        status_code=_STATUS[exc.code],
        content_type="application/json",
        body=json.dumps(body),
        headers=headers,
    )


def _unavailable(exc: StoreUnavailable) -> Response[str]:
    return _protocol_error(
        ProtocolError(ErrorCode.UNAVAILABLE, "storage is busy; retry", retry_after=1.0)
    )


app.exception_handler(ProtocolError)(_protocol_error)
app.exception_handler(StoreUnavailable)(_unavailable)
app.include_router(moderation_router)


@app.get("/api/health")
def health() -> dict[str, Any]:
    """Liveness: answers when the function can reach its store."""
    service = chat()
    service.store.last_seq(service.topic("room/health"))
    return {"status": "ok", "ts": service.clock.now_ms()}


@app.get("/api/whoami")
def whoami(authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """Who a token names (401 for a bad one): lets a sign-in page check a token directly."""
    return {"user": _caller(authorization).public()}


@app.post("/api/messages")
def post_message(
    message: NewMessage,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=64)],
    authorization: Annotated[str | None, Header()] = None,
) -> Response[str]:
    """Append a message to a topic; the same Idempotency-Key from the same sender stores it once."""
    user = _caller(authorization)
    result = chat().send(user, message.topic, message.text, idempotency_key, message.attachments)
    stored = result.message
    posted = Posted(
        id=stored.id, topic=stored.topic, seq=stored.seq, ts=stored.ts, duplicate=result.duplicate
    )
    return Response(
        status_code=200 if result.duplicate else 201,
        content_type="application/json",
        body=posted.model_dump_json(),
    )


@app.post("/api/uploads")
def upload(
    request: NewUpload, authorization: Annotated[str | None, Header()] = None
) -> Response[str]:
    """A presigned POST for one attachment to send on ``topic`` (docs/protocol.md,
    Attachments): refused with 4xx before any byte moves when the file breaks a limit."""
    prepared = chat().upload(
        _caller(authorization), request.topic, request.filename, request.content_type, request.size
    )
    return Response(status_code=201, content_type="application/json", body=json.dumps(prepared))


@app.patch("/api/messages/<message_id>")
def edit_message(
    message_id: MessageIdPath,
    edition: Edition,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Replace the text of one's own message; pushed to WebSocket subscribers as ``edited``.

    The topic travels in the body (and in ``?topic=`` for DELETE), not in the path: topics
    hold ``/``, which a path parameter cannot."""
    reply = chat().edit(_caller(authorization), edition.topic, message_id, edition.text)
    return {k: v for k, v in reply.items() if k != "type"}


@app.delete("/api/messages/<message_id>")
def delete_message(
    message_id: MessageIdPath,
    topic: Annotated[str, Query(min_length=1, max_length=DEFAULT_LIMITS.max_topic_chars)],
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Leave a tombstone in a message's place (its author or an operator); pushed as
    ``deleted``."""
    reply = chat().delete(_caller(authorization), topic, message_id)
    return {k: v for k, v in reply.items() if k != "type"}


@app.get("/api/history")
def history(
    topic: Annotated[str, Query(min_length=1, max_length=DEFAULT_LIMITS.max_topic_chars)],
    before: Annotated[int | None, Query(ge=0, le=MAX_WIRE_INT)] = None,
    after: Annotated[int | None, Query(ge=0, le=MAX_WIRE_INT)] = None,
    limit: Annotated[int, Query(ge=1, le=DEFAULT_LIMITS.history_page_max)] = 50,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """A page of a topic's messages, oldest first; page back with ``before``."""
    page = chat().history(_caller(authorization), topic, before, after, limit)
    return {k: v for k, v in page.items() if k != "type"}


@app.get("/api/rooms")
def rooms(limit: Annotated[int, Query(ge=1, le=100)] = 20) -> dict[str, Any]:
    """Rooms by recent activity, with their last message."""
    service = chat()
    heads = service.store.recent_topics("room", None, limit, service.clock.now_ms())
    return {
        "rooms": [
            {
                "topic": h.topic,
                "name": h.topic.split("/", 1)[1],
                "lastSeq": h.last_seq,
                "updatedAt": h.updated_at,
            }
            for h in heads
        ]
    }


@app.get("/api/conversations")
def conversations(
    before: Annotated[int | None, Query(ge=0, le=MAX_WIRE_INT)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Support-desk conversations by recency with unread counts (operators only)."""
    service = chat()
    page = service.desk.conversations(_caller(authorization), before, limit, service.clock.now_ms())
    return {k: v for k, v in page.items() if k != "type"}


@app.get("/api/openapi.json")
def openapi() -> Response[str]:
    """This document."""
    return Response(
        status_code=200,
        content_type="application/json",
        body=app.get_openapi_json_schema(title="hubbub REST command channel", version="1.0.0"),
    )


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
