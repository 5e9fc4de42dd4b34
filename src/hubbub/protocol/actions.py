"""Client frames: one pydantic model per action, parsed strictly.

Strict types mean ``"seq": "5"`` is refused rather than guessed at; unknown fields are ignored so
that newer clients can talk to older servers.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from hubbub.protocol.errors import ErrorCode, ProtocolError
from hubbub.protocol.fields import (
    SANCTION_SECONDS_MAX,
    AttachmentIdText,
    MessageIdText,
    MessageText,
    PageLimit,
    Seq,
    TopicText,
    UserIdText,
)
from hubbub.protocol.limits import DEFAULT_LIMITS

__all__ = [
    "Action",
    "Conversations",
    "Delete",
    "Edit",
    "Hello",
    "History",
    "Moderate",
    "Ping",
    "Presence",
    "Read",
    "Refresh",
    "Register",
    "Sanctions",
    "Send",
    "Subscribe",
    "Typing",
    "Unsubscribe",
    "parse_action",
    "peek_ref",
]

_L = DEFAULT_LIMITS


class _Frame(BaseModel):
    # defer_build: a model's validator is built the first time that action arrives, not at import
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)
    ref: Annotated[StrictStr, Field(max_length=_L.max_ref_chars)] | None = None


class Hello(_Frame):
    action: Literal["hello"]


class Ping(_Frame):
    action: Literal["ping"]


class Register(_Frame):
    action: Literal["register"]
    nickname: Annotated[StrictStr, Field(min_length=1, max_length=_L.max_nickname_chars)]
    email: Annotated[StrictStr, Field(max_length=254)] | None = None


class Subscribe(_Frame):
    action: Literal["subscribe"]
    topic: TopicText
    since: Seq | None = None


class Unsubscribe(_Frame):
    action: Literal["unsubscribe"]
    topic: TopicText


class Send(_Frame):
    """``text`` may be empty (or absent) when the message carries ``attachments``: upload ids
    from ``POST /api/uploads``; more than ``max_attachments`` is refused as ``too_large`` by the
    chat, past a hard bound here on what is parsed at all."""

    action: Literal["send"]
    topic: TopicText
    text: Annotated[StrictStr, Field(max_length=_L.max_text_chars)] = ""
    client_msg_id: Annotated[
        StrictStr, Field(alias="clientMsgId", min_length=1, max_length=_L.max_client_msg_id_chars)
    ]
    attachments: (
        Annotated[list[AttachmentIdText], Field(max_length=4 * _L.max_attachments)] | None
    ) = None


class Edit(_Frame):
    """Replace the text of one's own message; answered and pushed as ``edited``."""

    action: Literal["edit"]
    topic: TopicText
    id: MessageIdText
    text: MessageText


class Delete(_Frame):
    """Leave a tombstone in a message's place (its author or an operator); ``deleted``."""

    action: Literal["delete"]
    topic: TopicText
    id: MessageIdText


class Moderate(_Frame):
    """An operator's sanction on a user in a topic; ``seconds`` ends a mute or a ban."""

    action: Literal["moderate"]
    topic: TopicText
    user_id: UserIdText = Field(alias="userId")
    sanction: Literal["mute", "unmute", "ban", "unban", "kick"]
    seconds: Annotated[StrictInt, Field(ge=1, le=SANCTION_SECONDS_MAX)] | None = None


class Sanctions(_Frame):
    """The sanctions in force, on one topic or all (operators)."""

    action: Literal["sanctions"]
    topic: TopicText | None = None


class History(_Frame):
    action: Literal["history"]
    topic: TopicText
    before: Seq | None = None
    after: Seq | None = None
    limit: PageLimit | None = None


class Presence(_Frame):
    action: Literal["presence"]
    topic: TopicText
    limit: Annotated[StrictInt, Field(ge=1, le=_L.presence_page_max)] | None = None
    after: Annotated[StrictStr, Field(min_length=1, max_length=_L.max_cursor_chars)] | None = None
    """The ``next`` of the previous page: an opaque cursor."""


class Typing(_Frame):
    action: Literal["typing"]
    topic: TopicText


class Read(_Frame):
    action: Literal["read"]
    topic: TopicText
    seq: Seq


class Refresh(_Frame):
    """A new token for the connection's user, answered with ``token``: clients renew before their
    token expires, without reconnecting."""

    action: Literal["refresh"]


class Conversations(_Frame):
    action: Literal["conversations"]
    before: Seq | None = None
    limit: PageLimit | None = None


Action = (
    Hello
    | Ping
    | Register
    | Subscribe
    | Unsubscribe
    | Send
    | History
    | Presence
    | Typing
    | Read
    | Conversations
    | Refresh
    | Edit
    | Delete
    | Moderate
    | Sanctions
)

_MODELS: dict[str, type[_Frame]] = {
    "hello": Hello,
    "ping": Ping,
    "register": Register,
    "subscribe": Subscribe,
    "unsubscribe": Unsubscribe,
    "send": Send,
    "history": History,
    "presence": Presence,
    "typing": Typing,
    "read": Read,
    "conversations": Conversations,
    "refresh": Refresh,
    "edit": Edit,
    "delete": Delete,
    "moderate": Moderate,
    "sanctions": Sanctions,
}
ACTIONS: tuple[str, ...] = tuple(_MODELS)


def parse_action(body: str | None) -> Action:
    """Parse one client frame, or raise a ``ProtocolError`` that says exactly what is wrong."""
    data = _load_object(body)
    name = data.get("action")
    if name is None:
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame has no 'action'")
    if not isinstance(name, str):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "'action' must be a string")
    model = _MODELS.get(name)
    if model is None:
        raise ProtocolError(ErrorCode.UNKNOWN_ACTION, f"unknown action {name[:40]!r}")
    try:
        frame = model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        code = ErrorCode.TOO_LARGE if first["type"] == "string_too_long" else ErrorCode.BAD_REQUEST
        raise ProtocolError(code, _describe(exc)) from None
    return frame  # type: ignore[return-value]


def peek_ref(body: str | None) -> tuple[str | None, str | None]:
    """The ``ref`` and ``action`` of a frame that failed to parse, when they are sane to echo."""
    try:
        data = _load_object(body)
    except ProtocolError:
        return None, None
    ref, action = data.get("ref"), data.get("action")
    return (
        ref if isinstance(ref, str) and len(ref) <= _L.max_ref_chars else None,
        action if isinstance(action, str) and action in _MODELS else None,
    )


def _load_object(body: str | None) -> dict[str, Any]:
    if body is None or body == "":
        raise ProtocolError(ErrorCode.BAD_REQUEST, "empty frame")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "frame must be a JSON object")
    return data


def _describe(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in first["loc"]) or "frame"
    return f"{where}: {first['msg']}"
