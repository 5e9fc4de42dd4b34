"""Protocol limits, shared by the server (to enforce) and the clients (to stay within).

API Gateway's own quotas (32 KB frames, 128 KB messages) sit below these; these are the chat's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["DEFAULT_LIMITS", "MAX_WIRE_INT", "Limits"]

MAX_WIRE_INT = 2**53
"""The largest number any channel takes (a sequence number, a timestamp): JSON's exact integer
range, well inside SQLite's 64-bit one, so no parameter can overflow a query."""


@dataclass(frozen=True, slots=True)
class Limits:
    max_text_chars: int = 4000
    max_topic_chars: int = 200
    max_topic_levels: int = 6
    max_client_msg_id_chars: int = 64
    max_nickname_chars: int = 40
    max_ref_chars: int = 64
    history_page_max: int = 100
    resume_max_messages: int = 100
    max_subscriptions: int = 50
    max_wildcards: int = 10
    """Distinct wildcard filters per connection of a visitor or operator."""
    max_guest_wildcards: int = 2
    """Distinct wildcard filters per guest connection: guests cost nothing to open."""
    reply_budget_bytes: int = 96 * 1024
    presence_page_max: int = 100
    """Members in one ``presence`` page of a large room (or of any paged request)."""
    max_cursor_chars: int = 128
    max_attachments: int = 5
    """Files one message may carry (``send {attachments}``)."""
    max_attachment_bytes: int = 10 * 1024**2

    def public(self) -> dict[str, Any]:
        """The subset of limits a client needs, in camelCase for the wire."""
        data = asdict(self)
        return {_camel(k): v for k, v in data.items()}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


DEFAULT_LIMITS = Limits()
