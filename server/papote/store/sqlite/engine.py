"""The SQLite engine: WAL mode, one writer thread with group commit, readers, checkpoints.

Writes never run concurrently. Every write is a *job* (a function of a sqlite3 connection) queued on the
event loop; the writer thread takes everything waiting (up to `MAX_BATCH`) as one batch, run inside one
`BEGIN IMMEDIATE … COMMIT`, each job under its own SAVEPOINT so one failing job does not undo its
neighbours, and only then are the callers' futures resolved. As soon as a commit returns, the writer
takes what arrived meanwhile as the next batch, without waiting for the loop to learn of the first
(`_commit_waiting`); the loop wakes it only when it was idle. One fsync per batch, whatever its size:
at 5k msgs/s with `synchronous=FULL` that is the difference between keeping up and not (this disk does
~4-5k fsyncs/s; see docs/operations.md).

Reads use separate connections (WAL readers never block the writer). Point reads — a row by its key, or
the rows of a handful of conversations — run on the event loop's own connection: the read takes ~5-10 µs
where a hop to a reader thread and back costs ~60-90 µs, and a visitor's reconnect makes several of
them. Anything that scans (search, history pages, reports, long lists) goes to the reader threads, so it
never stalls the loop. SQLite's automatic checkpoint is off because it stalls the committing writer:
every second a reader copies the bulk of the WAL, off the commit path, and the writer finishes between
two batches, so the WAL starts over (`_checkpoint_loop`).

The writer's own thread (`WriterThread`): one connection, calls run one at a time, in the order given.
A call's outcome comes back to the event loop as a plain callback (`loop.call_soon_threadsafe`), not
through a future a task must wake up for: the store settles a committed batch in the very turn of the
loop that learns of it. (aiosqlite, used before for the writer too,
resolved a future that a writer task awaited; the store called its private `_execute` to run a whole
batch in one hop. Latency and CPU measured the same within this machine's noise.)

The queries live in `store.py`, the append hot path in `append.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from queue import SimpleQueue
from typing import Any, TypeVar

import aiosqlite

from papote.errors import PapoteError
from papote.store.rules import AppendPlan
from papote.store.sqlite.append import append_run

log = logging.getLogger("papote.store")
T = TypeVar("T")

#: Jobs per transaction. Bigger batches amortise the fsync further but delay the first ack of the batch.
MAX_BATCH = 256
#: Look at the WAL this often; short enough that it stays small under load (see `_checkpoint_loop`).
CHECKPOINT_SECS = 1.0
#: ...but checkpoint only once this many commits have added to it (or CHECKPOINT_IDLE_SECS have passed
#: since the last one with anything new). Each checkpoint copies pages and fsyncs the database file: once
#: a second, at 10 msgs/s, that was ~70-90 µs of the ~1.8 ms of CPU per message (bench/profile.py, the
#: readers' and the writer's checkpoint samples). 200 commits of a few pages each keep the WAL near
#: SQLite's own auto-checkpoint size (1,000 pages); under load that is still once a second.
CHECKPOINT_COMMITS = 200
CHECKPOINT_IDLE_SECS = 30.0
#: The `-wal` file keeps the length the load gave it: each checkpoint starts it over from its first byte,
#: and SQLite's `journal_size_limit` would also cut a longer file back, in the first commit after the
#: start-over. At 10k msgs/s (~120 MB written to the WAL a second) that cut, then the file growing
#: again (each commit's fsync journaling the new length), stalled commits 20-30 ms at every checkpoint:
#: p99 31 → 14 ms without it (docs/performance.md). A file longer than this is cut to nothing at the
#: first checkpoint of a quiet spell (fewer than CHECKPOINT_COMMITS commits since the last one): a
#: quiet shop's WAL stays below it, and is never cut.
WAL_KEEP_BYTES = 64 * 1024 * 1024
#: How long a connection waits for a lock another holds (a checkpoint holding the WAL index, a reader
#: in the way of a truncation) before giving up with SQLITE_BUSY.
BUSY_TIMEOUT_MS = 5000
#: Readers run in their own threads; two let a slow history read not block a resume.
READERS = 2
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


#: A call's outcome: (True, value) or (False, the exception it raised).
Outcome = tuple[bool, Any]

_STOP = None


def resolve(future: asyncio.Future[Any], outcome: Outcome) -> None:
    """Give `future` the outcome of a call, unless its caller gave up on it already."""
    if future.done():
        return
    if outcome[0]:
        future.set_result(outcome[1])
    else:
        future.set_exception(outcome[1])


def _schedule_as_batch_thread() -> None:
    """Schedule the calling thread (the writer) as a batch thread: woken, it waits for the core rather
    than take it from the event loop at once.

    The writer is woken twice per commit: by its queue when a batch is started, and by the disk when
    its `fdatasync` returns. Both times it needs the GIL next, which the loop holds while it runs, so
    taking the core from the loop won it nothing: it blocked on the GIL at once and handed the core
    back, two context switches later. With the server on one core (as the bench pins it), the loop
    was preempted 0.15 to 0.7 times per message at 1k msgs/s; as a batch thread the writer runs when
    the loop polls for I/O (which releases the GIL) and the loop is not preempted: 0.02. CPU per
    message at 1k msgs/s −8-9 %, at 5k −5 %, saturation +6 % (docs/performance.md). On a free core
    the writer still starts at once: only wake-up preemption changes, not its share of the CPU."""
    if not hasattr(os, "SCHED_BATCH"):
        return  # not Linux: the default policy
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))  # 0: the calling thread
    except OSError:
        log.info("the SQLite writer runs with the default scheduling policy", exc_info=True)


class WriterThread:
    def __init__(self, path: str) -> None:
        self.path = path
        self._calls: SimpleQueue[tuple[Callable[[sqlite3.Connection], Any], Callable[[Outcome], None]] | None]
        self._calls = SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._open_error: BaseException | None = None

    async def start(self) -> None:
        """Open the connection in the thread (SQLite connections stay with the thread that made them)."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="papote-sqlite-writer", daemon=True)
        self._thread.start()
        await self._loop.run_in_executor(None, self._ready.wait)
        if self._open_error is not None:
            raise self._open_error

    def submit(self, fn: Callable[[sqlite3.Connection], Any], done: Callable[[Outcome], None]) -> None:
        """Run `fn(connection)` in the thread; `done(outcome)` is then called on the event loop."""
        self._calls.put((fn, done))

    def has_calls(self) -> bool:
        """Calls are queued behind the one running (the thread reads this between two batches)."""
        return not self._calls.empty()

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        assert self._loop is not None
        future: asyncio.Future[T] = self._loop.create_future()
        self.submit(fn, lambda outcome: resolve(future, outcome))
        return await future

    async def stop(self) -> None:
        """Let the calls already submitted run, then close the connection and end the thread."""
        if self._thread is None or self._loop is None:
            return
        self._calls.put(_STOP)
        await self._loop.run_in_executor(None, self._thread.join)
        self._thread = None

    def _run(self) -> None:
        _schedule_as_batch_thread()
        try:
            conn = sqlite3.connect(self.path, isolation_level=None)
        except BaseException as exc:
            self._open_error = exc
            self._ready.set()
            return
        self._ready.set()
        loop = self._loop
        assert loop is not None
        try:
            while True:
                item = self._calls.get()
                if item is _STOP:
                    return
                fn, done = item
                try:
                    outcome: Outcome = (True, fn(conn))
                except BaseException as exc:
                    outcome = (False, exc)
                try:
                    loop.call_soon_threadsafe(done, outcome)
                except RuntimeError:
                    return  # the loop is closed: nobody is waiting any more
        finally:
            conn.close()


@dataclass(slots=True)
class _Job:
    fn: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    #: A job that checks everything before its first write may skip the SAVEPOINT: its expected failures
    #: (PapoteError) leave nothing behind. Any other exception from it aborts the whole batch.
    checked: bool = False
    #: Set for appends: consecutive ones in a batch are stored together (`append_run`).
    append: AppendPlan | None = None


def checkpoint_due(new_commits: int, since_secs: float) -> bool:
    """Whether the WAL is worth a checkpoint: enough commits since the last, or anything new for long."""
    if new_commits == 0:
        return False
    return new_commits >= CHECKPOINT_COMMITS or since_secs >= CHECKPOINT_IDLE_SECS


def _checkpoint_rest(conn: sqlite3.Connection) -> None:
    """In the writer thread, between batches (a checkpoint inside a transaction would do nothing)."""
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _checkpoint_and_cut(conn: sqlite3.Connection) -> None:
    """`_checkpoint_rest`, at a quiet moment, for a `-wal` file a burst left long: copy back what remains
    and cut the file to nothing. A reader still inside the WAL makes TRUNCATE give up at once rather
    than wait (the writer would hold every commit meanwhile); the next quiet checkpoint tries again."""
    conn.execute("PRAGMA busy_timeout=0").fetchall()
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}").fetchall()


def wal_bytes(path: str) -> int:
    """The length of the database's `-wal` file (0 when there is none)."""
    try:
        return os.stat(path + "-wal").st_size
    except OSError:
        return 0


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


class SqliteEngine:
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
        self.on_settled: Callable[[], None] | None = None  # see Store.on_settled
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
            await reader.execute_fetchall(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
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
            f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
            # Checkpoints are ours (see module docstring), and so is the `-wal` file's length
            # (WAL_KEEP_BYTES): no journal_size_limit.
            "PRAGMA wal_autocheckpoint=0",
            "PRAGMA cache_size=-16000",
        ):
            conn.execute(pragma).fetchall()

    @staticmethod
    def _migrations(version: int) -> list[tuple[str, str]]:
        """The migration scripts newer than `version`, each as one transaction that also sets it."""
        out: list[tuple[str, str]] = []
        folder = resources.files("papote.store.sqlite") / "migrations"
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
    def commit_stats(self) -> dict[str, int]:
        """Every write goes through the writer's batches, so these count them all."""
        return {"commits": self.batches, "writes": self.jobs}

    def _submit(
        self, fn: Callable[[sqlite3.Connection], T], *, checked: bool = False, append: AppendPlan | None = None
    ) -> asyncio.Future[T]:
        if self._writer is None or self._drained is not None:
            raise RuntimeError("store is not open")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._waiting.append(_Job(fn, future, checked, append))
        self._submitted += 1
        self._measure_rate(loop)
        if not self._committing and self._next_batch is None:
            self._schedule(loop)
        return future

    async def _write(self, fn: Callable[[sqlite3.Connection], T], *, checked: bool = False) -> T:
        return await self._submit(fn, checked=checked)

    def _schedule(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the next batch: now, or GATHER_SECS later under load.

        Now, not on the loop's next turn: the writer thread needs the GIL to begin, which it gets only
        once the loop polls for I/O, so the jobs submitted in the rest of this turn join the batch all
        the same; a `call_soon` start added a round of the loop (and whatever frames that round read)
        before the commit's first statement."""
        if self._busy() and len(self._waiting) < GATHER_ENOUGH:
            self._next_batch = loop.call_later(GATHER_SECS, self._start_batch)
        else:
            self._start_batch()

    def _start_batch(self) -> None:
        self._next_batch = None
        if not self._waiting or self._writer is None:
            return
        self._committing = True
        loop, writer = asyncio.get_running_loop(), self._writer
        writer.submit(lambda conn: self._commit_waiting(conn, loop, writer), self._writer_idle)

    def _commit_waiting(
        self, conn: sqlite3.Connection, loop: asyncio.AbstractEventLoop, writer: WriterThread
    ) -> None:
        """In the writer thread: commit what waits, batch after batch, until nothing does.

        The next batch is taken here, as soon as a commit returns, rather than by the loop once it has
        learnt of the commit: what arrived during a commit leaves with the next one without a round trip
        through the loop, so commits carry more messages at a shop's rates (at 1k msgs/s, 0.86 commits
        per message when the loop started each batch), and the writer does not wait for a loop that is
        busy fanning out the batch before. `_waiting` is only appended to by the loop and only popped
        here (each deque operation is atomic), and the loop starts no batch while this runs
        (`_committing`): `_writer_idle` tells it when this has returned. It also returns when another call
        waits for the thread (the checkpoint's share, `_checkpoint_rest`): under steady writes the queue
        never runs dry, and a checkpoint that never ran would let the WAL grow without end; the loop then
        starts the rest once that call is through."""
        first = True  # the loop gathered for the first batch already (`_schedule`)
        while True:
            if not first and self._busy() and len(self._waiting) < GATHER_ENOUGH:
                time.sleep(GATHER_SECS)  # under load: wait a moment for company (see GATHER_ABOVE_PER_SEC)
            first = False
            count = min(len(self._waiting), MAX_BATCH)
            if count == 0:
                return
            batch = [self._waiting.popleft() for _ in range(count)]
            try:
                outcome: Outcome = (True, _run_batch(conn, batch))
            except BaseException as exc:
                outcome = (False, exc)
            try:
                loop.call_soon_threadsafe(self._settle, batch, outcome)
            except RuntimeError:
                return  # the loop is closed: nobody is waiting any more
            if writer.has_calls():
                return

    def _settle(self, batch: list[_Job], outcome: Outcome) -> None:
        """On the loop, in the turn that learns the batch is committed (or failed): resolve its futures."""
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
        if self.on_settled is not None:
            self.on_settled()

    def _writer_idle(self, outcome: Outcome) -> None:
        """On the loop, after every batch's `_settle`: the writer found nothing more to commit. A job
        submitted since it last looked is started now."""
        self._committing = False
        if not outcome[0]:  # only a fault of the loop above, never a batch's (those are settled)
            log.error("the writer stopped committing", exc_info=outcome[1])
        if self._waiting:
            if self._next_batch is None:
                self._schedule(asyncio.get_running_loop())
        elif self._drained is not None:
            self._drained.set()

    def _measure_rate(self, loop: asyncio.AbstractEventLoop) -> None:
        """Update the write rate at each submission (the writer thread reads it between batches)."""
        now = loop.time()
        elapsed = now - self._rate_at
        if elapsed >= RATE_WINDOW_SECS:
            # A quiet spell longer than the window counts as that window's rate: the first write after
            # a pause commits at once.
            self._rate = (self._submitted - self._rate_mark) / elapsed
            self._rate_at, self._rate_mark = now, self._submitted

    def _busy(self) -> bool:
        """Whether writes arrive fast enough for a commit to wait for company (see GATHER_ABOVE_PER_SEC)."""
        return self._rate >= GATHER_ABOVE_PER_SEC

    async def _checkpoint_loop(self) -> None:
        """Keep the WAL short: it is rewritten from its start only once a checkpoint has copied every
        frame in it back to the database, and under steady writes a checkpoint from another connection
        never catches up with the frames committed while it runs. Left so, the WAL grew by ~15 MB/s
        at 1k msgs/s (180 MB in 12 s), and every commit appended to it, so each fsync also had to
        journal the file's new size. So: a reader copies the bulk, off the commit path; then the writer,
        between two batches, copies the few frames committed meanwhile (~1 ms), and its next
        transaction starts the WAL over. The file keeps its length meanwhile; one a burst left longer
        than WAL_KEEP_BYTES is cut to nothing by the first checkpoint of a quiet spell."""
        loop = asyncio.get_running_loop()
        done_at, done_batches = loop.time(), self.batches
        while True:
            await asyncio.sleep(CHECKPOINT_SECS)
            new_commits = self.batches - done_batches
            if not checkpoint_due(new_commits, loop.time() - done_at):
                continue
            done_at, done_batches = loop.time(), self.batches
            cut = new_commits < CHECKPOINT_COMMITS and wal_bytes(self.path) > WAL_KEEP_BYTES
            try:
                # Fetch the result row rather than rely on the cursor being collected: a statement left
                # un-stepped holds a read transaction open, and later reads on it see an old snapshot.
                await self._readers[0].execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
                if self._writer is not None and self._drained is None:
                    await self._writer.call(_checkpoint_and_cut if cut else _checkpoint_rest)
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
