"""SQLite adapter of the Store port: the durable embedded store of ``hubbub serve``."""

from hubbub.store.sqlite.adapter import SqliteStore

__all__ = ["SqliteStore"]
