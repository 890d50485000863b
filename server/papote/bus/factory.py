"""The bus a configuration names (`PAPOTE_BUS`): the only place that knows which classes exist, and
imports only the one asked for (and its client library)."""

from __future__ import annotations

from papote.bus import Bus


def bus_for(url: str, check_secs: float = 30.0, node: str | None = None) -> Bus:
    """The bus `PAPOTE_BUS` names: `local` (one process), `redis://…` or `nats://…` (several nodes)."""
    if url == "local":
        from papote.bus.local import LocalBus

        return LocalBus(node)
    if url.startswith(("redis://", "rediss://")):
        from papote.bus.redis import RedisBus

        return RedisBus(url, node, check_secs)
    if url.startswith(("nats://", "tls://")):
        from papote.bus.nats import NatsBus

        return NatsBus(url, node, check_secs)
    raise ValueError("PAPOTE_BUS must be local, redis://… or nats://…")
