"""The queue: who waits and who takes what. Routing assigns a site's waiting conversations to its online
agents (the pure choice is `routing.pick_agent`), and each visitor in line hears their place and wait."""

from __future__ import annotations

import asyncio

from papote.bus.topics import visitor_topic
from papote.conversations.base import ChatBase
from papote.events import QueueChanged
from papote.frames import agent_author
from papote.ids import now_ms
from papote.routing import Candidate, Told, pick_agent, smoothed_handling, wait_estimate
from papote.sites import answering, group_members, settings_of
from papote.store import Agent, Conversation
from papote.types import ConversationStatus, Frame

#: Recent closed conversations used for the wait estimate.
HANDLING_SAMPLE = 50

#: Assignments the store may refuse in one routing pass (another node took the conversation or the
#: agent's last slot) before this node leaves the rest of the line to the node that is winning.
ROUTE_REFUSALS = 8


class Queue(ChatBase):
    def _lock(self, site_id: str) -> asyncio.Lock:
        lock = self._route_locks.get(site_id)
        if lock is None:
            lock = self._route_locks[site_id] = asyncio.Lock()
        return lock

    async def route(
        self, site_id: str, returning_visitor: str | None = None, newcomer: Conversation | None = None,
        *, quiet: bool = False, last_agent: str | None = None,
    ) -> None:
        """Assign queued conversations of a site while agents have free slots; update the queue.

        `newcomer` is a conversation that just joined the line: when nobody could take anything, only
        its visitor needs a `queue` frame (the others' places did not move). `quiet`: when nothing was
        assigned, nobody's place moved either (the periodic sweep). `last_agent`: who had `newcomer`
        before it reopened (the reopen cleared its assignee): they get it back if they have a slot.

        The asyncio lock orders this node's routing of a site; across nodes, each assignment is one
        store transaction that takes the conversation only if still unassigned and the agent only
        below capacity (`Store.assign(within_capacity=…)`), so two nodes routing one site at once can
        neither assign a conversation twice nor fill an agent's slot twice. A refusal means another
        node moved first: the loads are read again and routing goes on."""
        site = await self.store.get_site(site_id)
        if site is None:
            return
        assigned: list[tuple[Conversation, Agent]] = []
        # Outside opening hours nobody is assigned (unless the site's agents pick up whenever online):
        # the widget says "away" then, and routing must not say otherwise a second later.
        if settings_of(site)["routing"] == "auto" and answering(settings_of(site)):
            async with self._lock(site_id):
                members = [a for a, _ in await self.store.list_agents(site_id) if not a.disabled]
                online = {a.id: a for a in members if a.id in self.presence.online([a.id])}
                if online:
                    loads = await self.store.agent_loads(list(online))
                    free = sum(max(0, self.presence.capacity_of(a.id, a.capacity) - loads[a.id])
                               for a in online.values())
                    # Only the head of the line can be served now: read no further than the free slots.
                    line = await self.store.queued(site_id, limit=free + 1) if free else []
                    # Conversations the bot handed to a group go to that group only (one read, and
                    # none for a site without groups).
                    teams = group_members(settings_of(site))
                    groups = await self.store.conversation_groups([c.id for c in line]) if teams and line else {}
                    at, refusals = 0, 0
                    while at < len(line):
                        conv = line[at]
                        candidates = [
                            Candidate(a.id, loads[a.id], self.presence.capacity_of(a.id, a.capacity),
                                      a.last_assigned_at)
                            for a in online.values()
                        ]
                        preferred = None
                        if newcomer is not None and conv.id == newcomer.id and last_agent is not None:
                            preferred = last_agent
                        elif returning_visitor is not None and conv.visitor_id == returning_visitor:
                            preferred = await self.store.last_agent_for_visitor(conv.visitor_id)
                        group = groups.get(conv.id)
                        allowed = teams.get(group) if group else None
                        chosen = pick_agent(candidates, preferred, allowed)
                        if chosen is None:
                            if allowed is not None:
                                at += 1  # its group is full: the next in line may still be served
                                continue
                            break
                        now = now_ms()
                        taken = await self.store.assign(
                            conv.id, chosen, now, only_if_unassigned=True,
                            within_capacity=self.presence.capacity_of(chosen, online[chosen].capacity))
                        if taken is None:
                            # Another node moved first: it took this conversation (or it closed), or
                            # it filled the agent's last slot. Read again and go on, first in line first.
                            refusals += 1
                            if refusals > ROUTE_REFUSALS:
                                break  # another node is routing this site right now: it carries on
                            loads = await self.store.agent_loads(list(online))
                            current = await self.store.get_conversation(conv.id)
                            if current is None or current.status != ConversationStatus.OPEN or current.assignee_id:
                                at += 1
                            continue
                        at += 1
                        agent = online[chosen]
                        agent.last_assigned_at = now
                        self._agents.pop(chosen, None)
                        loads[chosen] += 1
                        assigned.append((taken, agent))
            for conv, agent in assigned:
                await self.event(conv, "assigned", None, {"agent": agent_author(agent)})
                await self.publish_conversation(conv)
                await self.load_changed(agent.id)
        if quiet and not assigned:
            return
        if newcomer is not None and not assigned:
            place = (await self.queue_positions([newcomer])).get(newcomer.id)
            if place is not None:
                self.bus.publish(visitor_topic(newcomer.visitor_id),
                                 QueueChanged(newcomer.id, place["position"], place["wait_secs"]))
            return
        await self.publish_queue(site_id)

    async def _estimator(self, site_id: str, members: list[Agent]) -> tuple[int, float | None]:
        """(slots, smoothed handling seconds) for a site's wait estimates: the slots are the online
        agents' capacities summed; none while the site is not answering (outside opening hours,
        nobody will be assigned: no estimate rather than a wrong one)."""
        site = await self.store.get_site(site_id)
        if site is None or not answering(settings_of(site)):
            return 0, None
        online = self.presence.online([a.id for a in members if not a.disabled])
        slots = sum(self.presence.capacity_of(a.id, a.capacity) for a in members if a.id in online)
        return slots, smoothed_handling(await self.store.handling_times(site_id, HANDLING_SAMPLE))

    def _tell(self, conv: Conversation, position: int, slots: int, handling: float | None) -> Frame:
        """A waiting visitor's {position, wait_secs}, remembered so that moving up the line never
        raises their estimate (`routing.wait_estimate`)."""
        told = self._told.setdefault(conv.site_id, {})
        wait = wait_estimate(position, slots, handling, told.get(conv.id))
        told[conv.id] = Told(position, wait)
        return {"position": position, "wait_secs": wait}

    async def site_queue(self, site_id: str) -> list[tuple[Conversation, Frame]]:
        """The site's waiting conversations, first come first, each with {position, wait_secs}."""
        queued = await self.store.queued(site_id)
        if not queued:
            self._told.pop(site_id, None)
            return []
        slots, handling = await self._estimator(site_id, [a for a, _ in await self.store.list_agents(site_id)])
        # Who left the line is forgotten: what is remembered is bounded by the line's length.
        waiting = {c.id for c in queued}
        told = self._told.get(site_id, {})
        for cid in [c for c in told if c not in waiting]:
            del told[cid]
        return [(conv, self._tell(conv, n, slots, handling)) for n, conv in enumerate(queued, start=1)]

    async def publish_queue(self, site_id: str) -> None:
        for conv, place in await self.site_queue(site_id):
            self.bus.publish(visitor_topic(conv.visitor_id),
                             QueueChanged(conv.id, place["position"], place["wait_secs"]))

    async def queue_positions(self, convs: list[Conversation]) -> dict[str, Frame]:
        """{conversation id: {position, wait_secs}} for those of `convs` that wait in their site's queue
        (a count per conversation: a reconnecting crowd does not each read the whole line)."""
        places = await self.store.queue_places(convs)
        out: dict[str, Frame] = {}
        if not places:
            return out
        estimates: dict[str, tuple[int, float | None]] = {}
        teams = await self.store.site_members(list({c.site_id for c in convs if c.id in places}))
        for conv in convs:
            place = places.get(conv.id)
            if place is None:
                continue
            if conv.site_id not in estimates:
                estimates[conv.site_id] = await self._estimator(conv.site_id, [a for a, _ in teams[conv.site_id]])
            slots, handling = estimates[conv.site_id]
            out[conv.id] = self._tell(conv, place, slots, handling)
        return out
