"""The backend of several nodes: PostgreSQL through asyncpg (`engine.py`: connections, migrations, the
schema check, the leader lock; `lanes.py`: the append path, group commit in a few lanes; `store.py`
and `teams.py`: the queries; `migrations/`: its schema and the `papote_append` function)."""

from papote.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
