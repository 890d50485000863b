"""What one commit costs at a quiet shop's pace: on the event loop itself, or handed to a writer thread.

The SQLite store commits on a thread of its own so that the loop serves other sockets during the fsync
(store/sqlite/engine.py). At low rates each commit is alone, so it pays the hand-off in full: the
writer thread woken, the loop woken again by its answer. This probe measures that hand-off in
isolation, on uvloop pinned to one core as the server is: a paced loop (`--rate` commits a second,
each followed by a timer sleep, so the loop goes idle between commits as at a quiet shop) commits
one small message row per turn, either inline or through a thread and a `call_soon_threadsafe`
answer, as the store does. It prints the process's CPU per commit, which includes the paced loop's
own wake-up (a timer and an epoll return), for `synchronous=FULL` (the fsync) and `OFF` (none).

    taskset -c 0 .venv/bin/python bench/commit_hop.py                # 1,000 commits a second
    taskset -c 0 .venv/bin/python bench/commit_hop.py --rate 100 --commits 1000

It writes a throw-away database next to itself under bench/results/ (deleted at the end).
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sqlite3
import statistics
import threading
from collections.abc import Callable
from pathlib import Path
from queue import SimpleQueue

import uvloop

RESULTS = Path(__file__).resolve().parent / "results"
#: Rounds per mode, alternated (inline, thread, inline, …) so a drift of the machine hits both alike.
ROUNDS = 3


def connect(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE IF NOT EXISTS messages(id INTEGER PRIMARY KEY, conversation TEXT, seq INT, body TEXT)")
    return conn


def commit(conn: sqlite3.Connection, n: int) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO messages(conversation, seq, body) VALUES (?,?,?)", (f"c{n % 90}", n, "hello " * 8))
    conn.execute("COMMIT")


async def paced(conn: sqlite3.Connection, mode: str, rate: int, commits: int) -> float:
    """CPU µs per commit of the whole process over `commits` paced turns."""
    loop = asyncio.get_running_loop()
    calls: SimpleQueue[tuple[int, Callable[[], None]] | None] = SimpleQueue()

    def writer() -> None:
        while (item := calls.get()) is not None:
            n, done = item
            commit(conn, n)
            loop.call_soon_threadsafe(done)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    before = resource.getrusage(resource.RUSAGE_SELF)
    for n in range(commits):
        if mode == "thread":
            future = loop.create_future()
            calls.put((n, lambda f=future: f.set_result(None)))
            await future
        else:
            commit(conn, n)
        await asyncio.sleep(1 / rate)
    after = resource.getrusage(resource.RUSAGE_SELF)
    calls.put(None)
    thread.join()
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu / commits * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=int, default=1000, help="commits a second")
    parser.add_argument("--commits", type=int, default=3000, help="commits per round")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    for synchronous in ("FULL", "OFF"):
        path = RESULTS / f"commit-hop-{synchronous.lower()}.db"
        conn = connect(path, synchronous)
        figures: dict[str, list[float]] = {"inline": [], "thread": []}
        for _ in range(ROUNDS):
            for mode in figures:
                figures[mode].append(uvloop.run(paced(conn, mode, args.rate, args.commits)))
        conn.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        inline, thread = (statistics.median(figures[m]) for m in ("inline", "thread"))
        print(f"synchronous={synchronous}, {args.rate} commits/s: inline {inline:.0f} µs of CPU per commit, "
              f"through the writer thread {thread:.0f} (hand-off {thread - inline:+.0f})")


if __name__ == "__main__":
    main()
