"""The embedded store: SQLite in WAL mode, one writer thread with group commit, readers through aiosqlite.

Writes never run concurrently. Every write is a *job* (a function of a sqlite3 connection) queued on the
event loop; whenever the writer thread is idle, everything waiting (up to `MAX_BATCH`) goes to it as one
batch, run inside one `BEGIN IMMEDIATE … COMMIT`, each job under its own SAVEPOINT so one failing job
does not undo its neighbours, and only then are the callers' futures resolved. One thread hop and one
fsync per batch, whatever its size: at 5k msgs/s with `synchronous=FULL` that is the difference between
keeping up and not (this disk does ~4-5k fsyncs/s; see docs/operations.md).

Reads use separate connections (WAL readers never block the writer). Point reads — a row by its key, or
the rows of a handful of conversations — run on the event loop's own connection: the read takes ~5-10 µs
where a hop to a reader thread and back costs ~60-90 µs, and a visitor's reconnect makes several of
them. Anything that scans (search, history pages, reports, long lists) goes to the reader threads, so it
never stalls the loop. SQLite's automatic checkpoint is off because it stalls the committing writer:
every second a reader copies the bulk of the WAL, off the commit path, and the writer finishes between
two batches, so the WAL starts over (`_checkpoint_loop`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import secrets
import sqlite3
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, TypeVar

import aiosqlite

from papote.errors import Conflict, NotFound, PapoteError
from papote.ids import new_id, now_ms
from papote.store import (
    Agent,
    ApiKey,
    Appended,
    CannedResponse,
    Conversation,
    ConversationQuery,
    Invite,
    Membership,
    Message,
    NewMessage,
    ReportRow,
    Site,
    Store,
    Visitor,
    VisitorEvent,
)
from papote.store.sqlite_append import append_one, append_run
from papote.store.sqlite_rows import (
    AGENT_COLS,
    CONV_COLS,
    MSG_COLS,
    SITE_COLS,
    VISITOR_COLS,
    agent_of,
    conv_of,
    dumps,
    msg_of,
    site_of,
    visitor_of,
)
from papote.store.sqlite_writer import Outcome, WriterThread, resolve

log = logging.getLogger("papote.store")
T = TypeVar("T")

#: Jobs per transaction. Bigger batches amortise the fsync further but delay the first ack of the batch.
MAX_BATCH = 256
#: Checkpoint this often; short enough that the WAL stays small under load (see `_checkpoint_loop`).
CHECKPOINT_SECS = 1.0
#: Readers run in their own threads; two let a slow history read not block a resume.
READERS = 2
#: Pages visited kept per visitor for the agents' context panel.
PAGES_KEPT = 20
#: A read over at most this many conversations (a visitor's welcome lists 10) is a point read.
INLINE_IDS_MAX = 20
#: Group commit with a gathering window, only under load. On a virtual disk a commit's fsync costs ~190 µs
#: of CPU (the virtio doorbell traps to the host, docs/performance.md), whatever the commit carries. Above this rate
#: of writes a commit first waits GATHER_SECS for company: at 5k msgs/s the writer thread's share of the
#: core fell from ~38 % to ~28 % and p99 from 6-13 ms to 7-8 ms, for ~1 ms more at p50. Below it (a busy
#: site sends a few hundred a second) every write commits at once: latency first.
GATHER_ABOVE_PER_SEC = 2500.0
#: One tick of the event loop's timer (libuv counts in milliseconds).
GATHER_SECS = 0.001
#: A batch this big already amortises its fsync: no waiting for more.
GATHER_ENOUGH = 8
#: The write rate is measured over windows this long.
RATE_WINDOW_SECS = 0.1


@dataclass(slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    #: A job that checks everything before its first write may skip the SAVEPOINT: its expected failures
    #: (PapoteError) leave nothing behind. Any other exception from it aborts the whole batch.
    checked: bool = False
    #: Set for appends: consecutive ones in a batch are stored together (`append_run`).
    append: NewMessage | None = None


def _checkpoint_rest(conn: sqlite3.Connection) -> None:
    """In the writer thread, between batches (a checkpoint inside a transaction would do nothing)."""
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _run_script(conn: sqlite3.Connection, script: str) -> None:
    conn.executescript(script)


def _run_batch(conn: sqlite3.Connection, jobs: list[_Job]) -> list[tuple[bool, Any]]:
    """Runs in the writer thread: the whole batch is one transaction, each job one savepoint."""
    outcomes: list[tuple[bool, Any]] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        i = 0
        while i < len(jobs):
            job = jobs[i]
            if job.append is not None:
                end = i
                while end < len(jobs) and jobs[end].append is not None:
                    end += 1
                outcomes.extend(append_run(conn, [j.append for j in jobs[i:end] if j.append is not None]))
                i = end
                continue
            i += 1
            if job.checked:
                try:
                    outcomes.append((True, job.fn(conn)))
                except PapoteError as exc:
                    outcomes.append((False, exc))
                continue
            conn.execute("SAVEPOINT job")
            try:
                value = job.fn(conn)
            except Exception as exc:
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                outcomes.append((False, exc))
            else:
                conn.execute("RELEASE job")
                outcomes.append((True, value))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


class SqliteStore(Store):
    def __init__(self, path: str, synchronous: str = "FULL") -> None:
        self.path = path
        self.synchronous = synchronous.upper()
        self.epoch = ""
        self._writer: WriterThread | None = None
        self._readers: list[aiosqlite.Connection] = []
        self._inline: sqlite3.Connection | None = None
        self._next_reader = 0
        self._waiting: deque[_Job] = deque()  # jobs for the next batch
        self._committing = False  # a batch is in the writer thread
        self._next_batch: asyncio.Handle | None = None  # scheduled start of the next batch
        self._drained: asyncio.Event | None = None  # set by the last batch once the store is closing
        self._checkpoint_task: asyncio.Task[None] | None = None
        #: How well group commit batches (tests and profiling read them).
        self.batches = 0
        self.jobs = 0
        self._submitted = 0
        self._rate = 0.0  # writes per second over the last window
        self._rate_at = 0.0
        self._rate_mark = 0

    # -- lifecycle -----------------------------------------------------------------------------------
    async def open(self) -> None:
        try:
            await self._open()
        except BaseException:
            # A half-open store must not leave connection threads behind (they keep the process alive).
            for conn in self._readers:
                with contextlib.suppress(Exception):
                    await conn.close()
            if self._writer is not None:
                with contextlib.suppress(Exception):
                    await self._writer.stop()
            self._writer = None
            self._readers.clear()
            if self._inline is not None:
                self._inline.close()
                self._inline = None
            raise

    async def _open(self) -> None:
        writer = WriterThread(self.path)
        await writer.start()
        self._writer = writer
        await writer.call(self._prepare)
        version = await writer.call(lambda c: c.execute("PRAGMA user_version").fetchone()[0])
        for name, script in self._migrations(version):
            log.info("applying migration %s", name)
            await writer.call(functools.partial(_run_script, script=script))
        verdict = await writer.call(lambda c: (c.execute("PRAGMA integrity_check").fetchone() or ["?"])[0])
        if verdict != "ok":
            raise RuntimeError(f"database {self.path} failed integrity_check: {verdict}")
        row = await writer.call(lambda c: c.execute("SELECT value FROM meta WHERE key='epoch'").fetchone())
        self.epoch = row[0] if row else ""
        for _ in range(READERS):
            reader = await aiosqlite.connect(self.path, isolation_level=None)
            await reader.execute_fetchall("PRAGMA query_only=1")
            await reader.execute_fetchall("PRAGMA busy_timeout=5000")
            await reader.execute_fetchall("PRAGMA cache_size=-8000")
            self._readers.append(reader)
        # No busy timeout: a point read that finds the WAL index busy takes a reader thread instead of
        # making the event loop wait.
        inline = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        inline.execute("PRAGMA query_only=1")
        inline.execute("PRAGMA cache_size=-8000")
        self._inline = inline
        self._checkpoint_task = asyncio.create_task(self._checkpoint_loop(), name="papote-checkpoint")

    def _prepare(self, conn: sqlite3.Connection) -> None:
        for pragma in (
            "PRAGMA journal_mode=WAL",
            f"PRAGMA synchronous={self.synchronous}",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=5000",
            # Checkpoints are ours (see module docstring); keep the WAL file from growing without bound.
            "PRAGMA wal_autocheckpoint=0",
            "PRAGMA journal_size_limit=67108864",
            "PRAGMA cache_size=-16000",
        ):
            conn.execute(pragma).fetchall()

    @staticmethod
    def _migrations(version: int) -> list[tuple[str, str]]:
        """The migration scripts newer than `version`, each as one transaction that also sets it."""
        out: list[tuple[str, str]] = []
        folder = resources.files("papote.store") / "migrations"
        scripts = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
        for name in scripts:
            number = int(name.split("_", 1)[0])
            if number <= version:
                continue
            sql = (folder / name).read_text()
            if number == 1:
                # The epoch names this database: a restored backup or a new file gets a new one, and
                # clients holding seqs from another epoch reload instead of trusting them.
                sql += f"\nINSERT INTO meta(key, value) VALUES ('epoch', 'e_{secrets.token_hex(8)}');"
            out.append((name, f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version={number};\nCOMMIT;"))
        return out

    async def close(self) -> None:
        if self._checkpoint_task:
            self._checkpoint_task.cancel()
            await asyncio.gather(self._checkpoint_task, return_exceptions=True)
        if self._writer is not None and (self._waiting or self._committing):
            # What was queued before the close is written, then the store shuts.
            self._drained = asyncio.Event()
            await self._drained.wait()
        for reader in self._readers:
            await reader.close()
        self._readers.clear()
        if self._inline is not None:
            self._inline.close()
            self._inline = None
        if self._writer is not None:
            writer, self._writer = self._writer, None
            await writer.call(lambda c: c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall())
            await writer.stop()

    # -- the writer ----------------------------------------------------------------------------------
    def _submit(
        self, fn: Callable[[sqlite3.Connection], T], *, checked: bool = False, append: NewMessage | None = None
    ) -> asyncio.Future[T]:
        if self._writer is None or self._drained is not None:
            raise RuntimeError("store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._waiting.append(_Job(fn, future, checked, append))
        self._submitted += 1
        if not self._committing and self._next_batch is None:
            self._schedule(loop)
        return future

    async def _write(self, fn: Callable[[sqlite3.Connection], T], *, checked: bool = False) -> T:
        return await self._submit(fn, checked=checked)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the next batch: on the next turn of the loop (jobs submitted in this one join it), or
        GATHER_SECS later under load."""
        if self._busy() and len(self._waiting) < GATHER_ENOUGH:
            self._next_batch = loop.call_later(GATHER_SECS, self._start_batch)
        else:
            self._next_batch = loop.call_soon(self._start_batch)

    def _start_batch(self) -> None:
        self._next_batch = None
        if not self._waiting or self._writer is None:
            return
        count = min(len(self._waiting), MAX_BATCH)
        batch = [self._waiting.popleft() for _ in range(count)]
        self._committing = True
        self._writer.submit(lambda conn: _run_batch(conn, batch), lambda outcome: self._settle(batch, outcome))

    def _settle(self, batch: list[_Job], outcome: Outcome) -> None:
        """On the loop, in the turn that learns the batch is committed (or failed): resolve its futures,
        then start the next batch."""
        self._committing = False
        ok, value = outcome
        if ok:
            self.batches += 1
            self.jobs += len(batch)
            for job, job_outcome in zip(batch, value, strict=True):
                resolve(job.future, job_outcome)
        else:
            log.error("write batch of %d failed; nothing in it was committed", len(batch), exc_info=value)
            for job in batch:
                resolve(job.future, outcome)
        if self._waiting:
            if self._next_batch is None:
                self._schedule(asyncio.get_running_loop())
        elif self._drained is not None:
            self._drained.set()

    def _busy(self) -> bool:
        """Whether writes arrive fast enough for a commit to wait for company (see GATHER_ABOVE_PER_SEC)."""
        now = asyncio.get_running_loop().time()
        elapsed = now - self._rate_at
        if elapsed >= RATE_WINDOW_SECS:
            # A quiet spell longer than the window counts as that window's rate: the first write after
            # a pause commits at once.
            self._rate = (self._submitted - self._rate_mark) / elapsed
            self._rate_at, self._rate_mark = now, self._submitted
        return self._rate >= GATHER_ABOVE_PER_SEC

    async def _checkpoint_loop(self) -> None:
        """Keep the WAL short: it is rewritten from its start only once a checkpoint has copied every
        frame in it back to the database, and under steady writes a checkpoint from another connection
        never catches up with the frames committed while it runs. Left so, the WAL grew by ~15 MB/s
        at 1k msgs/s (180 MB in 12 s), and every commit appended to it, so each fsync also had to
        journal the file's new size. So: a reader copies the bulk, off the commit path; then the writer,
        between two batches, copies the few frames committed meanwhile (~1 ms), and its next
        transaction starts the WAL over."""
        while True:
            await asyncio.sleep(CHECKPOINT_SECS)
            try:
                # Fetch the result row rather than rely on the cursor being collected: a statement left
                # un-stepped holds a read transaction open, and later reads on it see an old snapshot.
                await self._readers[0].execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
                if self._writer is not None and self._drained is None:
                    await self._writer.call(_checkpoint_rest)
            except sqlite3.Error:
                log.warning("checkpoint failed", exc_info=True)

    # -- reading helpers -----------------------------------------------------------------------------
    def _reader(self) -> aiosqlite.Connection:
        self._next_reader = (self._next_reader + 1) % len(self._readers)
        return self._readers[self._next_reader]

    async def _all(self, sql: str, params: Sequence[Any] = (), *, point: bool = False) -> list[Any]:
        """Rows of `sql`; a `point` read (bounded, by index) runs on the loop's connection."""
        if point and self._inline is not None:
            try:
                # fetchall steps the statement to its end, which closes its read transaction at once.
                return self._inline.execute(sql, params).fetchall()
            except sqlite3.OperationalError:
                pass  # busy (a checkpoint holds the WAL index): read from a thread, which may wait
        return list(await self._reader().execute_fetchall(sql, params))

    async def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """One row by key: always a point read."""
        rows = await self._all(sql, params, point=True)
        return rows[0] if rows else None

    # -- sites ---------------------------------------------------------------------------------------
    async def create_site(self, name: str, origins: list[str], settings: dict[str, Any]) -> Site:
        site = Site(
            new_id("s"), new_id("pk"), name, origins, [secrets.token_hex(32)], settings, now_ms()
        )

        def job(conn: sqlite3.Connection) -> Site:
            conn.execute(
                f"INSERT INTO sites({SITE_COLS}) VALUES (?,?,?,?,?,?,?)",
                (site.id, site.key, site.name, dumps(site.origins), dumps(site.secrets),
                 dumps(site.settings), site.created_at),
            )
            return site

        return await self._write(job)

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
                f"SELECT {', '.join('s.' + c.strip() for c in SITE_COLS.split(','))} FROM sites s "
                "JOIN memberships m ON m.site_id=s.id WHERE m.agent_id=? ORDER BY s.created_at",
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
            if changes:
                sets = ", ".join(f"{k}=?" for k in changes)
                conn.execute(f"UPDATE sites SET {sets} WHERE id=?", (*changes.values(), site_id))
            row = conn.execute(f"SELECT {SITE_COLS} FROM sites WHERE id=?", (site_id,)).fetchone()
            if row is None:
                raise NotFound("no such site")
            return site_of(row)

        return await self._write(job)

    # -- agents --------------------------------------------------------------------------------------
    async def create_agent(self, email: str, name: str, password_hash: str) -> Agent:
        agent = Agent(new_id("a"), email, name, password_hash, None, False, "offline", 5, 0, now_ms())

        def job(conn: sqlite3.Connection) -> Agent:
            try:
                conn.execute(
                    f"INSERT INTO agents({AGENT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (agent.id, agent.email, agent.name, agent.password_hash, None, 0, agent.status,
                     agent.capacity, 0, agent.created_at),
                )
            except sqlite3.IntegrityError:
                raise Conflict(f"an agent with email {email} already exists") from None
            return agent

        return await self._write(job)

    async def get_agent(self, agent_id: str) -> Agent | None:
        row = await self._one(f"SELECT {AGENT_COLS} FROM agents WHERE id=?", (agent_id,))
        return agent_of(row) if row else None

    async def get_agent_by_email(self, email: str) -> Agent | None:
        row = await self._one(f"SELECT {AGENT_COLS} FROM agents WHERE email=?", (email,))
        return agent_of(row) if row else None

    async def list_agents(self, site_id: str | None = None) -> list[tuple[Agent, str | None]]:
        if site_id is None:
            rows = await self._all(f"SELECT {AGENT_COLS}, NULL FROM agents ORDER BY created_at")
        else:
            cols = ", ".join("a." + c.strip() for c in AGENT_COLS.split(","))
            rows = await self._all(
                f"SELECT {cols}, m.role FROM agents a JOIN memberships m ON m.agent_id=a.id "
                "WHERE m.site_id=? ORDER BY a.created_at",
                (site_id,),
                point=True,  # a site's team: every visitor's welcome counts who is online
            )
        return [(agent_of(r), r[10]) for r in rows]

    _AGENT_FIELDS = frozenset(
        {"name", "password_hash", "avatar", "disabled", "status", "capacity", "last_assigned_at", "email"}
    )

    async def update_agent(self, agent_id: str, **changes: Any) -> Agent:
        unknown = set(changes) - self._AGENT_FIELDS
        if unknown:
            raise ValueError(f"cannot change {unknown}")

        def job(conn: sqlite3.Connection) -> Agent:
            if changes:
                sets = ", ".join(f"{k}=?" for k in changes)
                conn.execute(f"UPDATE agents SET {sets} WHERE id=?", (*changes.values(), agent_id))
            row = conn.execute(f"SELECT {AGENT_COLS} FROM agents WHERE id=?", (agent_id,)).fetchone()
            if row is None:
                raise NotFound("no such agent")
            return agent_of(row)

        return await self._write(job)

    async def set_membership(self, site_id: str, agent_id: str, role: str | None) -> None:
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
            "SELECT site_id, agent_id, role FROM memberships WHERE agent_id=?", (agent_id,), point=True
        )
        return [Membership(*r) for r in rows]

    async def record_login_failure(self, email: str, at: int) -> None:
        await self._write(
            lambda c: c.execute("INSERT INTO login_failures(email, at) VALUES (?,?)", (email, at))
        )

    async def count_login_failures(self, email: str, since: int) -> int:
        row = await self._one(
            "SELECT COUNT(*) FROM login_failures WHERE email=? AND at>=?", (email, since)
        )
        return int(row[0])

    async def clear_login_failures(self, email: str) -> None:
        await self._write(lambda c: c.execute("DELETE FROM login_failures WHERE email=?", (email,)))

    async def create_session(self, token_hash: str, agent_id: str, expires_at: int) -> None:
        now = now_ms()

        def job(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM sessions WHERE expires_at<?", (now,))
            conn.execute(
                "INSERT INTO sessions(token_hash, agent_id, created_at, expires_at) VALUES (?,?,?,?)",
                (token_hash, agent_id, now, expires_at),
            )

        await self._write(job)

    async def get_session(self, token_hash: str, now: int) -> str | None:
        row = await self._one(
            "SELECT s.agent_id FROM sessions s JOIN agents a ON a.id=s.agent_id "
            "WHERE s.token_hash=? AND s.expires_at>? AND a.disabled=0",
            (token_hash, now),
        )
        return str(row[0]) if row else None

    async def delete_sessions(
        self, *, token_hash: str | None = None, agent_id: str | None = None
    ) -> None:
        if token_hash is not None:
            await self._write(lambda c: c.execute("DELETE FROM sessions WHERE token_hash=?", (token_hash,)))
        if agent_id is not None:
            await self._write(lambda c: c.execute("DELETE FROM sessions WHERE agent_id=?", (agent_id,)))

    async def create_api_key(self, site_id: str, key_hash: str, name: str) -> ApiKey:
        key = ApiKey(new_id("k"), site_id, name, now_ms())
        await self._write(
            lambda c: c.execute(
                "INSERT INTO api_keys(id, site_id, key_hash, name, created_at) VALUES (?,?,?,?,?)",
                (key.id, site_id, key_hash, name, key.created_at),
            )
        )
        return key

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
                "INSERT INTO invites(token_hash, site_id, email, role, created_by, expires_at) "
                "VALUES (?,?,?,?,?,?)",
                (token_hash, invite.site_id, invite.email, invite.role, invite.created_by,
                 invite.expires_at),
            )
        )

    async def get_invite(self, token_hash: str, now: int) -> Invite | None:
        row = await self._one(
            "SELECT site_id, email, role, created_by, expires_at FROM invites "
            "WHERE token_hash=? AND expires_at>?",
            (token_hash, now),
        )
        return Invite(*row) if row else None

    async def delete_invite(self, token_hash: str) -> None:
        await self._write(lambda c: c.execute("DELETE FROM invites WHERE token_hash=?", (token_hash,)))

    # -- visitors ------------------------------------------------------------------------------------
    async def create_visitor(self, site_id: str, token_hash: str) -> Visitor:
        now = now_ms()
        visitor = Visitor(new_id("v"), site_id, None, "", "", False, {}, {}, [], {}, now, now)

        def job(conn: sqlite3.Connection) -> Visitor:
            conn.execute(
                "INSERT INTO visitors(id, site_id, created_at, last_seen) VALUES (?,?,?,?)",
                (visitor.id, site_id, now, now),
            )
            conn.execute(
                "INSERT INTO visitor_tokens(token_hash, visitor_id, created_at) VALUES (?,?,?)",
                (token_hash, visitor.id, now),
            )
            return visitor

        return await self._write(job)

    async def get_visitor(self, visitor_id: str) -> Visitor | None:
        row = await self._one(f"SELECT {VISITOR_COLS} FROM visitors WHERE id=?", (visitor_id,))
        return visitor_of(row) if row else None

    async def get_visitors(self, visitor_ids: list[str]) -> dict[str, Visitor]:
        if not visitor_ids:
            return {}
        ids = list(set(visitor_ids))  # a visitor with two conversations is asked for twice
        rows = await self._all(
            f"SELECT {VISITOR_COLS} FROM visitors WHERE id IN ({','.join('?' * len(ids))})", ids,
            point=len(ids) <= INLINE_IDS_MAX,
        )
        return {r[0]: visitor_of(r) for r in rows}

    async def get_visitor_by_token(self, site_id: str, token_hash: str) -> Visitor | None:
        cols = ", ".join("v." + c.strip() for c in VISITOR_COLS.split(","))
        row = await self._one(
            f"SELECT {cols} FROM visitor_tokens t JOIN visitors v ON v.id=t.visitor_id "
            "WHERE t.token_hash=? AND v.site_id=?",
            (token_hash, site_id),
        )
        return visitor_of(row) if row else None

    async def get_visitor_by_user(self, site_id: str, user_id: str) -> Visitor | None:
        row = await self._one(
            f"SELECT {VISITOR_COLS} FROM visitors WHERE site_id=? AND user_id=?", (site_id, user_id)
        )
        return visitor_of(row) if row else None

    _VISITOR_FIELDS = frozenset(
        {"name", "email", "verified", "attributes", "page", "device", "user_id", "last_seen"}
    )

    async def update_visitor(self, visitor_id: str, **changes: Any) -> Visitor:
        unknown = set(changes) - self._VISITOR_FIELDS
        if unknown:
            raise ValueError(f"cannot change {unknown}")
        values = {
            k: (dumps(v) if k in {"attributes", "page", "device"} else v) for k, v in changes.items()
        }
        page = changes.get("page")

        def job(conn: sqlite3.Connection) -> Visitor:
            if values:
                sets = ", ".join(f"{k}=?" for k in values)
                conn.execute(f"UPDATE visitors SET {sets} WHERE id=?", (*values.values(), visitor_id))
            if page:
                row = conn.execute("SELECT pages FROM visitors WHERE id=?", (visitor_id,)).fetchone()
                pages = json.loads(row[0]) if row else []
                if not pages or pages[-1].get("url") != page.get("url"):
                    pages = [*pages, {**page, "at": now_ms()}][-PAGES_KEPT:]
                    conn.execute("UPDATE visitors SET pages=? WHERE id=?", (dumps(pages), visitor_id))
            row = conn.execute(f"SELECT {VISITOR_COLS} FROM visitors WHERE id=?", (visitor_id,)).fetchone()
            if row is None:
                raise NotFound("no such visitor")
            return visitor_of(row)

        return await self._write(job)

    async def add_visitor_token(self, visitor_id: str, token_hash: str) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO visitor_tokens(token_hash, visitor_id, created_at) VALUES (?,?,?)",
                (token_hash, visitor_id, now_ms()),
            )
        )

    async def delete_visitor_token(self, token_hash: str) -> None:
        await self._write(
            lambda c: c.execute("DELETE FROM visitor_tokens WHERE token_hash=?", (token_hash,))
        )

    async def merge_visitor(self, from_id: str, into_id: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute("UPDATE visitor_tokens SET visitor_id=? WHERE visitor_id=?", (into_id, from_id))
            conn.execute("UPDATE conversations SET visitor_id=? WHERE visitor_id=?", (into_id, from_id))
            conn.execute("UPDATE visitor_events SET visitor_id=? WHERE visitor_id=?", (into_id, from_id))
            conn.execute("UPDATE reads SET participant_id=? WHERE participant_id=? AND NOT EXISTS "
                         "(SELECT 1 FROM reads r2 WHERE r2.conversation_id=reads.conversation_id "
                         "AND r2.participant_id=?)", (into_id, from_id, into_id))
            conn.execute("DELETE FROM visitors WHERE id=?", (from_id,))

        await self._write(job)

    async def add_visitor_event(self, visitor_id: str, event: VisitorEvent) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO visitor_events(visitor_id, name, data, at) VALUES (?,?,?,?)",
                (visitor_id, event.name, dumps(event.data), event.at or now_ms()),
            )
        )

    async def visitor_events(self, visitor_id: str, limit: int = 50) -> list[VisitorEvent]:
        rows = await self._all(
            "SELECT name, data, at FROM visitor_events WHERE visitor_id=? ORDER BY at DESC LIMIT ?",
            (visitor_id, limit),
        )
        return [VisitorEvent(r[0], json.loads(r[1]), r[2]) for r in rows]

    async def create_link_code(self, code_hash: str, visitor_id: str, expires_at: int) -> None:
        await self._write(
            lambda c: c.execute(
                "INSERT INTO link_codes(code_hash, visitor_id, expires_at) VALUES (?,?,?)",
                (code_hash, visitor_id, expires_at),
            )
        )

    async def take_link_code(self, code_hash: str, now: int) -> str | None:
        def job(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "DELETE FROM link_codes WHERE code_hash=? RETURNING visitor_id, expires_at", (code_hash,)
            ).fetchone()
            conn.execute("DELETE FROM link_codes WHERE expires_at<?", (now,))
            if row is None or row[1] < now:
                return None
            return str(row[0])

        return await self._write(job)

    # -- conversations and messages -----------------------------------------------------------------
    def append_nowait(self, new: NewMessage) -> asyncio.Future[Appended]:
        return self._submit(lambda conn: append_one(conn, new), checked=True, append=new)

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

    _CONV_FIELDS = frozenset(
        {"status", "assignee_id", "labels", "contact_email", "rating", "rating_comment", "assigned_at",
         "closed_at", "updated_at", "visitor_id"}
    )

    async def update_conversation(self, conversation_id: str, **changes: Any) -> Conversation:
        unknown = set(changes) - self._CONV_FIELDS
        if unknown:
            raise ValueError(f"cannot change {unknown}")
        values = {k: (dumps(v) if k == "labels" else v) for k, v in changes.items()}

        def job(conn: sqlite3.Connection) -> Conversation:
            if values:
                sets = ", ".join(f"{k}=?" for k in values)
                conn.execute(
                    f"UPDATE conversations SET {sets} WHERE id=?", (*values.values(), conversation_id)
                )
            row = conn.execute(
                f"SELECT {CONV_COLS} FROM conversations WHERE id=?", (conversation_id,)
            ).fetchone()
            if row is None:
                raise NotFound("no such conversation")
            return conv_of(row)

        return await self._write(job)

    async def assign(
        self, conversation_id: str, agent_id: str, at: int, *, only_if_unassigned: bool
    ) -> Conversation | None:
        def job(conn: sqlite3.Connection) -> Conversation | None:
            row = conn.execute(
                "UPDATE conversations SET assignee_id=?, assigned_at=?, updated_at=? "
                "WHERE id=? AND status='open'"
                + (" AND assignee_id IS NULL" if only_if_unassigned else "")
                + f" RETURNING {CONV_COLS}",
                (agent_id, at, at, conversation_id),
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
        return [msg_of(r) for r in rows]

    async def messages_before(
        self, conversation_id: str, before_seq: int | None, limit: int, *, include_notes: bool
    ) -> list[Message]:
        notes = "" if include_notes else "AND kind!='note'"
        rows = await self._all(
            f"SELECT {MSG_COLS} FROM messages WHERE conversation_id=? AND seq<? {notes} "
            "ORDER BY seq DESC LIMIT ?",
            (conversation_id, before_seq if before_seq is not None else 2**62, limit),
        )
        return [msg_of(r) for r in reversed(rows)]

    async def last_messages(self, conversation_ids: list[str], *, include_notes: bool) -> dict[str, Message]:
        if not conversation_ids:
            return {}
        notes = "" if include_notes else "AND l.kind!='note'"
        values = ",".join("(?)" for _ in conversation_ids)
        cols = ", ".join("m." + c.strip() for c in MSG_COLS.split(","))
        # Per id: the newest seq by a backwards walk of the primary key, then that one row.
        rows = await self._all(
            f"WITH ids(c) AS (VALUES {values}) SELECT {cols} FROM ids JOIN messages m "
            "ON m.conversation_id=ids.c AND m.seq=(SELECT l.seq FROM messages l WHERE l.conversation_id=ids.c "
            f"{notes} ORDER BY l.seq DESC LIMIT 1)",
            conversation_ids,
            point=len(conversation_ids) <= INLINE_IDS_MAX,
        )
        return {r[0]: msg_of(r) for r in rows}

    async def set_read(self, conversation_id: str, participant_id: str, kind: str, seq: int) -> int:
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

    async def count_unread(
        self, conversation_ids: list[str], reader_kind: str, reader_id: str
    ) -> dict[str, int]:
        if not conversation_ids:
            return {}
        marks = ",".join("?" * len(conversation_ids))
        # A visitor's unread are agents' texts; an agent's are the visitor's texts. Events and notes
        # never count: they do not ask for an answer.
        other = "m.author_kind!='visitor'" if reader_kind == "visitor" else "m.author_kind='visitor'"
        rows = await self._all(
            f"SELECT m.conversation_id, COUNT(*) FROM messages m WHERE m.conversation_id IN ({marks}) "
            f"AND m.kind='text' AND {other} AND m.seq > COALESCE((SELECT read_seq FROM reads r "
            "WHERE r.conversation_id=m.conversation_id AND r.participant_id=?), 0) "
            "GROUP BY m.conversation_id",
            (*conversation_ids, reader_id),
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
            f"SELECT assignee_id, COUNT(*) FROM conversations WHERE status='open' "
            f"AND assignee_id IN ({marks}) GROUP BY assignee_id",
            agent_ids,
        )
        loads = dict.fromkeys(agent_ids, 0)
        loads.update({r[0]: r[1] for r in rows})
        return loads

    async def queued(self, site_id: str, limit: int | None = None) -> list[Conversation]:
        rows = await self._all(
            f"SELECT {CONV_COLS} FROM conversations INDEXED BY conversations_queue WHERE site_id=? "
            "AND status='open' AND assignee_id IS NULL ORDER BY created_at, id LIMIT ?",
            (site_id, -1 if limit is None else limit),
        )
        return [conv_of(r) for r in rows]

    async def queue_places(self, conversations: list[Conversation]) -> dict[str, int]:
        places: dict[str, int] = {}
        for conv in conversations:
            if conv.status != "open" or conv.assignee_id is not None:
                continue
            row = await self._one(
                "SELECT COUNT(*) FROM conversations INDEXED BY conversations_queue WHERE site_id=? "
                "AND status='open' AND assignee_id IS NULL AND (created_at<? OR (created_at=? AND id<?))",
                (conv.site_id, conv.created_at, conv.created_at, conv.id),
            )
            places[conv.id] = int(row[0]) + 1
        return places

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
            "FROM conversations WHERE site_id=? AND created_at>=? AND created_at<? ORDER BY created_at",
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
