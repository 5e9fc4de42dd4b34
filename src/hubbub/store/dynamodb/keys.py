"""Where each item lives in the one table: its ``pk``/``sk``, and the GSI keys of the recency index.

A topic's partition (``T#{topic}``) and its messages' sort keys come from ``hubbub.store.items``,
because the SQLite adapter writes the same message images into its stream log.

Item layout (pk | sk | notes). Every item carries ``kind`` so the stream handler can ignore what
is not a message; ``expiresAt`` is the TTL attribute, in epoch seconds.

- message: ``T#{topic}`` | ``M#{seq:012d}`` | exactly ``items.message_item()``, so a stream
  NewImage decodes with ``items.message_from_item``.
- topic head: ``T#{topic}`` | ``HEAD`` | lastSeq, updatedAt, title, recencyIndex; while the topic
  is in a recency index also gsi1pk ``RECENT#{index}``, gsi1sk ``{updatedAt:013d}#{topic}``.
- dedupe record: ``T#{topic}`` | ``D#{sender}#{clientMsgId}`` | seq, expiresAt (``%`` and ``#``
  in the sender are percent-escaped, so no two (sender, clientMsgId) pairs share a key).
- connection: ``C#{id}`` | ``CONN`` | operator connections also gsi1pk ``ROLE#operator``.
- subscription, two items written in one transaction: ``C#{id}`` | ``S#{filter}`` (for
  ``filters_of`` and ``delete_connection``) and ``F#{filter}`` | ``C#{id}`` (for ``subscribers``).
- head count: ``N#{topic}`` | ``MEMBERS`` | members (exact subscriptions, moved by ADD in the
  same transaction as the subscription items), summaryAt (the last presence summary's claim).
- wildcard registry: ``W#{anchor}`` (``W#{anchor}#{replica}`` for a one-level anchor) |
  ``{filter}`` | ver, a fresh random number per subscribe; the first copy also gsi1pk
  ``WILDCARDS`` (see ``registry``).
- read marker: ``U#{user}`` | ``R#{topic}`` | seq.
- visitor: ``U#{id}`` | ``VISITOR``.  operator: ``OPERATORS`` | ``{id}``.
- meta: ``META`` | ``operator_last_seen`` | value.
- sanction: ``T#{topic}`` | ``X#{user}#{mute|ban}`` | untilMs, expiresAt; gsi1pk ``SANCTIONS``
  (see ``revisions``, which also holds edits and deletes of messages).
- rate limiter bucket: ``RATE#{key}`` | ``RATE`` | tat (``buckets``).
- upload (an attachment, sent or not yet): ``UP#{id}`` | ``UPLOAD`` | name, type, size, key,
  owner, topic, expiresAt (``uploads``); a message's attachments live in its own item (``atts``).
- pending email of a desk conversation: ``T#{topic}`` | ``MAIL`` | answerSeq, mailedSeq,
  lastSentAt, dueAt; while pending gsi1pk ``MAILDUE`` (see ``mailings``).
- a visitor's email opt-out: ``U#{id}`` | ``MAILOPTOUT``.
"""

from __future__ import annotations

import zlib
from typing import Any

from hubbub.protocol.topics import anchor_of
from hubbub.store.items import message_sk, topic_pk

__all__ = [
    "CONN_SK",
    "HEAD_SK",
    "LAST_SEEN_SK",
    "MAX_SEQ",
    "MAX_UPDATED_AT",
    "MEMBERS_SK",
    "META_PK",
    "OPERATORS_PK",
    "OPERATOR_ROLE_KEY",
    "REGISTRY_REPLICAS",
    "VISITOR_SK",
    "WILDCARDS_INDEX_KEY",
    "connection_pk",
    "dedupe_sk",
    "filter_pk",
    "headcount_pk",
    "is_wildcard",
    "key",
    "marker_sk",
    "message_sk",
    "recent_pk",
    "recent_sk",
    "subscription_sk",
    "topic_pk",
    "user_pk",
    "wildcard_read_pks",
    "wildcard_write_pks",
]

HEAD_SK = "HEAD"
CONN_SK = "CONN"
VISITOR_SK = "VISITOR"
WILDCARDS_INDEX_KEY = "WILDCARDS"
"""gsi1pk of one copy of each wildcard registry entry: the listing a new filter is counted by."""
REGISTRY_REPLICAS = 8
"""Copies of a registry entry anchored at a topic class (``room/+``, ``desk/#``): every message
of that class reads one, so the reads spread over eight partitions instead of heating one."""
MEMBERS_SK = "MEMBERS"
OPERATORS_PK = "OPERATORS"
META_PK = "META"
LAST_SEEN_SK = "operator_last_seen"
OPERATOR_ROLE_KEY = "ROLE#operator"

MAX_SEQ = 10**12 - 1
"""The widest seq ``M#{seq:012d}`` sorts correctly."""
MAX_UPDATED_AT = 10**13 - 1
"""The widest epoch-ms ``{updatedAt:013d}`` sorts correctly."""


def key(pk: str, sk: str) -> dict[str, Any]:
    """An item's primary key as the low-level client sends it."""
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def connection_pk(connection_id: str) -> str:
    return f"C#{connection_id}"


def subscription_sk(topic_filter: str) -> str:
    return f"S#{topic_filter}"


def headcount_pk(topic: str) -> str:
    """The head count's own partition, apart from the topic's (``T#``, hot with every send) and
    its subscribers' (``F#``, which ``subscribers`` reads whole)."""
    return f"N#{topic}"


def filter_pk(topic_filter: str) -> str:
    return f"F#{topic_filter}"


def user_pk(user_id: str) -> str:
    return f"U#{user_id}"


def marker_sk(topic: str) -> str:
    return f"R#{topic}"


def dedupe_sk(sender: str, client_msg_id: str) -> str:
    """``D#{sender}#{cmid}``; escaping ``#`` in the sender keeps two senders from ever colliding."""
    return f"D#{sender.replace('%', '%25').replace('#', '%23')}#{client_msg_id}"


def recent_pk(index: str) -> str:
    return f"RECENT#{index}"


def recent_sk(updated_at: int, topic: str) -> str:
    return f"{updated_at:013d}#{topic}"


def is_wildcard(topic_filter: str) -> bool:
    """Whether a subscription with this filter also needs an entry in the wildcard registry."""
    return any(level in ("+", "#") for level in topic_filter.split("/"))


def _wildcard_pk(anchor: str, replica: int | None = None) -> str:
    return f"W#{anchor}" if replica is None else f"W#{anchor}#{replica}"


def wildcard_write_pks(topic_filter: str) -> list[str]:
    """Where a filter's registry entry lives: under its anchor (the levels before its first
    wildcard), in every replica when the anchor is a single level. The first is the copy the
    listing index holds."""
    anchor = anchor_of(topic_filter)
    if "/" in anchor:
        return [_wildcard_pk(anchor)]
    return [_wildcard_pk(anchor, replica) for replica in range(REGISTRY_REPLICAS)]


def wildcard_read_pks(topic: str) -> list[str]:
    """The registry partitions a message on ``topic`` reads: one per prefix of the topic (two for
    ``room/lobby``: a replica of ``W#room``, chosen by the topic, and ``W#room/lobby``). Only
    filters anchored at those prefixes can match the topic."""
    levels = topic.split("/")
    replica = zlib.crc32(topic.encode()) % REGISTRY_REPLICAS
    pks = [_wildcard_pk(levels[0], replica)]
    pks += [_wildcard_pk("/".join(levels[:depth])) for depth in range(2, len(levels) + 1)]
    return pks
