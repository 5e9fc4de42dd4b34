"""Mutes and bans on SQLite: one row per (topic, user, kind), read the way the send path, the
console and the MQTT authorizer each need it (``roles.Sanctions``).

Expired rows are filtered on read, as DynamoDB's TTL'd items are; the sweep removes them.
``sanctions_by_user`` (schema.py) is the SQLite side of DynamoDB's ``sanctionsByUser`` index.
"""

from __future__ import annotations

import sqlite3
from abc import abstractmethod
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TypeVar

from hubbub.ids import Topic, UserId
from hubbub.store.records import Sanction, SanctionKind
from hubbub.store.roles import Sanctions

__all__ = ["SqliteSanctions"]

T = TypeVar("T")

_SANCTION_COLUMNS = "topic, user_id, kind, until_ms, created_at"


class SqliteSanctions(Sanctions):
    """The ``Sanctions`` role of the SQLite store: a write transaction per change, one read per
    question."""

    @abstractmethod
    def _write(self) -> AbstractContextManager[sqlite3.Connection]: ...

    @abstractmethod
    def _read(self, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    def put_sanction(self, sanction: Sanction) -> None:
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO sanctions (topic, user_id, kind, until_ms, created_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    sanction.topic,
                    sanction.user_id,
                    sanction.kind.value,
                    sanction.until_ms,
                    sanction.created_at,
                ),
            )

    def lift_sanction(self, topic: Topic, user_id: UserId, kind: SanctionKind) -> bool:
        with self._write() as db:
            return (
                db.execute(
                    "DELETE FROM sanctions WHERE topic = ? AND user_id = ? AND kind = ?",
                    (topic, user_id, kind.value),
                ).rowcount
                > 0
            )

    def sanctions_on(self, topic: Topic, user_id: UserId, now_ms: int) -> list[Sanction]:
        where = "topic = ? AND user_id = ?"
        return self._read(lambda db: _active(db, where, (topic, user_id), "kind", now_ms))

    def list_sanctions(self, topic: Topic | None, now_ms: int) -> list[Sanction]:
        where = "(? IS NULL OR topic = ?)"
        order = "topic, user_id, kind"
        return self._read(lambda db: _active(db, where, (topic, topic), order, now_ms))

    def sanctions_of(self, user_id: UserId, now_ms: int) -> list[Sanction]:
        return self._read(lambda db: _active(db, "user_id = ?", (user_id,), "topic, kind", now_ms))


def _sanction_of(row: tuple[object, ...]) -> Sanction:
    until = row[3]
    return Sanction(
        topic=Topic(str(row[0])),
        user_id=UserId(str(row[1])),
        kind=SanctionKind(str(row[2])),
        until_ms=None if until is None else int(str(until)),
        created_at=int(str(row[4])),
    )


def _active(
    db: sqlite3.Connection, where: str, params: tuple[object, ...], order: str, now_ms: int
) -> list[Sanction]:
    """The unexpired sanctions ``where`` selects, in ``order`` (an expired row waits for the
    sweep, as a TTL'd item waits for DynamoDB's)."""
    rows = db.execute(
        f"SELECT {_SANCTION_COLUMNS} FROM sanctions WHERE {where}"
        f" AND (until_ms IS NULL OR until_ms > ?) ORDER BY {order}",
        (*params, now_ms),
    ).fetchall()
    return [_sanction_of(row) for row in rows]
