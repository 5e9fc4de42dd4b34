"""The table as the adapter talks to it: one low-level client, its limits, and its retries.

Throttling and network trouble become ``StoreUnavailable`` here, once, so the adapter's methods
only ever see an answer, a refused condition (``ConditionFailed``), or the cancellation reasons of
a transaction. Retries that botocore cannot do (unprocessed batch keys, transaction conflicts)
back off with full jitter.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from hubbub.store.dynamodb.codec import Item, dump, load
from hubbub.store.dynamodb.expressions import placeholders
from hubbub.store.dynamodb.keys import key
from hubbub.store.records import StoreUnavailable

__all__ = [
    "CONDITION_FAILED",
    "CONFLICT",
    "OK",
    "ClientLimits",
    "ConditionFailed",
    "Table",
    "pause",
]

_CLIENT_LOCK = threading.Lock()

_MAX_PAGE = 1000
_BATCH_GET_KEYS = 100
_BATCH_GET_ATTEMPTS = 6
_CONFLICT_ATTEMPTS = 5
_BACKOFF_BASE_S = 0.01
_BACKOFF_CAP_S = 0.25

_UNAVAILABLE_ERRORS = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
        "TransactionConflictException",
    }
)
_UNAVAILABLE_REASONS = frozenset(
    {"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"}
)
CONDITION_FAILED = "ConditionalCheckFailed"
"""A cancellation reason: this item's condition was refused."""
CONFLICT = "TransactionConflict"
"""A cancellation reason: a concurrent transaction held this item."""
OK = "None"
"""A cancellation reason: nothing wrong with this item (another one cancelled the transaction)."""


@dataclass(frozen=True, slots=True)
class ClientLimits:
    """How long one request may take and how often botocore tries it.

    A Lambda must answer ``unavailable`` well inside its own timeout (10 s in template.yaml) rather
    than spend it on a table that does not answer: the defaults bound a request at about
    3 x 2 s plus backoff. DynamoDB answers in milliseconds when it answers at all.
    """

    connect_timeout_s: float = 1.0
    read_timeout_s: float = 2.0
    max_attempts: int = 3

    def config(self) -> Config:
        return Config(
            connect_timeout=self.connect_timeout_s,
            read_timeout=self.read_timeout_s,
            retries={"mode": "standard", "max_attempts": self.max_attempts},
        )


class ConditionFailed(Exception):
    """A conditional write was refused; ``item`` is the current item when DynamoDB returned it."""

    def __init__(self, item: Item | None) -> None:
        super().__init__("condition failed")
        self.item = item


def pause(attempt: int, contenders: int = 1) -> None:
    """Full-jitter exponential backoff, so contending writers spread out instead of re-colliding.

    The window also grows with ``contenders`` (how many writers just beat us): when many are
    racing, spreading the retries over a longer time is what lets each of them win soon.
    """
    window = _BACKOFF_BASE_S * contenders * 2**attempt
    time.sleep(random.uniform(0, min(_BACKOFF_CAP_S, window)))


def _chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class Table:
    """One table through one client, made on first use so that building costs no I/O."""

    def __init__(
        self,
        name: str,
        *,
        client: Any = None,
        endpoint_url: str | None = None,
        limits: ClientLimits | None = None,
    ) -> None:
        self.name = name
        self._limits = limits or ClientLimits()
        self._client = client
        self._owns_client = client is None
        self._endpoint_url = endpoint_url

    def _dynamodb(self) -> Any:
        """The low-level client, made on first use so that importing or building costs no I/O."""
        if self._client is None:
            import boto3

            # boto3's default session is not safe to build clients from in several threads.
            with _CLIENT_LOCK:
                if self._client is None:
                    self._client = boto3.client(
                        "dynamodb", endpoint_url=self._endpoint_url, config=self._limits.config()
                    )
        return self._client

    def call(self, operation: str, **request: Any) -> dict[str, Any]:
        """One request; throttling and network trouble become ``StoreUnavailable``."""
        try:
            response: dict[str, Any] = getattr(self._dynamodb(), operation)(**request)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ConditionalCheckFailedException":
                old = exc.response.get("Item")
                raise ConditionFailed(None if old is None else load(old)) from exc
            if code in _UNAVAILABLE_ERRORS:
                raise StoreUnavailable(f"dynamodb {operation}: {code}") from exc
            raise
        except (BotoConnectionError, HTTPClientError) as exc:
            raise StoreUnavailable(f"dynamodb {operation}: {exc}") from exc
        return response

    def get(self, pk: str, sk: str) -> Item | None:
        response = self.call("get_item", TableName=self.name, Key=key(pk, sk), ConsistentRead=True)
        item = response.get("Item")
        return None if item is None else load(item)

    def put(self, item: Mapping[str, Any]) -> None:
        self.call("put_item", TableName=self.name, Item=dump(item))

    def pages(self, request: Mapping[str, Any]) -> Iterator[list[Item]]:
        """A Query page by page, following LastEvaluatedKey.

        A ``Limit`` sizes the first page for the common case (nothing expired, nothing skipped)
        and doubles per page after it, so skipping many items costs few round trips.
        """
        pending = {"TableName": self.name, **request}
        while True:
            page = self.call("query", **pending)
            yield [load(raw) for raw in page.get("Items", [])]
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            pending["ExclusiveStartKey"] = last
            if "Limit" in pending:
                pending["Limit"] = min(pending["Limit"] * 2, _MAX_PAGE)

    def query(self, request: Mapping[str, Any]) -> Iterator[Item]:
        for page in self.pages(request):
            yield from page

    def partition(self, pk: str, sk_prefix: str | None = None) -> Iterator[Item]:
        condition = "#pk = :pk" + (" AND begins_with(#sk, :prefix)" if sk_prefix else "")
        return self.query(
            {
                "KeyConditionExpression": condition,
                "ConsistentRead": True,
                **placeholders(condition, pk=pk, prefix=sk_prefix),
            }
        )

    def batch_get(self, keys: list[dict[str, Any]]) -> list[Item]:
        """BatchGetItem in chunks of 100, re-asking for what DynamoDB left unprocessed."""
        found: list[Item] = []
        for chunk in _chunks(keys, _BATCH_GET_KEYS):
            pending: dict[str, Any] = {self.name: {"Keys": chunk, "ConsistentRead": True}}
            for attempt in range(_BATCH_GET_ATTEMPTS):
                response = self.call("batch_get_item", RequestItems=pending)
                found.extend(load(raw) for raw in response.get("Responses", {}).get(self.name, []))
                pending = response.get("UnprocessedKeys") or {}
                if not pending:
                    break
                pause(attempt)
            else:
                raise StoreUnavailable("dynamodb batch_get_item: keys left unprocessed")
        return found

    def transact(self, items: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
        """None when the transaction committed, else DynamoDB's cancellation reasons, in order."""
        try:
            self.call("transact_write_items", TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons: list[dict[str, Any]] = exc.response.get("CancellationReasons", [])
            codes = {reason.get("Code", OK) for reason in reasons}
            if codes & _UNAVAILABLE_REASONS:
                raise StoreUnavailable(f"dynamodb transaction: {sorted(codes)}") from exc
            if not codes <= {OK, CONDITION_FAILED, CONFLICT}:
                raise
            return reasons
        return None

    def transact_conditions(self, items: list[dict[str, Any]]) -> list[str] | None:
        """Commit, retrying only conflicts with concurrent transactions; the codes if refused."""
        for attempt in range(_CONFLICT_ATTEMPTS):
            reasons = self.transact(items)
            if reasons is None:
                return None
            codes = [reason.get("Code", OK) for reason in reasons]
            if CONFLICT not in codes:
                return codes
            pause(attempt)
        raise StoreUnavailable("dynamodb transaction: kept conflicting")

    def close(self) -> None:
        """Close the client this table made; a client passed in belongs to the caller."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            client.close()
