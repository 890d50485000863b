"""The embedded backend: SQLite in WAL mode (`engine.py`: writer thread, group commit, readers,
checkpoints; `store.py`: the queries; `append.py`: the append hot path; `migrations/`: its schema)."""

from papote.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
