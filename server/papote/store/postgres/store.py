"""The PostgreSQL store's queries: every `Store` method as SQL on the engine's pool.

Each method is one statement, so one round trip, where it can be (several rows written together go as
data-modifying CTEs, assignment as the `papote_assign` function); a transaction where a lock must be
held between statements (a visitor's trail, a merge). Lists of ids go as one array (`= ANY($1)`),
whatever their length. The append path is `lanes.py`; connections, migrations and the leader lock `engine.py`.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from papote.errors import Conflict, NotFound
from papote.ids import new_id, now_ms
from papote.store import (
    MAX_FIRED_RULES,
    Agent,
    AgentChanges,
    ApiKey,
    Appended,
    CannedResponse,
    Conversation,
    ConversationChanges,
    ConversationQuery,
    Invite,
    Membership,
    Message,
    ReportRow,
    Site,
    Store,
    Visitor,
    VisitorChanges,
    VisitorEvent,
    changed,
)
from papote.store.bots import NOT_HELD
from papote.store.postgres.attachments import AttachmentQueries
from papote.store.postgres.bots import BotQueries
from papote.store.postgres.channels import ChannelQueries
from papote.store.postgres.mail import MailQueries
from papote.store.postgres.moderation import ModerationQueries
from papote.store.postgres.outbox import OutboxQueries
from papote.store.postgres.privacy import PrivacyQueries
from papote.store.postgres.push import PushQueries
from papote.store.postgres.rows import (
    AGENT_COLS,
    CONV_COLS,
    MSG_COLS,
    ROLE,
    SITE_COLS,
    VISITOR_COLS,
    agent_of,
    conv_of,
    msg_of,
    prefixed,
    site_of,
    visitor_of,
)
from papote.store.postgres.teams import TeamQueries
from papote.store.postgres.visitor_merge import MERGE_SQL
from papote.store.postgres.webhooks import WebhookQueries
from papote.store.rules import AppendPlan, visited
from papote.types import AuthorKind, ConversationStatus, MessageKind, Role

#: Columns updated through `_update`, per table: names come from here and the typed change sets,
#: never from a client.
_TABLES = {"sites": SITE_COLS, "agents": AGENT_COLS, "visitors": VISITOR_COLS, "conversations": CONV_COLS}

#: Whether a snoozed conversation's snooze is over ($1: now): its time came, or its visitor wrote since
#: it was snoozed (a message, not an event such as a rating; the messages' primary key finds the ones
#: after `snoozed_seq`).
_SNOOZE_OVER = (
    "(snoozed_until <= $1 OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id "
    "AND m.seq > conversations.snoozed_seq AND m.author_kind = 'visitor' AND m.kind <> 'event'))"
)


class PostgresStore(AttachmentQueries, TeamQueries, PushQueries, OutboxQueries, WebhookQueries,
                    ModerationQueries, PrivacyQueries, MailQueries, ChannelQueries, BotQueries, Store):
    # -- helpers -------------------------------------------------------------------------------------
    async def _update(self, table: str, row_id: str, values: dict[str, Any], missing: str) -> Any:
        """UPDATE the named columns of one row by id and read it back, in one statement; NotFound when
        there is no such row. Nothing to change is a plain read."""
        cols = _TABLES[table]
        if values:
            sets = ", ".join(f"{k}=${i}" for i, k in enumerate(values, start=2))
            row = await self._write_row(
                f"UPDATE {table} SET {sets} WHERE id=$1 RETURNING {cols}", row_id, *values.values()
            )
        else:
            row = await self._one(f"SELECT {cols} FROM {table} WHERE id=$1", row_id)
        if row is None:
            raise NotFound(missing)
        return row

    # -- sites ---------------------------------------------------------------------------------------
    async def insert_site(self, site: Site) -> None:
        await self._execute(
            f"INSERT INTO sites({SITE_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7)",
            site.id, site.key, site.name, site.origins, site.secrets, site.settings, site.created_at,
        )

    async def get_site(self, site_id: str) -> Site | None:
        row = await self._one(f"SELECT {SITE_COLS} FROM sites WHERE id=$1", site_id)
        return site_of(row) if row else None

    async def get_site_by_key(self, key: str) -> Site | None:
        row = await self._one(f"SELECT {SITE_COLS} FROM sites WHERE key=$1", key)
        return site_of(row) if row else None

    async def list_sites(self, agent_id: str | None = None) -> list[Site]:
        if agent_id is None:
            rows = await self._all(f"SELECT {SITE_COLS} FROM sites ORDER BY created_at, id")
        else:
            rows = await self._all(
                f"SELECT {prefixed(SITE_COLS, 's')} FROM sites s JOIN memberships m ON m.site_id=s.id "
                "WHERE m.agent_id=$1 AND NOT m.disabled ORDER BY s.created_at, s.id",
                agent_id,
            )
        return [site_of(r) for r in rows]

    async def update_site(
        self,
        site_id: str,
        *,
        name: str | None = None,
        origins: list[str] | None = None,
        secrets: list[str] | None = None,
        settings: dict[str, Any] | None = None,
    ) -> Site:
        values = {k: v for k, v in
                  (("name", name), ("origins", origins), ("secrets", secrets), ("settings", settings))
                  if v is not None}
        return site_of(await self._update("sites", site_id, values, "no such site"))

    # -- agents --------------------------------------------------------------------------------------
    async def insert_agent(self, agent: Agent) -> None:
        try:
            await self._execute(
                f"INSERT INTO agents({AGENT_COLS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)",
                agent.id, agent.email, agent.name, agent.password_hash, agent.avatar, agent.disabled,
                str(agent.status), agent.capacity, agent.last_assigned_at, agent.created_at,
            )
        except asyncpg.UniqueViolationError:
            raise Conflict(f"an agent with email {agent.email} already exists") from None

    async def get_agent(self, agent_id: str) -> Agent | None:
        row = await self._one(f"SELECT {AGENT_COLS} FROM agents WHERE id=$1", agent_id)
        return agent_of(row) if row else None

    async def get_agent_by_email(self, email: str) -> Agent | None:
        row = await self._one(f"SELECT {AGENT_COLS} FROM agents WHERE lower(email)=lower($1)", email)
        return agent_of(row) if row else None

    async def all_agents(self) -> list[Agent]:
        return [agent_of(r) for r in await self._all(f"SELECT {AGENT_COLS} FROM agents ORDER BY created_at, id")]

    async def site_members(self, site_ids: list[str]) -> dict[str, list[tuple[Agent, Role]]]:
        out: dict[str, list[tuple[Agent, Role]]] = {s: [] for s in site_ids}
        if not site_ids:
            return out
        rows = await self._all(
            f"SELECT {prefixed(AGENT_COLS, 'a')}, m.role, m.site_id FROM agents a "
            "JOIN memberships m ON m.agent_id=a.id WHERE m.site_id = ANY($1::text[]) AND NOT m.disabled "
            "ORDER BY a.created_at, a.id",
            site_ids,
        )
        for r in rows:
            out[r[11]].append((agent_of(r), ROLE[r[10]]))
        return out

    async def update_agent(self, agent_id: str, changes: AgentChanges) -> Agent:
        values = {k: (str(v) if k == "status" else v) for k, v in changed(changes).items()}
        return agent_of(await self._update("agents", agent_id, values, "no such agent"))

    async def set_membership(self, site_id: str, agent_id: str, role: Role | None) -> None:
        if role is None:
            await self._execute("DELETE FROM memberships WHERE site_id=$1 AND agent_id=$2", site_id, agent_id)
        else:
            await self._execute(
                "INSERT INTO memberships(site_id, agent_id, role) VALUES ($1,$2,$3) "
                "ON CONFLICT (site_id, agent_id) DO UPDATE SET role=excluded.role",
                site_id, agent_id, str(role),
            )

    async def memberships(self, agent_id: str) -> list[Membership]:
        rows = await self._all(
            "SELECT site_id, agent_id, role FROM memberships WHERE agent_id=$1 AND NOT disabled", agent_id
        )
        return [Membership(r[0], r[1], ROLE[r[2]]) for r in rows]

    async def create_session(self, token_hash: str, agent_id: str, expires_at: int) -> None:
        await self._execute(
            "INSERT INTO sessions(token_hash, agent_id, created_at, expires_at) VALUES ($1,$2,$3,$4)",
            token_hash, agent_id, now_ms(), expires_at,
        )

    async def get_session(self, token_hash: str, now: int) -> str | None:
        value = await self._value(
            "SELECT s.agent_id FROM sessions s JOIN agents a ON a.id=s.agent_id "
            "WHERE s.token_hash=$1 AND s.expires_at>$2 AND NOT a.disabled",
            token_hash, now,
        )
        return str(value) if value is not None else None

    async def delete_sessions(
        self, *, token_hash: str | None = None, agent_id: str | None = None, expired_at: int | None = None
    ) -> None:
        if expired_at is not None:
            await self._execute("DELETE FROM sessions WHERE expires_at<$1", expired_at)
        if token_hash is not None:
            await self._execute("DELETE FROM sessions WHERE token_hash=$1", token_hash)
        if agent_id is not None:
            await self._execute("DELETE FROM sessions WHERE agent_id=$1", agent_id)

    async def insert_api_key(self, key: ApiKey, key_hash: str) -> None:
        await self._execute(
            "INSERT INTO api_keys(id, site_id, key_hash, name, created_at) VALUES ($1,$2,$3,$4,$5)",
            key.id, key.site_id, key_hash, key.name, key.created_at,
        )

    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        row = await self._one("SELECT id, site_id, name, created_at FROM api_keys WHERE key_hash=$1", key_hash)
        return ApiKey(*row) if row else None

    async def list_api_keys(self, site_id: str) -> list[ApiKey]:
        rows = await self._all(
            "SELECT id, site_id, name, created_at FROM api_keys WHERE site_id=$1 ORDER BY created_at, id", site_id
        )
        return [ApiKey(*r) for r in rows]

    async def delete_api_key(self, site_id: str, key_id: str) -> bool:
        row = await self._write_row("DELETE FROM api_keys WHERE site_id=$1 AND id=$2 RETURNING id", site_id, key_id)
        return row is not None

    async def create_invite(self, token_hash: str, invite: Invite) -> None:
        await self._execute(
            "INSERT INTO invites(token_hash, site_id, email, role, created_by, expires_at, id, created_at) "
            "VALUES ($1,$2,$3,$4,$5,$6,$7,$8)",
            token_hash, invite.site_id, invite.email, str(invite.role), invite.created_by, invite.expires_at,
            invite.id or new_id("i"), invite.created_at or now_ms(),
        )

    async def get_invite(self, token_hash: str, now: int) -> Invite | None:
        row = await self._one(
            "SELECT site_id, email, role, created_by, expires_at, id, created_at FROM invites "
            "WHERE token_hash=$1 AND expires_at>$2",
            token_hash, now,
        )
        return Invite(row[0], row[1], ROLE[row[2]], row[3], row[4], row[5], row[6]) if row else None

    async def delete_invite(self, token_hash: str) -> None:
        await self._execute("DELETE FROM invites WHERE token_hash=$1", token_hash)

    # -- visitors ------------------------------------------------------------------------------------
    async def insert_visitor(self, visitor: Visitor, token_hash: str) -> None:
        await self._execute(
            "WITH v AS (INSERT INTO visitors(id, site_id, created_at, last_seen) VALUES ($1,$2,$3,$4) "
            "RETURNING id) INSERT INTO visitor_tokens(token_hash, visitor_id, created_at) "
            "SELECT $5, id, $3 FROM v",
            visitor.id, visitor.site_id, visitor.created_at, visitor.last_seen, token_hash,
        )

    async def insert_visitor_once(self, visitor: Visitor, token_hash: str) -> tuple[Visitor, bool]:
        async def job(conn: asyncpg.Connection) -> tuple[Visitor, bool]:
            await conn.execute(
                "INSERT INTO visitors(id, site_id, name, email, device, created_at, last_seen) "
                "VALUES ($1,$2,$3,$4,$5,$6,$7)", visitor.id, visitor.site_id, visitor.name, visitor.email,
                visitor.device, visitor.created_at, visitor.last_seen)
            # Another transaction inserting this token (another node's first mail of this sender): this
            # one waits for its commit, then does nothing, and gives its own visitor up.
            added = await conn.fetchval(
                "INSERT INTO visitor_tokens(token_hash, visitor_id, created_at) VALUES ($1,$2,$3) "
                "ON CONFLICT (token_hash) DO NOTHING RETURNING 1", token_hash, visitor.id, visitor.created_at)
            if added is not None:
                return visitor, True
            await conn.execute("DELETE FROM visitors WHERE id=$1", visitor.id)
            row = await conn.fetchrow(
                f"SELECT {prefixed(VISITOR_COLS, 'v')} FROM visitor_tokens t JOIN visitors v ON v.id=t.visitor_id "
                "WHERE t.token_hash=$1 AND v.site_id=$2", token_hash, visitor.site_id)
            if row is None:
                raise NotFound("that token is another site's")
            return visitor_of(row), False

        return await self._transaction(job)

    async def get_visitor(self, visitor_id: str) -> Visitor | None:
        row = await self._one(f"SELECT {VISITOR_COLS} FROM visitors WHERE id=$1", visitor_id)
        return visitor_of(row) if row else None

    async def get_visitors(self, visitor_ids: list[str]) -> dict[str, Visitor]:
        if not visitor_ids:
            return {}
        rows = await self._all(
            f"SELECT {VISITOR_COLS} FROM visitors WHERE id = ANY($1::text[])", list(set(visitor_ids))
        )
        return {r[0]: visitor_of(r) for r in rows}

    async def get_visitor_by_token(self, site_id: str, token_hash: str) -> Visitor | None:
        row = await self._one(
            f"SELECT {prefixed(VISITOR_COLS, 'v')} FROM visitor_tokens t JOIN visitors v ON v.id=t.visitor_id "
            "WHERE t.token_hash=$1 AND v.site_id=$2",
            token_hash, site_id,
        )
        return visitor_of(row) if row else None

    async def get_visitor_by_user(self, site_id: str, user_id: str) -> Visitor | None:
        row = await self._one(f"SELECT {VISITOR_COLS} FROM visitors WHERE site_id=$1 AND user_id=$2", site_id, user_id)
        return visitor_of(row) if row else None

    async def update_visitor(self, visitor_id: str, changes: VisitorChanges) -> Visitor:
        values = changed(changes)
        page = values.get("page")
        if not page:
            return visitor_of(await self._update("visitors", visitor_id, values, "no such visitor"))

        async def job(conn: asyncpg.Connection) -> Visitor:
            # The trail is read and rewritten under the row's lock: two pages reported at once both count.
            pages = await conn.fetchval("SELECT pages FROM visitors WHERE id=$1 FOR UPDATE", visitor_id)
            trail = visited(pages or [], page, now_ms())
            if trail is not None:
                values["pages"] = trail
            sets = ", ".join(f"{k}=${i}" for i, k in enumerate(values, start=2))
            row = await conn.fetchrow(
                f"UPDATE visitors SET {sets} WHERE id=$1 RETURNING {VISITOR_COLS}", visitor_id, *values.values()
            )
            if row is None:
                raise NotFound("no such visitor")
            return visitor_of(row)

        return await self._transaction(job)

    async def add_visitor_token(self, visitor_id: str, token_hash: str) -> None:
        await self._execute(
            "INSERT INTO visitor_tokens(token_hash, visitor_id, created_at) VALUES ($1,$2,$3)",
            token_hash, visitor_id, now_ms(),
        )

    async def delete_visitor_token(self, token_hash: str) -> None:
        await self._execute("DELETE FROM visitor_tokens WHERE token_hash=$1", token_hash)

    async def merge_visitor(self, from_id: str, into_id: str) -> None:
        async def job(conn: asyncpg.Connection) -> None:
            # The conversations first, locked in id order as appends lock them (no deadlock with a batch).
            await conn.execute(
                "SELECT 1 FROM conversations WHERE visitor_id=$1 ORDER BY id FOR UPDATE", from_id
            )
            for sql in MERGE_SQL:
                await conn.execute(sql, *((from_id, into_id) if "$2" in sql else (from_id,)))

        await self._transaction(job)

    async def mark_rule_fired(self, visitor_id: str, rule_id: str, at: int) -> bool:
        row = await self._write_row(
            "INSERT INTO visitor_rules(visitor_id, rule_id, fired_at) VALUES ($1,$2,$3) "
            "ON CONFLICT DO NOTHING RETURNING rule_id",
            visitor_id, rule_id, at,
        )
        return row is not None

    async def fired_rules(self, visitor_id: str) -> list[str]:
        rows = await self._all(
            "SELECT rule_id FROM visitor_rules WHERE visitor_id=$1 ORDER BY fired_at DESC, rule_id LIMIT $2",
            visitor_id, MAX_FIRED_RULES,
        )
        return [str(r[0]) for r in rows]

    async def add_visitor_event(self, visitor_id: str, event: VisitorEvent) -> None:
        await self._execute(
            "INSERT INTO visitor_events(visitor_id, name, data, at) VALUES ($1,$2,$3,$4)",
            visitor_id, event.name, event.data, event.at or now_ms(),
        )

    async def visitor_events(self, visitor_id: str, limit: int = 50) -> list[VisitorEvent]:
        rows = await self._all(
            "SELECT name, data, at FROM visitor_events WHERE visitor_id=$1 ORDER BY at DESC LIMIT $2",
            visitor_id, limit,
        )
        return [VisitorEvent(r[0], r[1], r[2]) for r in rows]

    async def create_link_code(self, code_hash: str, visitor_id: str, expires_at: int) -> None:
        await self._execute(
            "INSERT INTO link_codes(code_hash, visitor_id, expires_at) VALUES ($1,$2,$3)",
            code_hash, visitor_id, expires_at,
        )

    async def take_link_code(self, code_hash: str, now: int) -> str | None:
        # The code is used up and the expired ones swept, in one statement.
        row = await self._write_row(
            "WITH taken AS (DELETE FROM link_codes WHERE code_hash=$1 RETURNING visitor_id, expires_at), "
            "swept AS (DELETE FROM link_codes WHERE expires_at<$2 AND code_hash<>$1) "
            "SELECT visitor_id, expires_at FROM taken",
            code_hash, now,
        )
        if row is None or row[1] < now:
            return None
        return str(row[0])

    # -- conversations and messages -----------------------------------------------------------------
    def queue_append(self, plan: AppendPlan) -> asyncio.Future[Appended]:
        return self.lanes.submit(plan)

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        row = await self._one(f"SELECT {CONV_COLS} FROM conversations WHERE id=$1", conversation_id)
        return conv_of(row) if row else None

    async def list_conversations(self, query: ConversationQuery) -> list[Conversation]:
        if not query.site_ids:
            return []
        params: list[Any] = [list(query.site_ids)]
        where = ["site_id = ANY($1::text[])"]

        def arg(value: Any) -> str:
            params.append(value)
            return f"${len(params)}"

        if query.status:
            where.append(f"status={arg(str(query.status))}")
        if query.assignee_id:
            where.append(f"assignee_id={arg(query.assignee_id)}")
        if query.unassigned:
            where.append("assignee_id IS NULL")
        if query.visitor_id:
            where.append(f"visitor_id={arg(query.visitor_id)}")
        if query.before_updated_at is not None:
            where.append(f"updated_at<{arg(query.before_updated_at)}")
        if query.snoozed is not None:
            where.append("snoozed_until IS NOT NULL" if query.snoozed else "snoozed_until IS NULL")
        if query.text:
            # A substring, wildcards escaped, without regard to case (as SQLite's LIKE does for ASCII),
            # over bodies and the visitor's name and email.
            needle = arg("%" + query.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
            where.append(
                f"(id IN (SELECT conversation_id FROM messages WHERE kind<>'event' AND body ILIKE {needle})"
                f" OR visitor_id IN (SELECT id FROM visitors WHERE name ILIKE {needle} OR email ILIKE {needle})"
                f" OR contact_email ILIKE {needle})"
            )
        limit = arg(query.limit)
        rows = await self._all(
            f"SELECT {CONV_COLS} FROM conversations WHERE {' AND '.join(where)} "
            f"ORDER BY updated_at DESC, id DESC LIMIT {limit}",
            *params,
        )
        return [conv_of(r) for r in rows]

    async def update_conversation(self, conversation_id: str, changes: ConversationChanges) -> Conversation:
        values = {k: (str(v) if k == "status" else v) for k, v in changed(changes).items()}
        return conv_of(await self._update("conversations", conversation_id, values, "no such conversation"))

    async def wake_snoozed(self, now: int) -> tuple[list[Conversation], list[str]]:
        # A read first: most sweeps find nothing due. Then one conditional UPDATE: two nodes sweeping
        # at once each wait for the other's row lock and find the snooze already over, so each
        # conversation is woken (and published) by one node.
        rows = await self._all(f"SELECT id, {_SNOOZE_OVER} FROM conversations WHERE snoozed_until IS NOT NULL", now)
        due = [r[0] for r in rows if r[1]]
        still = [r[0] for r in rows if not r[1]]
        if not due:
            return [], still

        async def job(conn: asyncpg.Connection) -> list[Any]:
            return list(await conn.fetch(
                "UPDATE conversations SET snoozed_until=NULL, snoozed_seq=NULL "
                f"WHERE id = ANY($2::text[]) AND snoozed_until IS NOT NULL AND {_SNOOZE_OVER} "
                f"RETURNING {CONV_COLS}",
                now, due,
            ))

        return [conv_of(r) for r in await self._transaction(job)], still

    async def assign(
        self, conversation_id: str, agent_id: str, at: int, *, only_if_unassigned: bool,
        within_capacity: int | None = None,
    ) -> Conversation | None:
        # One call of papote_assign (migrations/0004_assign.sql): the conversation's row, then the
        # agent's, locked in one transaction, the capacity counted under the agent's lock.
        row = await self._write_row(
            f"SELECT {CONV_COLS} FROM papote_assign($1, $2, $3, $4, $5)",
            conversation_id, agent_id, at, only_if_unassigned, within_capacity,
        )
        return conv_of(row) if row is not None else None

    async def messages_after(
        self, conversation_id: str, after_seq: int, limit: int, *, include_notes: bool
    ) -> list[Message]:
        notes = "" if include_notes else "AND kind<>'note'"
        rows = await self._all(
            f"SELECT {MSG_COLS} FROM messages WHERE conversation_id=$1 AND seq>$2 {notes} ORDER BY seq LIMIT $3",
            conversation_id, after_seq, limit,
        )
        return await self.with_attachments([msg_of(r) for r in rows])

    async def messages_before(
        self, conversation_id: str, before_seq: int | None, limit: int, *, include_notes: bool
    ) -> list[Message]:
        notes = "" if include_notes else "AND kind<>'note'"
        rows = await self._all(
            f"SELECT {MSG_COLS} FROM messages WHERE conversation_id=$1 AND seq<$2 {notes} "
            "ORDER BY seq DESC LIMIT $3",
            conversation_id, before_seq if before_seq is not None else 2**62, limit,
        )
        return await self.with_attachments([msg_of(r) for r in reversed(rows)])

    async def quick_reply_answer(self, conversation_id: str, seq: int) -> Message | None:
        row = await self._one(
            f"SELECT {MSG_COLS} FROM messages WHERE conversation_id=$1 AND seq>$2 AND author_kind='visitor' "
            "AND kind='text' AND data->'quick_reply'->'seq' = to_jsonb($2::bigint) ORDER BY seq LIMIT 1",
            conversation_id, seq,
        )
        return msg_of(row) if row else None

    async def last_messages(self, conversation_ids: list[str], *, include_notes: bool) -> dict[str, Message]:
        if not conversation_ids:
            return {}
        kinds = "l.kind<>'event'" if include_notes else "l.kind='text'"
        # Per id: the newest row said (never an event) by a backwards walk of the primary key.
        rows = await self._all(
            f"SELECT m.* FROM unnest($1::text[]) AS ids(c) CROSS JOIN LATERAL (SELECT {prefixed(MSG_COLS, 'l')} "
            f"FROM messages l WHERE l.conversation_id=ids.c AND {kinds} ORDER BY l.seq DESC LIMIT 1) m",
            list(set(conversation_ids)),
        )
        return {m.conversation_id: m for m in await self.with_attachments([msg_of(r) for r in rows])}

    async def set_read(self, conversation_id: str, participant_id: str, kind: AuthorKind, seq: int) -> int:
        value = await self._write_row(
            "INSERT INTO reads(conversation_id, participant_id, participant_kind, read_seq) "
            "VALUES ($1,$2,$3, LEAST($4::bigint, (SELECT last_seq FROM conversations WHERE id=$1))) "
            "ON CONFLICT (conversation_id, participant_id) DO UPDATE "
            "SET read_seq=GREATEST(reads.read_seq, excluded.read_seq) RETURNING read_seq",
            conversation_id, participant_id, str(kind), seq,
        )
        return int(value[0] or 0) if value is not None else 0

    async def reads(self, conversation_ids: list[str]) -> dict[str, dict[str, tuple[str, int]]]:
        out: dict[str, dict[str, tuple[str, int]]] = {c: {} for c in conversation_ids}
        if not conversation_ids:
            return out
        rows = await self._all(
            "SELECT conversation_id, participant_id, participant_kind, read_seq FROM reads "
            "WHERE conversation_id = ANY($1::text[])",
            list(set(conversation_ids)),
        )
        for conv, who, kind, seq in rows:
            out[conv][who] = (kind, seq)
        return out

    async def count_after_read(
        self, conversation_ids: list[str], reader_id: str, kind: MessageKind, authors: frozenset[AuthorKind]
    ) -> dict[str, int]:
        if not conversation_ids:
            return {}
        rows = await self._all(
            "SELECT m.conversation_id, count(*) FROM messages m WHERE m.conversation_id = ANY($1::text[]) "
            "AND m.kind=$2 AND m.author_kind = ANY($3::text[]) AND m.seq > COALESCE((SELECT read_seq FROM reads r "
            "WHERE r.conversation_id=m.conversation_id AND r.participant_id=$4), 0) GROUP BY m.conversation_id",
            list(set(conversation_ids)), str(kind), sorted(str(a) for a in authors), reader_id,
        )
        counts = dict.fromkeys(conversation_ids, 0)
        counts.update({r[0]: int(r[1]) for r in rows})
        return counts

    async def agent_loads(self, agent_ids: list[str]) -> dict[str, int]:
        if not agent_ids:
            return {}
        rows = await self._all(
            # A snoozed conversation is off its agent's plate until it comes back (snooze.py).
            "SELECT assignee_id, count(*) FROM conversations WHERE status='open' AND snoozed_until IS NULL "
            "AND assignee_id = ANY($1::text[]) GROUP BY assignee_id",
            list(set(agent_ids)),
        )
        loads = dict.fromkeys(agent_ids, 0)
        loads.update({r[0]: int(r[1]) for r in rows})
        return loads

    async def queued(self, site_id: str, limit: int | None = None) -> list[Conversation]:
        rows = await self._all(
            f"SELECT {CONV_COLS} FROM conversations WHERE site_id=$1 AND status='open' AND assignee_id IS NULL "
            f"AND {NOT_HELD.format(c='conversations')} ORDER BY created_at, id LIMIT $2",
            site_id, limit,
        )
        return [conv_of(r) for r in rows]

    async def queue_places(self, conversations: list[Conversation]) -> dict[str, int]:
        ids = list({c.id for c in conversations if c.status == ConversationStatus.OPEN and c.assignee_id is None})
        if not ids:
            return {}
        # Per waiting conversation, as stored now (it may have been taken since the caller read it):
        # those ahead of it in its site's line, by the queue index.
        rows = await self._all(
            "SELECT q.id, (SELECT count(*) FROM conversations o WHERE o.site_id=q.site_id AND o.status='open' "
            f"AND o.assignee_id IS NULL AND {NOT_HELD.format(c='o')} AND (o.created_at, o.id) < (q.created_at, q.id)) "
            "FROM conversations q WHERE q.id = ANY($1::text[]) AND q.status='open' AND q.assignee_id IS NULL "
            f"AND {NOT_HELD.format(c='q')}",
            ids,
        )
        return {r[0]: int(r[1]) + 1 for r in rows}

    async def handling_times(self, site_id: str, limit: int) -> list[int]:
        rows = await self._all(
            "SELECT closed_at - assigned_at FROM conversations WHERE site_id=$1 AND status='closed' "
            "AND assigned_at IS NOT NULL AND closed_at IS NOT NULL ORDER BY closed_at DESC LIMIT $2",
            site_id, limit,
        )
        return [int(r[0]) for r in rows if r[0] is not None and r[0] >= 0]

    async def last_agent_for_visitor(self, visitor_id: str) -> str | None:
        value = await self._value(
            "SELECT assignee_id FROM conversations WHERE visitor_id=$1 AND assignee_id IS NOT NULL "
            "ORDER BY updated_at DESC LIMIT 1",
            visitor_id,
        )
        return str(value) if value is not None else None

    async def report_rows(self, site_id: str, since: int, until: int) -> list[ReportRow]:
        rows = await self._all(
            "SELECT id, assignee_id, created_at, assigned_at, first_response_at, closed_at, rating "
            "FROM conversations WHERE site_id=$1 AND created_at>=$2 AND created_at<$3 ORDER BY created_at, id",
            site_id, since, until,
        )
        return [ReportRow(*r) for r in rows]

    # -- canned responses ----------------------------------------------------------------------------
    async def list_canned(self, site_id: str) -> list[CannedResponse]:
        rows = await self._all(
            "SELECT id, site_id, shortcut, body FROM canned_responses WHERE site_id=$1 ORDER BY shortcut", site_id
        )
        return [CannedResponse(*r) for r in rows]

    async def save_canned(self, site_id: str, shortcut: str, body: str) -> CannedResponse:
        row = await self._write_row(
            "INSERT INTO canned_responses(id, site_id, shortcut, body) VALUES ($1,$2,$3,$4) "
            "ON CONFLICT (site_id, shortcut) DO UPDATE SET body=excluded.body RETURNING id, site_id, shortcut, body",
            new_id("cr"), site_id, shortcut, body,
        )
        return CannedResponse(*row)

    async def delete_canned(self, site_id: str, canned_id: str) -> bool:
        row = await self._write_row(
            "DELETE FROM canned_responses WHERE site_id=$1 AND id=$2 RETURNING id", site_id, canned_id
        )
        return row is not None
