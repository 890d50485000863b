"""Appends per second through the store alone, SQLite against PostgreSQL with 1 and 4 append lanes.

No server, no sockets: `senders` tasks, each on a conversation of its own, append one message at a
time (await the commit, then the next), as many connections pipelining nothing would; every
append's latency is from `append_nowait` to its future resolving after COMMIT. At the end every
conversation is checked: seqs 1..last_seq with no hole and one row per client_msg_id.

    .venv/bin/python -m bench.store_append                       # every target
    .venv/bin/python -m bench.store_append --targets pg4 --messages 20000 --senders 400

PostgreSQL is the local server (127.0.0.1:5432, user postgres), on a throw-away database made and
dropped by the run; SQLite is a fresh file with synchronous=FULL (the default). Both stores share the
one machine with the load: on a 2-core box the figures say which is faster and by how much, not what
a dedicated database server would do. Run the targets back to back in one run and compare ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tests import postgres

from papote.store import NewMessage, Store
from papote.store.postgres import PostgresStore
from papote.store.sqlite import SqliteStore
from papote.types import AuthorKind, MessageKind

TARGETS = {"sqlite": None, "pg1": 1, "pg2": 2, "pg4": 4}


@dataclass
class Result:
    target: str
    messages: int
    seconds: float
    latencies_ms: list[float]
    holes: int
    batches: int

    def row(self) -> str:
        lat = sorted(self.latencies_ms)
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        per_batch = f"{self.messages / self.batches:.1f}" if self.batches else "-"
        return (f"| {self.target:6} | {self.messages / self.seconds:8.0f} | {p50:6.2f} | {p99:6.2f} | "
                f"{per_batch:>6} | {self.holes} |")


async def run(store: Store, target: str, messages: int, senders: int) -> Result:
    site = await store.create_site("Bench", [], {})
    visitors = [await store.create_visitor(site.id, f"bench-{i}") for i in range(senders)]
    cids = [(await store.append(NewMessage(site.id, None, AuthorKind.VISITOR, v.id, "", MessageKind.TEXT,
                                           "start", f"start-{v.id}", visitor_id=v.id))).conversation.id
            for v in visitors]
    per_sender = messages // senders
    latencies: list[float] = []
    batches_before = batches_of(store)

    async def sender(n: int) -> None:
        visitor, cid = visitors[n], cids[n]
        for i in range(per_sender):
            new = NewMessage(site.id, cid, AuthorKind.VISITOR, visitor.id, "", MessageKind.TEXT,
                             f"message {i} of {n}", f"b{n}-{i:06d}", visitor_id=visitor.id)
            started = time.perf_counter()
            await store.append_nowait(new)
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(sender(n) for n in range(senders)))
    seconds = time.perf_counter() - started
    holes = 0
    for cid in cids:
        conv = await store.get_conversation(cid)
        assert conv is not None
        stored = await store.messages_after(cid, 0, per_sender + 10, include_notes=True)
        seqs = [m.seq for m in stored]
        ids = {m.client_msg_id for m in stored}
        if seqs != list(range(1, conv.last_seq + 1)) or len(ids) != len(stored) or len(stored) != per_sender + 1:
            holes += 1
    return Result(target, per_sender * senders, seconds, latencies, holes, batches_of(store) - batches_before)


def batches_of(store: Store) -> int:
    if isinstance(store, PostgresStore):
        return store.lanes.batches
    if isinstance(store, SqliteStore):
        return store.batches
    return 0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default=",".join(TARGETS), help="sqlite,pg1,pg2,pg4")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=200)
    args = parser.parse_args()
    results = []
    for target in args.targets.split(","):
        lanes = TARGETS[target]
        if lanes is None:
            with tempfile.TemporaryDirectory() as tmp:
                store: Store = SqliteStore(str(Path(tmp) / "bench.db"))
                await store.open()
                try:
                    results.append(await run(store, target, args.messages, args.senders))
                finally:
                    await store.close()
        else:
            async with postgres.database() as url:
                store = PostgresStore(url, lanes=lanes)
                await store.open()
                try:
                    results.append(await run(store, target, args.messages, args.senders))
                finally:
                    await store.close()
        print(results[-1].row(), flush=True)
    print(f"\n{args.senders} senders, one conversation each, one append in flight per sender")
    print("| target | appends/s | p50 ms | p99 ms | per batch | conversations with a hole |")
    print("|--------|----------:|-------:|-------:|-------:|---|")
    for r in results:
        print(r.row())


if __name__ == "__main__":
    asyncio.run(main())
