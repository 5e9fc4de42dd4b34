"""The constrained field types of the protocol's frames, apart from the frames themselves.

The REST moderation routes validate the same topic and user id texts as the WebSocket actions.
They import these types only: importing ``protocol.actions`` defines every action model, which is
most of what that import costs, on the import path of the HTTP function's cold start.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictInt, StrictStr

from hubbub.protocol.limits import DEFAULT_LIMITS, MAX_WIRE_INT

__all__ = [
    "SANCTION_SECONDS_MAX",
    "AttachmentIdText",
    "MessageIdText",
    "MessageText",
    "PageLimit",
    "Seq",
    "TopicText",
    "UserIdText",
]

_L = DEFAULT_LIMITS
Seq = Annotated[StrictInt, Field(ge=0, le=MAX_WIRE_INT)]
PageLimit = Annotated[StrictInt, Field(ge=1, le=_L.history_page_max)]
TopicText = Annotated[StrictStr, Field(min_length=1, max_length=_L.max_topic_chars)]
MessageText = Annotated[StrictStr, Field(min_length=1, max_length=_L.max_text_chars)]
MessageIdText = Annotated[StrictStr, Field(min_length=1, max_length=64)]
AttachmentIdText = Annotated[
    StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
]
UserIdText = Annotated[
    StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:@~-]+$")
]
SANCTION_SECONDS_MAX = 366 * 24 * 3600
