"""The store a configuration names: SQLite (a path or `sqlite:///path`, the default) or PostgreSQL
(`postgresql://…`). The only place that knows which classes exist."""

from __future__ import annotations

from papote.config import Config
from papote.store import Store


def store_for(config: Config) -> Store:
    if config.database_backend == "postgres":
        from papote.store.postgres import PostgresStore

        return PostgresStore(config.database, config.database_pool)
    from papote.store.sqlite import SqliteStore

    return SqliteStore(config.database_path, config.synchronous)
