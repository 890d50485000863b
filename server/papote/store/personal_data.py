"""The personal-data registry: every column of every table, said to hold personal data or not.

A site owner must be able to prove what Papote keeps about a person and that an erasure reaches all of
it. This module is that proof's source: tests/unit/test_personal_data.py reads the schema of both
backends after their migrations and fails when a column is in neither list of its table (or a listed
column is gone) — a new column is classified here before it ships.

Each table says whose data it holds (`subject`), which columns are personal and which are not, and,
for a visitor's data, how that visitor's rows are found (`scope`, a SQL condition on the parameter
`:visitor`, the same text on SQLite and PostgreSQL). Export and erasure (privacy.py, the store's
`visitor_rows` and `erase_visitor`) walk `VISITOR_TABLES` in this order: children first, the visitor
row last, so every scope's subquery still finds what it needs while earlier tables are emptied.
docs/privacy.md is written from this table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Subject(enum.Enum):
    """Whose personal data a table's personal columns are."""

    VISITOR = "visitor"  # exported and erased per visitor
    AGENT = "agent"  # a team member's account: kept while the account exists, removed with it
    NONE = "none"  # configuration and bookkeeping: no column is personal


@dataclass(frozen=True)
class Table:
    name: str
    subject: Subject
    #: Columns holding personal data (of `subject`).
    personal: tuple[str, ...]
    #: Columns holding none: ids, times, states, counters, settings.
    plain: tuple[str, ...]
    #: How a visitor's rows of this table are found: a SQL condition on `:visitor`, or None.
    scope: str | None = None
    #: Columns an export leaves out: credentials' digests, which tell the person nothing and would
    #: only help someone holding the file. They are erased like the rest.
    withheld: tuple[str, ...] = ()
    #: Columns stored as JSON text on SQLite (PostgreSQL's jsonb arrives decoded).
    json: tuple[str, ...] = ()
    #: How the personal data goes, in a sentence (docs/privacy.md).
    erasure: str = ""

    @property
    def columns(self) -> tuple[str, ...]:
        return self.personal + self.plain


_CONVERSATIONS = "SELECT id FROM conversations WHERE visitor_id = :visitor"

#: Tables holding a visitor's data, in erasure order (children first, the visitor row last).
VISITOR_TABLES: tuple[Table, ...] = (
    Table("bot_sessions", Subject.VISITOR, ("state",),
          ("conversation_id", "site_id", "status", "seen_seq", "reason", "created_at", "updated_at"),
          scope=f"conversation_id IN ({_CONVERSATIONS})", json=("state",),
          erasure="rows deleted with the conversation (the state holds what the visitor told the bot: "
                  "an email, a name, an order number)"),
    Table("conversation_groups", Subject.VISITOR, (), ("conversation_id", "group_id"),
          scope=f"conversation_id IN ({_CONVERSATIONS})", erasure="rows deleted with the conversation"),
    Table("channel_identities", Subject.VISITOR, ("address", "visitor_id", "name"),
          ("account_id", "site_id", "conversation_id", "last_inbound_at", "created_at"),
          scope="visitor_id = :visitor",
          erasure="rows deleted: the customer's next message on that app starts as a new contact"),
    Table("email_threads", Subject.VISITOR, ("address", "subject"), ("conversation_id", "site_id", "created_at"),
          scope=f"conversation_id IN ({_CONVERSATIONS})",
          erasure="rows deleted with the conversation: a later mail from the address starts a new one"),
    Table("waiting_notices", Subject.VISITOR, (), ("conversation_id", "created_at"),
          scope=f"conversation_id IN ({_CONVERSATIONS})", erasure="rows deleted with the conversation"),
    Table("nps_surveys", Subject.VISITOR, ("visitor_id", "comment"),
          ("id", "site_id", "conversation_id", "created_at", "score", "answered_at", "channel", "emailed_at"),
          scope=f"visitor_id = :visitor OR conversation_id IN ({_CONVERSATIONS})",
          erasure="rows deleted: the score leaves the site's NPS with them"),
    Table("held_messages", Subject.VISITOR, ("visitor_id", "author_name", "body", "data"),
          ("id", "site_id", "conversation_id", "client_msg_id", "reasons", "created_at"),
          scope=f"visitor_id = :visitor OR conversation_id IN ({_CONVERSATIONS})", json=("data", "reasons"),
          erasure="rows deleted: a message waiting for review is never released"),
    Table("blocked_visitors", Subject.VISITOR, ("visitor_id", "reason"), ("site_id", "blocked_by", "created_at"),
          scope="visitor_id = :visitor",
          erasure="rows deleted with the visitor (whoever comes back is a new visitor, unblocked)"),
    Table("email_addresses", Subject.VISITOR, ("email", "visitor_id"), ("site_id", "state", "updated_at"),
          # A lookup by the primary key (the visitor's site, their addresses), not an OR: a WITHOUT ROWID
          # table cannot split an OR by index, and would be read whole for every erasure.
          scope="site_id = (SELECT site_id FROM visitors WHERE id = :visitor) AND email IN (SELECT email FROM "
                "email_addresses WHERE visitor_id = :visitor UNION SELECT lower(email) FROM visitors WHERE "
                "id = :visitor AND email <> '' UNION SELECT lower(contact_email) FROM conversations WHERE "
                "visitor_id = :visitor AND contact_email <> '')",
          erasure="rows deleted: the address's confirmation or unsubscription is forgotten with it"),
    Table("webhook_attempts", Subject.VISITOR, (),
          ("delivery_id", "attempt", "at", "status_code", "latency_ms", "error"),
          scope=f"delivery_id IN (SELECT id FROM deliveries WHERE visitor_id = :visitor OR conversation_id IN "
                f"({_CONVERSATIONS}))",
          erasure="rows deleted with their delivery"),
    Table("deliveries", Subject.VISITOR, ("visitor_id", "target", "payload", "error"),
          ("id", "site_id", "conversation_id", "channel", "kind", "status", "attempts", "next_attempt_at",
           "created_at", "sent_at", "position", "seq", "account_id", "provider_msg_id"),
          scope=f"visitor_id = :visitor OR conversation_id IN ({_CONVERSATIONS})", json=("payload",),
          erasure="rows deleted, queued ones too (nothing more is sent to the person or to a webhook, and a "
                  "customer's file not fetched yet from a messaging app is never fetched)"),
    Table("webhook_cursors", Subject.VISITOR, (), ("conversation_id", "seq", "updated_at"),
          scope=f"conversation_id IN ({_CONVERSATIONS})", erasure="rows deleted with the conversation"),
    Table("email_cursors", Subject.VISITOR, (), ("conversation_id", "emailed_seq", "updated_at"),
          scope=f"conversation_id IN ({_CONVERSATIONS})", erasure="rows deleted with the conversation"),
    Table("attachments", Subject.VISITOR, ("uploader_id", "name", "storage_key", "thumbnail_key"),
          ("id", "site_id", "uploader_kind", "kind", "content_type", "size", "width", "height", "created_at",
           "client_msg_id", "conversation_id", "seq"),
          scope=f"conversation_id IN ({_CONVERSATIONS}) OR (uploader_kind = 'visitor' AND uploader_id = :visitor)",
          erasure="the files (and thumbnails) deleted from storage first, then the rows"),
    Table("reads", Subject.VISITOR, ("participant_id",), ("conversation_id", "participant_kind", "read_seq"),
          scope=f"conversation_id IN ({_CONVERSATIONS})", erasure="rows deleted with the conversation"),
    Table("messages", Subject.VISITOR, ("author_id", "author_name", "body", "data"),
          ("conversation_id", "seq", "kind", "author_kind", "client_msg_id", "event", "created_at"),
          scope=f"conversation_id IN ({_CONVERSATIONS})", json=("data",),
          erasure="every message of the visitor's conversations deleted, the agents' and notes too"),
    Table("conversations", Subject.VISITOR, ("visitor_id", "contact_email", "rating_comment"),
          ("id", "site_id", "status", "assignee_id", "last_seq", "labels", "rating", "created_at", "updated_at",
           "assigned_at", "first_response_at", "closed_at", "snoozed_until", "snoozed_seq"),
          scope="visitor_id = :visitor", json=("labels",), erasure="rows deleted"),
    Table("visitor_events", Subject.VISITOR, ("visitor_id", "name", "data"), ("at",),
          scope="visitor_id = :visitor", json=("data",), erasure="rows deleted"),
    Table("visitor_rules", Subject.VISITOR, ("visitor_id",), ("rule_id", "fired_at"),
          scope="visitor_id = :visitor", erasure="rows deleted"),
    Table("link_codes", Subject.VISITOR, ("code_hash", "visitor_id"), ("expires_at",),
          scope="visitor_id = :visitor", withheld=("code_hash",), erasure="rows deleted"),
    Table("visitor_tokens", Subject.VISITOR, ("token_hash", "visitor_id"), ("created_at",),
          scope="visitor_id = :visitor", withheld=("token_hash",),
          erasure="rows deleted: every browser holding a token is a stranger from then on"),
    Table("visitors", Subject.VISITOR,
          ("id", "user_id", "name", "email", "attributes", "page", "pages", "device"),
          ("site_id", "verified", "created_at", "last_seen"),
          scope="id = :visitor", json=("attributes", "page", "pages", "device"), erasure="row deleted"),
)

#: Every other table: a team's accounts, and configuration.
OTHER_TABLES: tuple[Table, ...] = (
    Table("attachment_blobs", Subject.VISITOR, ("data",), ("key",),
          erasure="the bytes of an attachment (PAPOTE_ATTACHMENTS=database), deleted with it"),
    Table("agents", Subject.AGENT, ("email", "name", "password_hash", "avatar"),
          ("id", "disabled", "status", "capacity", "last_assigned_at", "created_at", "operator"),
          erasure="kept while the account exists"),
    Table("sessions", Subject.AGENT, ("token_hash",), ("agent_id", "created_at", "expires_at"),
          erasure="deleted at sign-out and when expired"),
    Table("devices", Subject.AGENT, ("token_hash",), ("agent_id", "created_at", "last_seen"),
          erasure="forgotten when unseen for the device lifetime"),
    Table("login_failures", Subject.AGENT, ("email", "address", "device"), ("at", "trusted"),
          erasure="deleted by each retention pass once out of the lockout window (15 minutes); the address "
                   "cut as PAPOTE_CLIENT_ADDRESSES says"),
    Table("invites", Subject.AGENT, ("email", "token_hash"),
          ("site_id", "role", "created_by", "expires_at", "id", "created_at"),
          erasure="deleted when accepted, declined or withdrawn"),
    Table("push_subscriptions", Subject.AGENT, ("endpoint", "p256dh", "auth", "label"),
          ("id", "agent_id", "new_conversation", "visitor_reply", "transfer", "created_at", "mention"),
          erasure="deleted when the agent removes the device or the push service drops it"),
    Table("audit_log", Subject.AGENT, ("actor_id",),
          ("id", "site_id", "at", "actor_kind", "action", "target", "details"),
          erasure="append-only: the site's record of who did what; it copies no personal data"),
    Table("saved_views", Subject.NONE, (), ("id", "site_id", "agent_id", "name", "labels", "status", "created_at")),
    Table("password_resets", Subject.AGENT, ("token_hash",), ("agent_id", "created_at", "expires_at"),
          erasure="used up by the reset (with the account's other links), else expired after an hour"),
    Table("agent_mail_prefs", Subject.NONE, (), ("agent_id", "waiting_emails")),
    Table("channel_accounts", Subject.NONE, (), ("id", "site_id", "kind", "name", "config", "secrets", "created_at")),
    Table("channel_receipts", Subject.NONE, (), ("account_id", "provider_msg_id", "state", "rank", "error", "at")),
    Table("memberships", Subject.NONE, (), ("site_id", "agent_id", "role", "disabled")),
    Table("webhook_endpoints", Subject.NONE, (),
          ("id", "site_id", "url", "events", "description", "secret", "previous_secret", "previous_until",
           "created_at")),
    Table("api_keys", Subject.NONE, (), ("id", "site_id", "key_hash", "name", "created_at")),
    Table("canned_responses", Subject.NONE, (), ("id", "site_id", "shortcut", "body")),
    Table("sites", Subject.NONE, (), ("id", "key", "name", "origins", "secrets", "settings", "created_at")),
    Table("meta", Subject.NONE, (), ("key", "value")),
)

TABLES: dict[str, Table] = {t.name: t for t in (*VISITOR_TABLES, *OTHER_TABLES)}


def unclassified(schema: dict[str, set[str]]) -> list[str]:
    """What the registry fails to say about `schema` ({table: its columns}): `table.column` of each
    column in no list, and `-table.column` of each listed column the schema does not have."""
    out = []
    for table, columns in sorted(schema.items()):
        known = set(TABLES[table].columns) if table in TABLES else set()
        out += [f"{table}.{c}" for c in sorted(columns - known)]
        out += [f"-{table}.{c}" for c in sorted(known - columns)]
    out += [f"-{t}.*" for t in sorted(set(TABLES) - set(schema))]
    return out
