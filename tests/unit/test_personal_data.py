"""The personal-data registry against the real schema of each backend, after every migration: a column in
no list of its table (personal or not), or a table nobody classified, fails here until it is classified
in server/papote/store/personal_data.py — so no column of personal data ships unregistered, and export
and erasure (which the registry drives) reach it."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest

from papote.store import Store
from papote.store.personal_data import TABLES, VISITOR_TABLES, Subject, unclassified
from papote.store.postgres import PostgresStore
from papote.store.sqlite import SqliteStore

pytestmark = pytest.mark.both_backends


async def schema_of(store: Store) -> dict[str, set[str]]:
    """{table: its columns}, as the database itself says after the store opened (and migrated) it."""
    out: dict[str, set[str]] = {}
    if isinstance(store, SqliteStore):
        conn = sqlite3.connect(store.path)
        try:
            for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                         "AND name NOT LIKE 'sqlite_%'"):
                out[table] = {r[1] for r in conn.execute(f"PRAGMA table_info({table})")}
        finally:
            conn.close()
        return out
    assert isinstance(store, PostgresStore)
    pg = await asyncpg.connect(store.dsn)
    try:
        for table, column in await pg.fetch(
                "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema='public'"):
            out.setdefault(table, set()).add(column)
    finally:
        await pg.close()
    return out


@pytest.mark.asyncio
async def test_every_column_of_the_schema_is_classified(any_store: Store) -> None:
    schema = await schema_of(any_store)
    assert len(schema) >= 20  # the schema was read, not an empty database
    missing = unclassified(schema)
    assert missing == [], (
        "classify these columns in server/papote/store/personal_data.py (personal or plain; `-` marks a "
        f"listed column the schema does not have): {missing}")


def test_the_registry_is_consistent() -> None:
    for table in TABLES.values():
        assert not set(table.personal) & set(table.plain), f"{table.name}: a column is both personal and not"
        assert set(table.withheld) <= set(table.columns) and set(table.json) <= set(table.columns), table.name
        assert not table.personal or table.subject is not Subject.NONE, f"{table.name}: personal, but nobody's"
        if table.scope is not None:
            assert ":visitor" in table.scope and table.subject is Subject.VISITOR, table.name
    # Every table holding a column named after the visitor is one whose rows are erased per visitor.
    scoped = {t.name for t in VISITOR_TABLES}
    for table in TABLES.values():
        if "visitor_id" in table.columns:
            assert table.name in scoped, f"{table.name} names a visitor but is not erased with them"
    assert [t.name for t in VISITOR_TABLES][-1] == "visitors"  # erased last: the scopes read it


def test_unclassified_names_what_is_missing_and_what_is_gone() -> None:
    schema = {name: set(t.columns) for name, t in TABLES.items()}
    assert unclassified(schema) == []
    schema["visitors"].add("phone")
    schema["bot_state"] = {"conversation_id"}
    schema["agents"].discard("avatar")
    del schema["meta"]
    assert unclassified(schema) == ["-agents.avatar", "bot_state.conversation_id", "visitors.phone", "-meta.*"]


def test_docs_privacy_lists_every_table_and_personal_column() -> None:
    from tests.harness import ROOT

    text = (ROOT / "docs" / "privacy.md").read_text()
    for table in TABLES.values():
        assert f"`{table.name}`" in text, f"docs/privacy.md does not name the table {table.name}"
        line = next(ln for ln in text.splitlines() if ln.startswith("|") and f"`{table.name}`" in ln)
        for column in table.personal:
            assert f"`{column}`" in line, f"docs/privacy.md: {table.name}.{column} is personal data"
