"""Where each message's CPU goes, at 10, 100, 1k and 5k msgs/s (docs/performance.md, "Per message").

For each rate this starts ``papote serve`` fresh (pinned to core 0, as bench/run.py does), drives it
with bench/loadgen.py in the open loop of rows 0 and 1, and samples it with py-spy in native mode
over the second half of the load's recording window: Python frames and the C below them (msgspec,
SQLite, uvloop, libc). The first half, unobserved, gives each thread's CPU time from /proc.
Each sample of a working thread goes in one bucket, by the first rule of ``MAIN_RULES`` or
``WRITER_RULES`` that matches its stack; a thread waiting (the loop in epoll, the writer or a pool on
its queue) is in none. Each thread's CPU is split between its buckets by their share of its samples:
the table is µs of CPU per message.

Why two halves: py-spy's native mode stops every thread for each sample (a few ms with seven
threads). The stops cost CPU of their own (idle threads woken 200 times a second cost more than a
quiet shop's messages), and at high rates they put the server behind (at 5k msgs/s, seconds behind),
so the sampled half's CPU is not the server's. Its shares are kept, at a sampling rate that falls as
the message rate rises (``SAMPLES_PER_SEC``); at 5k msgs/s a server fallen behind commits bigger
batches, so the writer's shares there are a little too kind to the per-commit costs.

    .venv/bin/pip install py-spy                          # not a project dependency
    .venv/bin/python bench/profile.py                     # 10,100,1000,5000 msgs/s, ~3 minutes
    .venv/bin/python bench/profile.py --rates 1000 --keep /tmp/prof   # the stacks kept, for a flame graph
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import run

#: Seconds sampled at each rate: the low rates long enough that a quiet shop's few busy moments show up
#: in a few hundred samples.
SECONDS = {10: 29.0, 100: 20.0, 1000: 10.0, 5000: 8.0}  # twice this + 2 s: loadgen's bound is 60 s
#: Samples per second at each rate: each stops the process, so fewer as the server has less slack.
SAMPLES_PER_SEC = {10: 200, 100: 100, 1000: 25, 5000: 10}
# A sample whose last frames are one of these is a thread waiting for work, not working.
IDLE = re.compile(r"epoll_p?wait|_queue_SimpleQueue_get_impl|PyThread_acquire_lock_timed|pthread_cond_(timed)?wait|"
                  r"sem_(timed)?wait|__futex")
WARMUP = 3.0

# (bucket, pattern): the first pattern found in a sample's stack, read as one string, names its bucket.
# Order matters: a frame encoded inside the pipeline counts as encoding, not as the pipeline.
MAIN_RULES: list[tuple[str, str]] = [
    ("garbage collector", r"gc_collect"),
    ("decode + validate a frame (msgspec, protocol core)", r"papote/protocol/|msgspec"),
    ("authorization", r"papote/authz\.py"),
    ("encode frames (msgpack, per audience)", r"papote/frames\.py|msgpack"),
    ("socket writes (websockets framing, uvloop write)",
     r"send_frame|send_binary|Frame\.serialize|data_to_send|WebSocket\.send|_write_loop|UVStream_write|uv__write|"
     r"writev|sendmsg|__libc_send"),
    ("ASGI hand-over (uvicorn's queue, starlette's receive)",
     r"starlette/websockets\.py|WebSocketsSansIOProtocol\.receive \(|asgi_receive"),
    ("socket reads + WebSocket parsing",
     r"(?<!protocols/)websockets/|data_received|handle_bytes|handle_events|uv__read|__libc_recv|\bread \(libc"),
    ("hand-off to the writer thread and back (futures, callbacks)",
     r"papote/store/sqlite/engine\.py|papote/store/sqlite/store\.py"),
    ("bus (publish, deliver)", r"papote/bus/"),
    ("observers (webhooks, bot, push, moderation, channels, email)",
     r"papote/channels/|papote/bot/|papote/push\.py|papote/moderation|papote/webpush"),
    ("rate limits", r"papote/ratelimits\.py"),
    ("message rules (NUL check, append plan)", r"papote/store/rules\.py"),
    ("append pipeline (Messages.submit, the store's queue)", r"papote/conversations/|papote/store/__init__"),
    ("sessions (read loop, dispatch, protocol flush)", r"live\.py|visitor_ws\.py|agent_ws\.py|papote/web/"),
    ("other Papote code", r"papote/(?!cli\.py)"),
    ("asyncio / uvicorn / starlette Python code", r"asyncio/|uvicorn/|starlette/"),
    ("event loop (uvloop's C code, tasks, timers)", r"uv_run|uv__|uvloop|loop\.c|_asynciomodule|Handle__run|task_step"),
]
WRITER_RULES: list[tuple[str, str]] = [
    ("COMMIT: fsync", r"fdatasync|fsync"),
    ("COMMIT: the rest (WAL writes, locks)", r"@COMMIT"),
    ("WAL checkpoint", r"_checkpoint"),
    ("dedupe lookup (client_msg_id)", r"_existing \("),
    ("append statements (last_seq, insert, outbox rows)", r"papote/store/sqlite/append\.py"),
    ("other jobs in the batch (reads, receipts, sessions)", r"_run_batch|papote/store/"),
    ("hand-back to the loop (call_soon_threadsafe)", r"WriterThread"),
]


def source_line(text: str) -> int:
    source = (run.ROOT / "server/papote/store/sqlite/engine.py").read_text().splitlines()
    return next(i for i, line in enumerate(source, 1) if text in line)


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds per native thread id, from /proc."""
    out: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        out[int(task.name)] = (int(fields[11]) + int(fields[12])) / tick
    return out


def classify(path: Path) -> tuple[dict[str, collections.Counter[str]], dict[int, str]]:
    """Busy samples per thread kind ("loop", "writer", "other") and bucket; the kind of each thread id."""
    out: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    kinds: dict[int, str] = {}
    commit = f"engine.py:{source_line('conn.execute(' + chr(34) + 'COMMIT' + chr(34) + ')')})"
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        head = re.match(r"thread \((\d+)\): (.*)", frames[0])
        assert head is not None, frames[0]
        kind = {"MainThread": "loop", "papote-sqlite-writer": "writer"}.get(head.group(2), "other")
        kinds[int(head.group(1))] = kind
        if any(IDLE.search(f) for f in frames[-3:]):
            continue
        if kind == "loop":  # what runs above the loop: the frames below it are the same in every sample
            frames = frames[next((i for i, f in enumerate(frames) if f.startswith("Runner.run (")), 0) :]
        text = ";".join(frames[1:])
        if kind == "writer" and commit in text:
            text += ";@COMMIT"
        rules = MAIN_RULES if kind == "loop" else WRITER_RULES if kind == "writer" else []
        out[kind][next((name for name, pattern in rules if re.search(pattern, text)), "other")] += int(count)
    return out, kinds


def profile_rate(rate: int, keep: Path | None) -> dict[str, Any]:
    n = run.QUICK.conns_small if rate <= 1000 else run.FULL.conns_small
    seconds = SECONDS.get(rate, 10.0)
    folder = keep or Path(tempfile.mkdtemp())
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / f"papote-{rate}.txt"
    server = run.start_server("papote", run.agents_for(n))
    try:
        load = subprocess.Popen(
            ["taskset", "-c", run.LOADGEN_CORE, run.PYTHON, str(run.BENCH / "loadgen.py"), "--target", "papote",
             "--port", str(server.port), "--server-pid", str(server.pid), "--mode", "open", "--rate", str(rate),
             "--conversations", str(n), "--agents", str(run.agents_for(n)), "--warmup", str(WARMUP),
             "--duration", str(2 * seconds + 2), "--site-key", ",".join(server.site_keys),
             "--agent-email", ",".join(server.agent_emails), "--password", run.BENCH_PASSWORD,
             "--origin", run.BENCH_ORIGIN],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=run.ROOT,
        )  # fmt: skip
        assert load.stderr is not None
        for line in load.stderr:  # the load's recording window begins: sample inside it
            if "recording window begins" in line:
                break
        # First half of the window, unobserved: each thread's CPU. Second half: the samples.
        before = thread_cpu(server.pid)
        time.sleep(seconds)
        after = thread_cpu(server.pid)
        subprocess.run(
            ["taskset", "-c", run.LOADGEN_CORE, str(run.ROOT / ".venv/bin/py-spy"), "record", "-p", str(server.pid),
             "-d", str(int(seconds)), "-r", str(SAMPLES_PER_SEC.get(rate, 10)), "--native", "--threads",
             "-f", "raw", "-o", str(raw)],
            capture_output=True, check=True, timeout=seconds + 120,
        )  # fmt: skip
        stdout, stderr = load.communicate(timeout=seconds + 300)
        if load.returncode != 0 or not stdout.strip():
            raise RuntimeError(f"loadgen failed ({load.returncode}):\n{stderr[-3000:]}")
        result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    finally:
        server.stop()
    samples, kinds = classify(raw)
    spent: collections.Counter[str] = collections.Counter()
    for tid, secs in after.items():
        spent[kinds.get(tid, "other")] += secs - before.get(tid, 0.0)
    us = 1e6 / (result["delivered_per_sec"] * seconds)  # the rate the load achieved, over its whole window
    per_msg: dict[str, dict[str, float]] = {}
    for kind in ("loop", "writer"):
        total = sum(samples[kind].values())
        per_msg[kind] = {b: spent[kind] * us * c / total for b, c in samples[kind].items()} if total else {}
    cpu = {k: spent[k] * us for k in ("loop", "writer", "other")}
    return {"rate": rate, "result": result, "per_msg": per_msg, "cpu": cpu}


def table(profiles: list[dict[str, Any]]) -> str:
    rates = [p["rate"] for p in profiles]
    lines = ["| µs per delivered message | " + " | ".join(f"{r} msgs/s" for r in rates) + " |",
             "|---|" + "---|" * len(rates)]

    def row(label: str, cells: list[float], bold: bool = False) -> None:
        text = [f"**{c:.0f}**" if bold else f"{c:.0f}" for c in cells]
        lines.append(f"| {label} | " + " | ".join(text) + " |")

    for bucket in [b for b, _ in MAIN_RULES] + ["other"]:
        cells = [p["per_msg"]["loop"].get(bucket, 0.0) for p in profiles]
        if max(cells) >= 0.5:
            row(f"loop: {bucket}", cells)
    row("**event loop thread, CPU**", [p["cpu"]["loop"] for p in profiles], bold=True)
    for bucket in [b for b, _ in WRITER_RULES] + ["other"]:
        cells = [p["per_msg"]["writer"].get(bucket, 0.0) for p in profiles]
        if max(cells) >= 0.5:
            row(f"writer: {bucket}", cells)
    row("**SQLite writer thread, CPU**", [p["cpu"]["writer"] for p in profiles], bold=True)
    row("**other threads (readers, argon2, libuv), CPU**", [p["cpu"]["other"] for p in profiles], bold=True)
    row("**server CPU, all threads**", [sum(p["cpu"].values()) for p in profiles], bold=True)
    row("server CPU, the load's whole window", [p["result"]["server_cpu_us_per_msg"] for p in profiles])
    lines.append("| p50 / p99 latency, ms | " + " | ".join(
        f"{p['result']['latency']['p50_ms']:.2f} / {p['result']['latency']['p99_ms']:.2f}" for p in profiles) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rates", default="10,100,1000,5000")
    parser.add_argument("--keep", type=Path, default=None, help="directory for the raw py-spy stacks")
    args = parser.parse_args()
    profiles = []
    for rate in (int(r) for r in args.rates.split(",")):
        run.log(f"profiling at {rate} msgs/s")
        profiles.append(profile_rate(rate, args.keep))
        p = profiles[-1]
        run.log(f"  CPU µs/msg by thread: { {k: round(v) for k, v in p['cpu'].items()} }")
    print(table(profiles))


if __name__ == "__main__":
    main()
