"""The registry of wildcard filters in use, spread so that no message reads one hot partition.

Fan-out must learn which wildcard filters may match a message's topic before it can look up
their subscribers. Kept as one partition (``WILDCARDS``), every message read every distinct filter
anyone had subscribed with, on one key (issue 15, item 4). Now an entry lives under its filter's
anchor, the levels before its first wildcard (``keys.wildcard_write_pks``), and a message reads
only the partitions of its own prefixes (``keys.wildcard_read_pks``): a room message reads one
of eight replicas of ``W#room`` (which the subscribe rule of ``can_match_a_topic`` holds to
``room/+``, ``room/#`` and ``room/+/#``) and ``W#room/{name}`` (at most ``room/{name}/#``). Filters
anchored elsewhere cost that message nothing, however many there are.

An entry is written in the same transaction as the subscription (all its replicas, with one fresh
``ver``), and removed when an unsubscribe or ``delete_connection`` finds the filter without
subscribers; the removal is conditional on every replica still carrying the ``ver`` read before
counting subscribers, so a concurrent subscribe keeps it. A stale entry (a subscription that TTL
deleted, a removal that failed) costs one Query that finds nobody.
"""

from __future__ import annotations

import logging
import random
from typing import Any

from hubbub.ids import Topic, TopicFilter
from hubbub.protocol.topics import anchor_of
from hubbub.store.dynamodb.client import ConditionFailed, Table
from hubbub.store.dynamodb.expressions import placeholders, update
from hubbub.store.dynamodb.keys import (
    WILDCARDS_INDEX_KEY,
    filter_pk,
    key,
    wildcard_read_pks,
    wildcard_write_pks,
)
from hubbub.store.dynamodb.schema import GSI1
from hubbub.store.records import StoreUnavailable

__all__ = ["WildcardRegistry"]

log = logging.getLogger(__name__)


class WildcardRegistry:
    def __init__(self, table: Table) -> None:
        self._table = table

    def register(self, topic_filter: str) -> list[dict[str, Any]]:
        """The transaction items of a subscribe that put the filter in the registry; a fresh
        ``ver`` tells a concurrent remover to stop."""
        if not anchor_of(topic_filter):
            raise ValueError(f"a registered filter starts with a named level: {topic_filter!r}")
        ver = random.getrandbits(63)
        items = []
        for index, pk in enumerate(wildcard_write_pks(topic_filter)):
            fields: dict[str, Any] = {"kind": "wildcard", "filter": topic_filter, "ver": ver}
            if index == 0:
                fields |= {"gsi1pk": WILDCARDS_INDEX_KEY, "gsi1sk": topic_filter}
            expression, values = update(fields)
            items.append(
                {
                    "Update": {
                        "TableName": self._table.name,
                        "Key": key(pk, topic_filter),
                        "UpdateExpression": expression,
                        **placeholders(expression, **values),
                    }
                }
            )
        return items

    def forget_if_unused(self, topic_filter: str) -> None:
        """Drop an entry nobody subscribes with; best effort, since stale is harmless."""
        pks = wildcard_write_pks(topic_filter)
        try:
            entry = self._table.get(pks[0], topic_filter)
            if entry is None or self._has_subscriber(topic_filter):
                return
            unchanged = "#ver = :ver"
            deletes = [
                {
                    "Delete": {
                        "TableName": self._table.name,
                        "Key": key(pk, topic_filter),
                        "ConditionExpression": unchanged,
                        **placeholders(unchanged, ver=entry["ver"]),
                    }
                }
                for pk in pks
            ]
            self._table.transact_conditions(deletes)  # refused: subscribed again meanwhile
        except ConditionFailed:
            pass
        except StoreUnavailable as exc:
            log.warning("wildcard registry entry %r left stale: %s", topic_filter, exc)

    def _has_subscriber(self, topic_filter: str) -> bool:
        condition = "#pk = :pk"
        page = self._table.call(
            "query",
            TableName=self._table.name,
            KeyConditionExpression=condition,
            ConsistentRead=True,
            Limit=1,
            **placeholders(condition, pk=filter_pk(topic_filter)),
        )
        return bool(page.get("Items"))

    def filters_for(self, topic: Topic) -> list[TopicFilter]:
        """One strongly consistent Query per level of the topic, each of a small partition: a
        subscribe acknowledged before a message was stored must see that message."""
        found: list[TopicFilter] = []
        for pk in wildcard_read_pks(topic):
            condition = "#pk = :pk"
            request = {
                "KeyConditionExpression": condition,
                "ConsistentRead": True,
                "ProjectionExpression": "#filter",
                **placeholders(condition, "#filter", pk=pk),
            }
            found.extend(TopicFilter(str(item["filter"])) for item in self._table.query(request))
        return found

    def all_filters(self) -> list[TopicFilter]:
        """Every registered filter once, from the index (eventually consistent): read only when a
        subscribe would add a filter, to hold the registry to its bound."""
        condition = "#gsi1pk = :all"
        items = self._table.query(
            {
                "IndexName": GSI1,
                "KeyConditionExpression": condition,
                **placeholders(condition, all=WILDCARDS_INDEX_KEY),
            }
        )
        return sorted(TopicFilter(str(item["filter"])) for item in items)
