"""What the nodes of one deployment share besides the store: presence, cache invalidation, the leader.

Every node follows the `cluster` topic (no connection does):

* `NodePresence` snapshots (presence.py): each node sends its own every `HEARTBEAT_SECS` and at once
  when one of its agents changes; a node that starts asks for everybody's. Snapshots expire, so a
  killed node's agents go offline everywhere; the node with the smallest id among those alive tells
  the agents' sites (one `presence` frame each, not one per node).
* `CacheInvalidated`: a node that changed a site (origins, settings, secrets), an agent or merged a
  visitor tells the others, which drop their copy at once; every cached copy also expires after
  `CACHE_TTL_SECS` in case the broker lost the message (node.py).
* Periodic jobs run on one node at a time: the `Store.singleton` leader lock (a transaction-level
  advisory lock on PostgreSQL). This module's job is the routing sweep: a conversation that joined the line
  on one node while an agent connected to another, before their snapshots crossed, would otherwise
  wait for the next event on that site. node.py runs two more under the same lock: the sweep of
  attachments never sent, and the sites' retention (privacy.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, Protocol

from papote.bus import BusEvent
from papote.bus.topics import CLUSTER, public_topic
from papote.events import AvailabilityChanged, CacheInvalidated, NodePresence
from papote.presence import HEARTBEAT_SECS
from papote.sites import answering, settings_of

if TYPE_CHECKING:
    from papote.bus import Bus
    from papote.conversations import Chat
    from papote.presence import Presence
    from papote.store import Agent, Site, Store

log = logging.getLogger("papote.cluster")

#: The loop's tick: how late a silent node's agents may be noticed beyond their snapshot's lifetime.
TICK_SECS = 1.0
#: How long a starting node waits for the cluster topic to be live before asking for snapshots.
ASK_WAIT_SECS = 5.0
#: The routing sweep's period. Every node wakes at the same wall-clock slots and one takes the lock.
SWEEP_SECS = 5.0
#: The leader keeps its lock until this long after the slot began, so that a node that wakes late —
#: its clock a little behind (NTP keeps nodes within milliseconds), its event loop busy for a moment —
#: finds it taken rather than free again. Measured from the slot, not from the end of the sweep: what
#: matters is how late the last node may wake. It ties up one pool connection 40 % of the time.
LEADER_HOLD_SECS = 2.0


class Node(Protocol):
    """What the cluster needs of its node (node.py's `Papote`, which holds the cluster)."""

    bus: Bus
    presence: Presence
    store: Store
    chat: Chat

    def forget(self, kind: str, record_id: str) -> None: ...

    async def announce_presence(self, agent_id: str) -> None: ...


class Cluster:
    def __init__(self, papote: Node) -> None:
        self.papote = papote
        self.presence = papote.presence
        self._task: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._publish_soon = False
        self._last_sent = 0.0
        self.sweeps = 0
        #: Per site, whether it was answering at the last sweep (opening hours): a change is announced.
        self._answering: dict[str, bool] = {}
        self.snapshots_heard = 0
        self.invalidations_heard = 0

    async def start(self) -> None:
        """Follow the cluster topic; never waits for the broker (a node starts with the broker down,
        and hears the others once it is back)."""
        self.presence.on_local_change = self._local_change
        live = self.papote.bus.subscribe(CLUSTER, self._heard)
        self._task = asyncio.create_task(self._run(live), name="papote-cluster")
        self._sweeper = asyncio.create_task(self._sweep_every_slot(), name="papote-route-sweep")

    async def stop(self) -> None:
        self.presence.on_local_change = None
        for task in (self._task, self._sweeper):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        # A graceful stop: the others need not wait for the snapshot to expire.
        self.presence.sockets.clear()
        self._send()
        self.papote.bus.unsubscribe(CLUSTER, self._heard)

    # -- telling ---------------------------------------------------------------------------------------
    def invalidate(self, kind: str, record_id: str) -> None:
        self.papote.bus.publish(CLUSTER, CacheInvalidated(kind, record_id))

    def _local_change(self) -> None:
        # Coalesce a burst (a crowd of agents reconnecting) into one snapshot per loop turn.
        if not self._publish_soon:
            self._publish_soon = True
            asyncio.get_running_loop().call_soon(self._send)

    def _send(self, ask: bool = False) -> None:
        self._publish_soon = False
        self._last_sent = time.monotonic()
        self.papote.bus.publish(CLUSTER, self.presence.snapshot(ask))

    # -- hearing ---------------------------------------------------------------------------------------
    def _heard(self, topic: str, bus_event: BusEvent) -> None:
        event = bus_event.event
        if isinstance(event, NodePresence):
            if event.node == self.presence.node:
                return
            self.snapshots_heard += 1
            self.presence.heard(event)
            if event.ask:
                self._local_change()
        elif isinstance(event, CacheInvalidated):
            self.invalidations_heard += 1
            self.papote.forget(event.kind, event.id)

    # -- the loop --------------------------------------------------------------------------------------
    async def _run(self, live: Awaitable[None]) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(_wait(live)), ASK_WAIT_SECS)
        self._send(ask=True)  # dropped if the broker is still down: the others' heartbeats will come
        while True:
            await asyncio.sleep(TICK_SECS)
            try:
                if time.monotonic() - self._last_sent >= HEARTBEAT_SECS:
                    self._send()
                gone = self.presence.expire()
                if gone and self.presence.nodes()[0] == self.presence.node:
                    for agent_id in sorted(gone):
                        await self.papote.announce_presence(agent_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("cluster tick failed")

    async def _sweep_every_slot(self) -> None:
        """Wake at each slot of the wall clock (not at the next tick: nodes ticking a second apart
        would each find the lock free in turn) and sweep if this node takes the lock."""
        while True:
            slot = _next_slot(time.time())
            await asyncio.sleep(max(0.0, slot - time.time()))
            try:
                await self._sweep(slot)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("routing sweep failed")

    async def _sweep(self, slot: float) -> None:
        async with self.papote.store.singleton("papote.route-sweep") as leader:
            if not leader:
                return
            self.sweeps += 1
            listed = await self.papote.store.list_sites()
            sites = [s.id for s in listed]
            teams = await self.papote.store.site_members(sites)
            self._announce_opening(listed, teams)
            for site_id, members in teams.items():
                if self.presence.online(a.id for a, _ in members if not a.disabled):
                    await self.papote.chat.route(site_id, quiet=True)
            await asyncio.sleep(max(0.0, slot + LEADER_HOLD_SECS - time.time()))

    def _announce_opening(self, sites: list[Site], teams: dict[str, list[tuple[Agent, Any]]]) -> None:
        """A site that opened or closed since the last sweep tells its widgets (`availability`), so
        the widget turns from "away" to "online" when routing starts assigning, not at the next reload."""
        for site in sites:
            now_open = answering(settings_of(site))
            if self._answering.get(site.id, now_open) != now_open:
                online = len(self.presence.online(a.id for a, _ in teams.get(site.id, []) if not a.disabled))
                self.papote.bus.publish(public_topic(site.id), AvailabilityChanged(site.id, online, now_open))
            self._answering[site.id] = now_open

    def stats(self) -> dict[str, Any]:
        return {"nodes": len(self.presence.nodes()), "snapshots_heard": self.snapshots_heard,
                "invalidations_heard": self.invalidations_heard, "sweeps": self.sweeps}


async def _wait(live: Awaitable[None]) -> None:
    await live


def _next_slot(now: float) -> float:
    return (now // SWEEP_SECS + 1) * SWEEP_SECS
