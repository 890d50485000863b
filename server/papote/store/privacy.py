"""What the store does for privacy (papote/privacy.py): a visitor's rows for export, their erasure, the
retention job's bounded batches, and the append-only audit log.

Export and erasure are driven by the personal-data registry (personal_data.py): the same scopes select
what is exported and what is erased, so an export shows exactly what an erasure removes. The SQL is the
same on both backends but for the parameter's spelling (`visitor_sql`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from papote.store.personal_data import VISITOR_TABLES, Table
from papote.types import Millis

#: Actors of the audit log: a member (agent), an API key, or the server itself (the retention job).
ACTOR_KINDS = ("agent", "api_key", "system")


@dataclass(slots=True)
class AuditEntry:
    """One admin action on a site. `target` and `details` name things by id, never copy personal data."""

    id: str
    site_id: str
    at: Millis
    actor_kind: str
    actor_id: str
    action: str
    target: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class StoredFile:
    """An attachment's row id and the storage keys of its bytes (file and thumbnail)."""

    id: str
    keys: list[str]


def exported_columns(table: Table) -> list[str]:
    return [c for c in table.columns if c not in table.withheld]


def visitor_sql(table: Table, placeholder: str, *, delete: bool) -> str:
    """The export SELECT or the erasure DELETE of one visitor's rows of `table`, with the visitor id
    spelled `placeholder` (`?`-free: SQLite's `:visitor`, PostgreSQL's `$1`)."""
    assert table.scope is not None
    where = table.scope.replace(":visitor", placeholder)
    if delete:
        return f"DELETE FROM {table.name} WHERE {where}"
    return f"SELECT {', '.join(exported_columns(table))} FROM {table.name} WHERE {where}"


#: Every visitor table's statements, built once per backend by its module.
def visitor_statements(placeholder: str, *, delete: bool) -> list[tuple[Table, str]]:
    return [(t, visitor_sql(t, placeholder, delete=delete)) for t in VISITOR_TABLES]


class PrivacyStore(abc.ABC):
    # -- export and erasure --------------------------------------------------------------------------
    @abc.abstractmethod
    async def visitor_rows(self, visitor_id: str) -> dict[str, list[dict[str, Any]]]:
        """{table: the visitor's rows as {column: value}} for every table of `VISITOR_TABLES`, JSON
        columns decoded, withheld columns left out; read in one snapshot."""

    @abc.abstractmethod
    async def visitor_files(self, visitor_id: str) -> list[StoredFile]:
        """The attachments an erasure of the visitor removes (to delete their bytes first)."""

    @abc.abstractmethod
    async def erase_visitor(self, visitor_id: str) -> dict[str, int]:
        """Delete every row of the visitor, in one transaction; {table: rows deleted} (idempotent: a
        second call deletes nothing)."""

    # -- retention, a bounded batch at a time --------------------------------------------------------
    @abc.abstractmethod
    async def unseen_visitors(self, site_id: str, before: Millis, limit: int) -> list[str]:
        """Visitors of the site last seen before `before`, least recently seen first."""

    @abc.abstractmethod
    async def aged_conversations(self, site_id: str, before: Millis, after: tuple[Millis, str] | None,
                                 limit: int) -> list[tuple[Millis, str]]:
        """(created_at, id) of the site's conversations created before `before`, oldest first, after the
        cursor `after` (only those can hold messages older than `before`)."""

    @abc.abstractmethod
    async def aged_message_files(self, conversation_ids: list[str], before: Millis) -> list[StoredFile]:
        """The attachments bound to messages of these conversations created before `before`."""

    @abc.abstractmethod
    async def purge_messages(self, conversation_ids: list[str], before: Millis) -> tuple[int, int]:
        """Delete the messages of these conversations created before `before`, with the attachment rows
        bound to them, then those conversations left without any message and not updated since
        `before` (with their reads and cursors); one transaction. (messages, conversations) deleted."""

    @abc.abstractmethod
    async def aged_files(self, site_id: str, before: Millis, limit: int) -> list[StoredFile]:
        """The site's attachments uploaded before `before`, oldest first."""

    @abc.abstractmethod
    async def forget_sign_in_failures(self, before: Millis, limit: int) -> int:
        """Delete up to `limit` failed sign-ins older than `before` (an email and an address each, of no
        use once out of the lockout window); how many."""

    # -- the audit log -------------------------------------------------------------------------------
    @abc.abstractmethod
    async def add_audit(self, entry: AuditEntry) -> None:
        """Append an entry (the table refuses any change or deletion)."""

    @abc.abstractmethod
    async def audit_entries(self, site_id: str, limit: int, before: Millis | None = None) -> list[AuditEntry]:
        """The site's entries, newest first, those before `before` when it is given."""
