"""The Store port: everything chat needs to remember, phrased as the access patterns of DESIGN §6.

``Store`` is the union of the role protocols of ``hubbub.store.roles``; every adapter implements
all of it, and tests/contract runs one suite against each. The records it speaks in live in
``hubbub.store.records`` and are re-exported here, the name most callers know them by.
"""

from __future__ import annotations

from abc import ABC

from hubbub.store.buckets import Rate
from hubbub.store.records import (
    AppendRequest,
    AppendResult,
    Attachment,
    Connection,
    Message,
    MessagePage,
    Operator,
    PendingMail,
    Role,
    Sanction,
    SanctionKind,
    StoreUnavailable,
    Subscription,
    TokensRefused,
    TopicSummary,
    Upload,
    User,
    Visitor,
)
from hubbub.store.roles import (
    ChangeDecoder,
    Connections,
    Directory,
    Headcounts,
    Mailings,
    MessageLog,
    RateBuckets,
    ReadMarkers,
    Sanctions,
    Subscriptions,
    Uploads,
)

__all__ = [
    "AppendRequest",
    "AppendResult",
    "Attachment",
    "ChangeDecoder",
    "Connection",
    "Connections",
    "Directory",
    "Headcounts",
    "Mailings",
    "Message",
    "MessageLog",
    "MessagePage",
    "Operator",
    "PendingMail",
    "Rate",
    "RateBuckets",
    "ReadMarkers",
    "Role",
    "Sanction",
    "SanctionKind",
    "Sanctions",
    "Store",
    "StoreUnavailable",
    "Subscription",
    "Subscriptions",
    "TokensRefused",
    "TopicSummary",
    "Upload",
    "Uploads",
    "User",
    "Visitor",
]


class Store(
    Connections,
    Subscriptions,
    Headcounts,
    MessageLog,
    ReadMarkers,
    Directory,
    Sanctions,
    Uploads,
    RateBuckets,
    Mailings,
    ChangeDecoder,
    ABC,
):
    """One behaviour, several backends: tests/contract runs the same suite against every adapter."""

    def close(self) -> None:
        """Release connections and files; the default has nothing to release."""

    def sweep(self, now_ms: int) -> int:
        """Delete expired items now rather than when TTL gets to them; returns how many."""
        return 0
