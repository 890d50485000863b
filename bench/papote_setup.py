"""Prepare a Papote database for a benchmark: N sites, each with one agent who owns it.

One agent per site keeps the benchmark's traffic shaped like the baseline's: a conversation's
messages reach exactly one agent socket, and a conversation's state changes (created, assigned)
reach only its own site's agent instead of every agent on the server. It also shows the multi-site
deployment Papote is for. Creating them through the Python API, in one process, takes N times one
argon2 hash (~20 ms) instead of N CLI start-ups.

    python bench/papote_setup.py DATABASE COUNT PASSWORD ORIGIN   → JSON [{site_key, email}, ...]
"""

from __future__ import annotations

import asyncio
import json
import sys

from papote.app import Papote
from papote.config import Config
from papote.sites import normalise_origin, validate_settings


async def prepare(database: str, count: int, password: str, origin: str) -> list[dict[str, str]]:
    papote = Papote(Config(database=database))
    await papote.store.open()
    created = []
    try:
        for k in range(count):
            email = f"agent{k}@bench.papote"
            agent = await papote.accounts.create_agent(email, password, f"Agent {k}")
            site = await papote.store.create_site(f"Bench site {k}", [normalise_origin(origin)], validate_settings({}))
            await papote.store.set_membership(site.id, agent.id, "owner")
            created.append({"site_key": site.key, "email": email})
    finally:
        await papote.store.close()
    return created


def main(argv: list[str] | None = None) -> None:
    database, count, password, origin = (argv or sys.argv[1:])[:4]
    print(json.dumps(asyncio.run(prepare(database, int(count), password, origin))))


if __name__ == "__main__":
    main()
