"""How often each message puts a server's threads to sleep, and what each thread spends on it.

bench/profile.py says where the CPU of a message goes by sampling stacks; this says how many times the
server's threads block and wake per message, which sampling cannot see, and which is what a virtual
machine charges most for (each wake-up of an idle vCPU is a trip to the hypervisor). For each target
and rate it starts the server as bench/run.py does (pinned to core 0, the load generator on core 1),
drives the open loop of rows 0 and 1, and reads from /proc, over a window in the middle of the load:
each thread's CPU time and its voluntary (it blocked: on a socket, a queue, the GIL, the disk) and
involuntary (another thread took the core) context switches, per message sent. For Papote it also
reads the store's commits per message from /healthz.

Threads are told apart by their roles, not their names (Python 3.11 does not name OS threads): the
event loop is the process's first thread; the SQLite writer is the other thread that used the most
CPU; the rest (the reader threads, the default executor, libuv's pool) are "others".

    .venv/bin/python bench/switches.py                          # baseline and papote, 10, 100, 1000 msgs/s
    .venv/bin/python bench/switches.py --rates 1000 --targets papote --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import run

#: Conversations driven, as in rows 0 and 1 (x2 connections).
CONVERSATIONS = 90
#: The load runs this long before the window opens (connections, logins, the first conversations).
SETTLE_SECS = 4.0
#: Window length per rate: at 10 msgs/s, /proc's 10 ms clock ticks need a few hundred messages to
#: give each message's CPU to ±50 µs.
SECONDS = {10: 30.0, 100: 15.0, 1000: 8.0}


def threads(pid: int) -> dict[int, tuple[float, int, int]]:
    """Per thread id: (CPU seconds, voluntary switches, involuntary switches)."""
    out: dict[int, tuple[float, int, int]] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
            status = (task / "status").read_text()
        except OSError:
            continue  # ended meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()
        switches = {k: int(v) for k, v in (line.split(":") for line in status.splitlines() if "ctxt_switches" in line)}
        out[int(task.name)] = (
            (int(fields[11]) + int(fields[12])) / tick,
            switches["voluntary_ctxt_switches"],
            switches["nonvoluntary_ctxt_switches"],
        )
    return out


def store_counts(port: int) -> dict[str, int]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as answer:
            return dict(json.load(answer).get("store", {}))
    except OSError:
        return {}


def measure(target: str, rate: int, seconds: float) -> dict[str, Any]:
    with run.running(target, run.agents_for(CONVERSATIONS)) as server:
        result: dict[str, Any] = {}

        def load() -> None:
            result["load"] = run.loadgen_once(
                server,
                mode="open",
                rate=rate,
                conversations=CONVERSATIONS,
                agents=run.agents_for(CONVERSATIONS),
                warmup=1,
                duration=SETTLE_SECS + seconds + 3,
            )

        driver = threading.Thread(target=load)
        driver.start()
        time.sleep(SETTLE_SECS)
        before, store0 = threads(server.pid), store_counts(server.port)
        time.sleep(seconds)
        after, store1 = threads(server.pid), store_counts(server.port)
        driver.join()
    messages = rate * seconds
    delta = {tid: tuple(a - b for a, b in zip(after[tid], before.get(tid, (0, 0, 0)), strict=True)) for tid in after}
    others = sorted((t for t in delta if t != server.pid), key=lambda t: delta[t][0], reverse=True)
    writes = target == "durable" or target.startswith("papote")  # the servers with a writer thread
    roles = {
        "loop": [server.pid],
        "writer": others[:1] if writes else [],
        "others": others[1:] if writes else others,
    }
    out: dict[str, Any] = {"target": target, "rate": rate}
    for role, tids in roles.items():
        cpu = sum(delta[t][0] for t in tids)
        out[role] = {
            "cpu_us": cpu / messages * 1e6,
            "voluntary": sum(delta[t][1] for t in tids) / messages,
            "involuntary": sum(delta[t][2] for t in tids) / messages,
        }
    out["cpu_us"] = sum(out[r]["cpu_us"] for r in roles)
    if store0 and store1:
        out["commits_per_msg"] = (store1["commits"] - store0["commits"]) / messages
        out["writes_per_msg"] = (store1["writes"] - store0["writes"]) / messages
    out["latency"] = result.get("load", {}).get("latency", {})
    return out


def row(m: dict[str, Any]) -> str:
    parts = [f"{m['target']:<9} {m['rate']:>5}/s  {m['cpu_us']:6.0f} µs/msg"]
    for role in ("loop", "writer", "others"):
        r = m[role]
        if r["cpu_us"] or r["voluntary"] or r["involuntary"]:
            parts.append(f"{role} {r['cpu_us']:.0f} µs, {r['voluntary']:.2f}+{r['involuntary']:.2f} switches")
    if "commits_per_msg" in m:
        parts.append(f"{m['commits_per_msg']:.2f} commits/msg, {m['writes_per_msg']:.2f} writes/msg")
    return "; ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", default="baseline,papote")
    parser.add_argument("--rates", default="10,100,1000")
    parser.add_argument("--seconds", type=float, default=0.0, help="window per rate (default: by rate)")
    parser.add_argument("--priority", action="store_true", help="as bench/run.py --priority (needs root)")
    args = parser.parse_args()
    if args.priority:
        run.PREFIX[:] = ["nice", "-n", run.PRIORITY_NICE]
    print("switches per message: voluntary+involuntary, summed over the role's threads", flush=True)
    for rate in (int(r) for r in args.rates.split(",")):
        for target in args.targets.split(","):
            print(row(measure(target, rate, args.seconds or SECONDS.get(rate, 10.0))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
