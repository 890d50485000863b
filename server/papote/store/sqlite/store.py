"""The SQLite store's queries: every `Store` method as SQL, written through the engine's writer.

The engine (`engine.py`) owns the connections, the writer thread, group commit and checkpoints; the
queries of teams and sign-ins (`teams.py`) and of visitors (`visitors.py`) are mixed in.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

from papote.errors import Conflict
from papote.ids import new_id, now_ms
from papote.store import (
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
    changed,
)
from papote.store.bots import NOT_HELD
from papote.store.rules import AppendPlan
from papote.store.sqlite.append import append_one
from papote.store.sqlite.attachments import AttachmentQueries
from papote.store.sqlite.bots import BotQueries
from papote.store.sqlite.channels import ChannelQueries
from papote.store.sqlite.mail import MailQueries
from papote.store.sqlite.moderation import ModerationQueries
from papote.store.sqlite.outbox import OutboxQueries
from papote.store.sqlite.privacy import PrivacyQueries
from papote.store.sqlite.push import PushQueries
from papote.store.sqlite.rows import (
    AGENT_COLS,
    CONV_COLS,
    INLINE_IDS_MAX,
    MSG_COLS,
    ROLE,
    SITE_COLS,
    agent_of,
    conv_of,
    dumps,
    msg_of,
    prefixed,
    read_back,
    set_columns,
    site_of,
)
from papote.store.sqlite.teams import TeamQueries
from papote.store.sqlite.visitors import VisitorQueries
from papote.store.sqlite.webhooks import WebhookQueries
from papote.types import AuthorKind, ConversationStatus, MessageKind, Role

#: Whether a snoozed conversation's snooze is over (one `?`: now): its time came, or its visitor wrote
#: since it was snoozed (a message, not an event such as a rating; the messages' primary key finds the
#: ones after `snoozed_seq`).
_SNOOZE_OVER = (
    "(snoozed_until <= ? OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = conversations.id "
    "AND m.seq > conversations.snoozed_seq AND m.author_kind = 'visitor' AND m.kind <> 'event'))"
)


class SqliteStore(AttachmentQueries, TeamQueries, VisitorQueries, PushQueries, OutboxQueries, WebhookQueries,
                  ModerationQueries, PrivacyQueries, MailQueries, ChannelQueries, BotQueries,
                  Store):
    # -- sites ---------------------------------------------------------------------------------------
    async def insert_site(self, site: Site) -> None:
        await self._write(
            lambda conn: conn.execute(
                f"INSERT INTO sites({SITE_COLS}) VALUES (?,?,?,?,?,?,?)",
                (site.id, site.key, site.name, dumps(site.origins), dumps(site.secrets),
                 dumps(site.settings), site.created_at),
            )
        )

    async def get_site(self, site_id: str) -> Site | None:
        row = await self._one(f"SELECT {SITE_COLS} FROM sites WHERE id=?", (site_id,))
        return site_of(row) if row else None

    async def get_site_by_key(self, key: str) -> Site | None:
        row = await self._one(f"SELECT {SITE_COLS} FROM sites WHERE key=?", (key,))
        return site_of(row) if row else None

    async def list_sites(self, agent_id: str | None = None) -> list[Site]:
        if agent_id is None:
            rows = await self._all(f"SELECT {SITE_COLS} FROM sites ORDER BY created_at")
        else:
            rows = await self._all(
                f"SELECT {prefixed(SITE_COLS, 's')} FROM sites s "
                "JOIN memberships m ON m.site_id=s.id WHERE m.agent_id=? AND m.disabled=0 ORDER BY s.created_at",
                (agent_id,),
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
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = name
        if origins is not None:
            changes["origins"] = dumps(origins)
        if secrets is not None:
            changes["secrets"] = dumps(secrets)
        if settings is not None:
            changes["settings"] = dumps(settings)

        def job(conn: sqlite3.Connection) -> Site:
            set_columns(conn, "sites", site_id, changes)
            return site_of(read_back(conn, "sites", SITE_COLS, site_id, "no such site"))

        return await self._write(job)

    # -- agents --------------------------------------------------------------------------------------
    async def insert_agent(self, agent: Agent) -> None:
        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    f"INSERT INTO agents({AGENT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (agent.id, agent.email, agent.name, agent.password_hash, agent.avatar,
                     int(agent.disabled), agent.status, agent.capacity, agent.last_assigned_at,
                     agent.created_at),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"an agent with email {agent.email} already exists") from None

        await self._write(job)

    async def get_agent(self, agent_id: str) -> Agent | None:
        row = await self._one(f"SELECT {AGENT_COLS} FROM agents WHERE id=?", (agent_id,))
        return agent_of(row) if row else None

    async def get_agent_by_email(self, email: str) -> Agent | None:
        row = await self._one(f"SELECT {AGENT_COLS} FROM agents WHERE email=?", (email,))
        return agent_of(row) if row else None

    async def all_agents(self) -> list[Agent]:
        return [agent_of(r) for r in await self._all(f"SELECT {AGENT_COLS} FROM agents ORDER BY created_at")]

    async def site_members(self, site_ids: list[str]) -> dict[str, list[tuple[Agent, Role]]]:
        out: dict[str, list[tuple[Agent, Role]]] = {s: [] for s in site_ids}
        if not site_ids:
            return out
        cols = prefixed(AGENT_COLS, "a")
        marks = ",".join("?" * len(site_ids))
        rows = await self._all(
            f"SELECT {cols}, m.role, m.site_id FROM agents a JOIN memberships m ON m.agent_id=a.id "
            f"WHERE m.site_id IN ({marks}) AND m.disabled=0 ORDER BY a.created_at",
            site_ids,
            point=len(site_ids) <= INLINE_IDS_MAX,  # a site's team: every visitor's welcome counts who is online
        )
        for r in rows:
            out[r[11]].append((agent_of(r), ROLE[r[10]]))
        return out

    async def update_agent(self, agent_id: str, changes: AgentChanges) -> Agent:
        values = changed(changes)
        if "disabled" in values:
            values["disabled"] = int(values["disabled"])

        def job(conn: sqlite3.Connection) -> Agent:
            set_columns(conn, "agents", agent_id, values)
            return agent_of(read_back(conn, "agents", AGENT_COLS, agent_id, "no such agent"))

        return await self._write(job)

    async def set_membership(self, site_id: str, agent_id: str, role: Role | None) -> None:
        def job(conn: sqlite3.Connection) -> None:
            if role is None:
                conn.execute("DELETE FROM memberships WHERE site_id=? AND agent_id=?", (site_id, agent_id))
            else:
                conn.execute(
                    "INSERT INTO memberships(site_id, agent_id, role) VALUES (?,?,?) "
                    "ON CONFLICT(site_id, agent_id) DO UPDATE SET role=excluded.role",
                    (site_id, agent_id, role),
                )

        await self._write(job)

    async def memberships(self, agent_id: str) -> list[Membership]:
        rows = await self._all(
            "SELECT site_id, agent_id, role FROM memberships WHERE agent_id=? AND disabled=0", (agent_id,),
            point=True,
        )
        return [Membership(r[0], r[1], ROLE[r[2]]) for r in rows]

    async def create_session(self, token_hash: str, agent_id: str, expires_at: int) -> None:
        await self._write(
            lambda conn: conn.execute(
                "INSERT INTO sessions(token_hash, agent_id, created_at, expires_at) VALUES (?,?,?,?)",
                (token_hash, agent_id, now_ms(), expires_at),
            )
        )

    async def get_session(self, token_hash: str, now: int) -> str | None:
        row = await self._one(
            "SELECT s.agent_id FROM sessions s JOIN agents a ON a.id=s.agent_id "
            "WHERE s.token_hash=? AND s.expires_at>? AND a.disabled=0",
            (token_hash, now),
        )
        return str(row[0]) if row else None

    async def delete_sessions(
        self, *, token_hash: str | None = None, agent_id: str | None = None, expired_at: int | None = None
    ) -> None:
        if expired_at is not None:
            await self._write(lambda c: c.execute("DELETE FROM sessions WHERE expires_at<?", (expired_at,)))
        if token_hash is not None:
            await self._write(lambda c: c.execute("DELETE FROM sessions WHERE token_hash=?", (token_hash,)))
        if agent_id is not None:
            await self._write(lambda c: c.execute("DELETE FROM sessions WHERE agent_id=?", (agent_id,)))

    async def insert_api_key(self, key: ApiKey, key_hash: str) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO api_keys(id, site_id, key_hash, name, created_at) VALUES (?,?,?,?,?)",
                (key.id, key.site_id, key_hash, key.name, key.created_at),
            )
        )

    async def get_api_key(self, key_hash: str) -> ApiKey | None:
        row = await self._one(
            "SELECT id, site_id, name, created_at FROM api_keys WHERE key_hash=?", (key_hash,)
        )
        return ApiKey(*row) if row else None

    async def list_api_keys(self, site_id: str) -> list[ApiKey]:
        rows = await self._all(
            "SELECT id, site_id, name, created_at FROM api_keys WHERE site_id=? ORDER BY created_at",
            (site_id,),
        )
        return [ApiKey(*r) for r in rows]

    async def delete_api_key(self, site_id: str, key_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            cur = conn.execute("DELETE FROM api_keys WHERE site_id=? AND id=?", (site_id, key_id))
            return cur.rowcount > 0

        return await self._write(job)

    async def create_invite(self, token_hash: str, invite: Invite) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO invites(token_hash, site_id, email, role, created_by, expires_at, id, created_at) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (token_hash, invite.site_id, invite.email, invite.role, invite.created_by,
                 invite.expires_at, invite.id or new_id("i"), invite.created_at or now_ms()),
            )
        )

    async def get_invite(self, token_hash: str, now: int) -> Invite | None:
        row = await self._one(
            "SELECT site_id, email, role, created_by, expires_at, id, created_at FROM invites "
            "WHERE token_hash=? AND expires_at>?",
            (token_hash, now),
        )
        return Invite(row[0], row[1], ROLE[row[2]], row[3], row[4], row[5], row[6]) if row else None

    async def delete_invite(self, token_hash: str) -> None:
        await self._write(lambda c: c.execute("DELETE FROM invites WHERE token_hash=?", (token_hash,)))

    # -- conversations and messages -----------------------------------------------------------------
    def queue_append(self, plan: AppendPlan) -> asyncio.Future[Appended]:
        return self._submit(lambda conn: append_one(conn, plan), checked=True, append=plan)

    async def get_conversation(self, conversation_id: str) -> Conversation | None:
        row = await self._one(f"SELECT {CONV_COLS} FROM conversations WHERE id=?", (conversation_id,))
        return conv_of(row) if row else None

    async def list_conversations(self, query: ConversationQuery) -> list[Conversation]:
        if not query.site_ids:
            return []
        where = [f"site_id IN ({','.join('?' * len(query.site_ids))})"]
        params: list[Any] = list(query.site_ids)
        if query.status:
            where.append("status=?")
            params.append(query.status)
        if query.assignee_id:
            where.append("assignee_id=?")
            params.append(query.assignee_id)
        if query.unassigned:
            where.append("assignee_id IS NULL")
        if query.visitor_id:
            where.append("visitor_id=?")
            params.append(query.visitor_id)
        if query.before_updated_at is not None:
            where.append("updated_at<?")
            params.append(query.before_updated_at)
        if query.snoozed is not None:
            where.append("snoozed_until IS NOT NULL" if query.snoozed else "snoozed_until IS NULL")
        if query.text:
            # LIKE with escaped wildcards: search is by substring over bodies and the visitor's name/email.
            needle = "%" + query.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            where.append(
                "(id IN (SELECT conversation_id FROM messages WHERE kind!='event' AND body LIKE ? ESCAPE '\\')"
                " OR visitor_id IN (SELECT id FROM visitors WHERE name LIKE ? ESCAPE '\\' OR email LIKE ? "
                "ESCAPE '\\') OR contact_email LIKE ? ESCAPE '\\')"
            )
            params += [needle, needle, needle, needle]
        sql = (
            f"SELECT {CONV_COLS} FROM conversations WHERE {' AND '.join(where)} "
            "ORDER BY updated_at DESC LIMIT ?"
        )
        # One visitor's conversations are a handful of rows by index; other lists may sort many.
        point = query.visitor_id is not None and not query.text
        rows = await self._all(sql, (*params, query.limit), point=point)
        return [conv_of(r) for r in rows]

    async def update_conversation(self, conversation_id: str, changes: ConversationChanges) -> Conversation:
        values = {k: (dumps(v) if k == "labels" else v) for k, v in changed(changes).items()}

        def job(conn: sqlite3.Connection) -> Conversation:
            set_columns(conn, "conversations", conversation_id, values)
            return conv_of(read_back(conn, "conversations", CONV_COLS, conversation_id, "no such conversation"))

        return await self._write(job)

    async def wake_snoozed(self, now: int) -> tuple[list[Conversation], list[str]]:
        # A read first, in a reader thread (a team may keep thousands snoozed): most sweeps find nothing
        # due, and a write would cost a commit each time.
        rows = await self._all(f"SELECT id, {_SNOOZE_OVER} FROM conversations WHERE snoozed_until IS NOT NULL",
                               (now,))
        due = [r[0] for r in rows if r[1]]
        still = [r[0] for r in rows if not r[1]]
        if not due:
            return [], still

        def job(conn: sqlite3.Connection) -> list[Conversation]:
            marks = ",".join("?" * len(due))
            return [conv_of(r) for r in conn.execute(
                "UPDATE conversations SET snoozed_until=NULL, snoozed_seq=NULL "
                f"WHERE id IN ({marks}) AND snoozed_until IS NOT NULL AND {_SNOOZE_OVER} RETURNING {CONV_COLS}",
                (*due, now),
            )]

        return await self._write(job), still

    async def assign(
        self, conversation_id: str, agent_id: str, at: int, *, only_if_unassigned: bool,
        within_capacity: int | None = None,
    ) -> Conversation | None:
        # One writer: the UPDATE and its count run with no other write in between, which is the lock.
        capacity = ("" if within_capacity is None else
                    " AND (SELECT COUNT(*) FROM conversations WHERE assignee_id=? AND status='open' "
                    "AND snoozed_until IS NULL) < ?")
        args = () if within_capacity is None else (agent_id, within_capacity)

        def job(conn: sqlite3.Connection) -> Conversation | None:
            row = conn.execute(
                "UPDATE conversations SET assignee_id=?, assigned_at=?, updated_at=? "
                "WHERE id=? AND status='open'"
                + (" AND assignee_id IS NULL" if only_if_unassigned else "")
                + capacity
                + f" RETURNING {CONV_COLS}",
                (agent_id, at, at, conversation_id, *args),
            ).fetchone()
            if row is None:
                return None
            conn.execute("UPDATE agents SET last_assigned_at=? WHERE id=?", (at, agent_id))
            return conv_of(row)

        return await self._write(job)

    async def messages_after(
        self, conversation_id: str, after_seq: int, limit: int, *, include_notes: bool
    ) -> list[Message]:
        notes = "" if include_notes else "AND kind!='note'"
        rows = await self._all(
            f"SELECT {MSG_COLS} FROM messages WHERE conversation_id=? AND seq>? {notes} "
            "ORDER BY seq LIMIT ?",
            (conversation_id, after_seq, limit),
        )
        return await self.with_attachments([msg_of(r) for r in rows])

    async def messages_before(
        self, conversation_id: str, before_seq: int | None, limit: int, *, include_notes: bool
    ) -> list[Message]:
        notes = "" if include_notes else "AND kind!='note'"
        rows = await self._all(
            f"SELECT {MSG_COLS} FROM messages WHERE conversation_id=? AND seq<? {notes} "
            "ORDER BY seq DESC LIMIT ?",
            (conversation_id, before_seq if before_seq is not None else 2**62, limit),
        )
        return await self.with_attachments([msg_of(r) for r in reversed(rows)])

    async def quick_reply_answer(self, conversation_id: str, seq: int) -> Message | None:
        row = await self._one(
            f"SELECT {MSG_COLS} FROM messages WHERE conversation_id=? AND seq>? AND author_kind='visitor' "
            "AND kind='text' AND json_extract(data, '$.quick_reply.seq')=? ORDER BY seq LIMIT 1",
            (conversation_id, seq, seq),
        )
        return msg_of(row) if row else None

    async def last_messages(self, conversation_ids: list[str], *, include_notes: bool) -> dict[str, Message]:
        if not conversation_ids:
            return {}
        kinds = "l.kind!='event'" if include_notes else "l.kind='text'"
        values = ",".join("(?)" for _ in conversation_ids)
        cols = prefixed(MSG_COLS, "m")
        # Per id: the newest seq by a backwards walk of the primary key, then that one row.
        rows = await self._all(
            f"WITH ids(c) AS (VALUES {values}) SELECT {cols} FROM ids JOIN messages m "
            "ON m.conversation_id=ids.c AND m.seq=(SELECT l.seq FROM messages l WHERE l.conversation_id=ids.c "
            f"AND {kinds} ORDER BY l.seq DESC LIMIT 1)",
            conversation_ids,
            point=len(conversation_ids) <= INLINE_IDS_MAX,
        )
        return {m.conversation_id: m for m in await self.with_attachments([msg_of(r) for r in rows])}

    async def set_read(self, conversation_id: str, participant_id: str, kind: AuthorKind, seq: int) -> int:
        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "INSERT INTO reads(conversation_id, participant_id, participant_kind, read_seq) "
                "VALUES (?,?,?, min(?, (SELECT last_seq FROM conversations WHERE id=?))) "
                "ON CONFLICT(conversation_id, participant_id) DO UPDATE "
                "SET read_seq=max(read_seq, excluded.read_seq) RETURNING read_seq",
                (conversation_id, participant_id, kind, seq, conversation_id),
            ).fetchone()
            return int(row[0] or 0)

        return await self._write(job)

    async def reads(self, conversation_ids: list[str]) -> dict[str, dict[str, tuple[str, int]]]:
        out: dict[str, dict[str, tuple[str, int]]] = {c: {} for c in conversation_ids}
        if not conversation_ids:
            return out
        marks = ",".join("?" * len(conversation_ids))
        rows = await self._all(
            "SELECT conversation_id, participant_id, participant_kind, read_seq FROM reads "
            f"WHERE conversation_id IN ({marks})",
            conversation_ids,
            point=len(conversation_ids) <= INLINE_IDS_MAX,
        )
        for conv, who, kind, seq in rows:
            out[conv][who] = (kind, seq)
        return out

    async def count_after_read(
        self, conversation_ids: list[str], reader_id: str, kind: MessageKind, authors: frozenset[AuthorKind]
    ) -> dict[str, int]:
        if not conversation_ids:
            return {}
        marks = ",".join("?" * len(conversation_ids))
        who = ",".join("?" * len(authors))
        rows = await self._all(
            f"SELECT m.conversation_id, COUNT(*) FROM messages m WHERE m.conversation_id IN ({marks}) "
            f"AND m.kind=? AND m.author_kind IN ({who}) AND m.seq > COALESCE((SELECT read_seq FROM reads r "
            "WHERE r.conversation_id=m.conversation_id AND r.participant_id=?), 0) "
            "GROUP BY m.conversation_id",
            (*conversation_ids, kind, *sorted(authors), reader_id),
            point=len(conversation_ids) <= INLINE_IDS_MAX,
        )
        counts = dict.fromkeys(conversation_ids, 0)
        counts.update({r[0]: r[1] for r in rows})
        return counts

    async def agent_loads(self, agent_ids: list[str]) -> dict[str, int]:
        if not agent_ids:
            return {}
        marks = ",".join("?" * len(agent_ids))
        rows = await self._all(
            # A snoozed conversation is off its agent's plate until it comes back (snooze.py).
            f"SELECT assignee_id, COUNT(*) FROM conversations WHERE status='open' AND snoozed_until IS NULL "
            f"AND assignee_id IN ({marks}) GROUP BY assignee_id",
            agent_ids,
        )
        loads = dict.fromkeys(agent_ids, 0)
        loads.update({r[0]: r[1] for r in rows})
        return loads

    async def queued(self, site_id: str, limit: int | None = None) -> list[Conversation]:
        rows = await self._all(
            f"SELECT {CONV_COLS} FROM conversations INDEXED BY conversations_queue WHERE site_id=? "
            f"AND status='open' AND assignee_id IS NULL AND {NOT_HELD.format(c='conversations')} "
            "ORDER BY created_at, id LIMIT ?",
            (site_id, -1 if limit is None else limit),
        )
        return [conv_of(r) for r in rows]

    async def queue_places(self, conversations: list[Conversation]) -> dict[str, int]:
        ids = list({c.id for c in conversations if c.status == ConversationStatus.OPEN and c.assignee_id is None})
        if not ids:
            return {}
        values = ",".join("(?)" for _ in ids)
        # Per waiting conversation, as stored now (it may have been taken since the caller read it):
        # those ahead of it in its site's line, by the queue index.
        rows = await self._all(
            f"WITH ids(c) AS (VALUES {values}) SELECT q.id, (SELECT COUNT(*) FROM conversations o "
            "INDEXED BY conversations_queue WHERE o.site_id=q.site_id AND o.status='open' "
            f"AND o.assignee_id IS NULL AND {NOT_HELD.format(c='o')} AND (o.created_at<q.created_at "
            "OR (o.created_at=q.created_at AND o.id<q.id))) FROM ids JOIN conversations q ON q.id=ids.c "
            f"WHERE q.status='open' AND q.assignee_id IS NULL AND {NOT_HELD.format(c='q')}",
            ids,
            point=len(ids) <= INLINE_IDS_MAX,
        )
        return {r[0]: int(r[1]) + 1 for r in rows}

    async def handling_times(self, site_id: str, limit: int) -> list[int]:
        rows = await self._all(
            "SELECT closed_at - assigned_at FROM conversations WHERE site_id=? AND status='closed' "
            "AND assigned_at IS NOT NULL AND closed_at IS NOT NULL ORDER BY closed_at DESC LIMIT ?",
            (site_id, limit),
        )
        return [int(r[0]) for r in rows if r[0] is not None and r[0] >= 0]

    async def last_agent_for_visitor(self, visitor_id: str) -> str | None:
        row = await self._one(
            "SELECT assignee_id FROM conversations WHERE visitor_id=? AND assignee_id IS NOT NULL "
            "ORDER BY updated_at DESC LIMIT 1",
            (visitor_id,),
        )
        return str(row[0]) if row else None

    async def report_rows(self, site_id: str, since: int, until: int) -> list[ReportRow]:
        rows = await self._all(
            "SELECT id, assignee_id, created_at, assigned_at, first_response_at, closed_at, rating "
            "FROM conversations WHERE site_id=? AND created_at>=? AND created_at<? ORDER BY created_at, id",
            (site_id, since, until),
        )
        return [ReportRow(*r) for r in rows]

    # -- canned responses ----------------------------------------------------------------------------
    async def list_canned(self, site_id: str) -> list[CannedResponse]:
        rows = await self._all(
            "SELECT id, site_id, shortcut, body FROM canned_responses WHERE site_id=? ORDER BY shortcut",
            (site_id,),
        )
        return [CannedResponse(*r) for r in rows]

    async def save_canned(self, site_id: str, shortcut: str, body: str) -> CannedResponse:
        def job(conn: sqlite3.Connection) -> CannedResponse:
            row = conn.execute(
                "INSERT INTO canned_responses(id, site_id, shortcut, body) VALUES (?,?,?,?) "
                "ON CONFLICT(site_id, shortcut) DO UPDATE SET body=excluded.body "
                "RETURNING id, site_id, shortcut, body",
                (new_id("cr"), site_id, shortcut, body),
            ).fetchone()
            return CannedResponse(*row)

        return await self._write(job)

    async def delete_canned(self, site_id: str, canned_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "DELETE FROM canned_responses WHERE site_id=? AND id=?", (site_id, canned_id)
            )
            return cur.rowcount > 0

        return await self._write(job)
