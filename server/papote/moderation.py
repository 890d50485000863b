"""Moderation: blocking a visitor on a site, and the spam filter that holds suspect messages for review.

Every visitor message passes `screen` before it is stored (`Chat.submit` calls it, whatever the channel):

* a visitor blocked on the site gets `blocked`: the message is not stored and reaches nobody (the widget
  says so politely); their earlier conversations stay as they were, for the agents to read;
* otherwise the rules of moderation_rules.py judge it; a message they flag is stored aside
  (`held_messages`, outside the seq stream) and the sender gets `held`. An agent releases it (it is then
  appended like any send, under its original client_msg_id, so a release retried is stored once) or
  deletes it.

Blocks are read per site and cached for CACHE_TTL_SECS on each node; the node that changes one tells the
others at once (`CacheInvalidated("block", site)`), so the TTL is only the safety net.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from papote.authz import Action, Principal, authorize
from papote.conversations import CACHE_TTL_SECS, Chat
from papote.errors import Blocked, Held, NotFound
from papote.ids import new_id, now_ms
from papote.moderation_rules import RecentSends, judge
from papote.sites import settings_of
from papote.store import Site, Store
from papote.store.moderation import Block, HeldMessage, keep_for_release, take_for_release
from papote.store.outbox import Delivery
from papote.types import PrincipalKind

#: Held messages listed at once in the console: more than a team reviews in one sitting.
HELD_PAGE = 200


class Host(Protocol):
    store: Store
    chat: Chat

    async def site_by_id(self, site_id: str) -> Site | None: ...


class Moderation:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store
        self._blocked: dict[str, tuple[float, frozenset[str]]] = {}
        self._sites: dict[str, tuple[float, dict[str, Any]]] = {}
        self._recent = RecentSends()
        #: Set by the application to tell the other nodes a site's blocks changed.
        self.on_invalidate: Any = None

    # -- the filter, before a visitor's message is stored ------------------------------------------
    async def screen(self, principal: Principal, site_id: str, conversation_id: str | None, client_msg_id: str,
                     body: str, data: dict[str, Any] | None, jobs: list[Delivery], opens: str | None) -> None:
        if principal.id in await self._blocked_on(site_id):
            raise Blocked()
        settings = await self._settings(site_id)
        if not (settings["spam_words"] or settings["spam_max_links"] is not None or settings["spam_rate"] is not None):
            return  # the common case, a site with no rule on: nothing to count or scan
        recent = self._recent.count_and_add(principal.id, now_ms()) if settings["spam_rate"] is not None else 0
        verdict = judge(body, settings, recent)
        if not verdict.held:
            return
        # Held, it keeps what its release must store with it: its files' fetches, the conversation it opens.
        await self.store.hold_message(HeldMessage(
            new_id("h"), site_id, conversation_id, principal.id, principal.name, client_msg_id, body,
            keep_for_release(data, jobs, opens), list(verdict.reasons), now_ms()))
        raise Held()

    async def _settings(self, site_id: str) -> dict[str, Any]:
        """The site's settings, cached per site id (the node's cache of sites is keyed by public key)."""
        cached = self._sites.get(site_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        site = await self.host.site_by_id(site_id)
        if site is None:
            raise NotFound()
        settings = settings_of(site)
        self._sites[site_id] = (time.monotonic() + CACHE_TTL_SECS, settings)
        return settings

    async def _blocked_on(self, site_id: str) -> frozenset[str]:
        cached = self._blocked.get(site_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        ids = frozenset(b.visitor_id for b in await self.store.blocked_visitors(site_id))
        self._blocked[site_id] = (time.monotonic() + CACHE_TTL_SECS, ids)
        return ids

    def forget(self, site_id: str) -> None:
        """The site's blocks or settings changed (here or on another node)."""
        self._blocked.pop(site_id, None)
        self._sites.pop(site_id, None)

    def blocks_changed(self, site_id: str) -> None:
        """The site's blocks changed without this module (a merge moved one): every node reads them again."""
        self._changed(site_id)

    def _changed(self, site_id: str) -> None:
        self.forget(site_id)
        if self.on_invalidate is not None:
            self.on_invalidate("block", site_id)

    # -- blocks --------------------------------------------------------------------------------------
    async def block(self, actor: Principal, site: Site, visitor_id: str, reason: str) -> Block:
        authorize(actor, Action.HANDLE, site.id)
        visitor = await self.store.get_visitor(visitor_id)
        if visitor is None or visitor.site_id != site.id:
            raise NotFound("no such visitor")
        block = await self.store.block_visitor(Block(site.id, visitor_id, actor.id, reason, now_ms()))
        self._changed(site.id)
        return block

    async def unblock(self, actor: Principal, site: Site, visitor_id: str) -> bool:
        authorize(actor, Action.HANDLE, site.id)
        lifted = await self.store.unblock_visitor(site.id, visitor_id)
        self._changed(site.id)
        return lifted

    async def is_blocked(self, site_id: str, visitor_id: str) -> bool:
        return visitor_id in await self._blocked_on(site_id)

    # -- held messages -------------------------------------------------------------------------------
    async def held(self, site: Site) -> list[HeldMessage]:
        return await self.store.held_messages(site.id, HELD_PAGE)

    async def _held_of(self, site: Site, held_id: str) -> HeldMessage:
        held = await self.store.get_held(held_id)
        if held is None or held.site_id != site.id:
            raise NotFound("no such held message")
        return held

    async def release(self, site: Site, held_id: str) -> dict[str, Any]:
        """Deliver a held message as its visitor sent it: appended first, then forgotten (a crash in
        between leaves it held; releasing it again finds the first copy by its client_msg_id)."""
        held = await self._held_of(site, held_id)
        visitor = Principal(PrincipalKind.VISITOR, held.visitor_id, held.author_name, site_id=site.id)
        data, jobs, opens = take_for_release(held.data)
        data = dict(data) if data else None
        attachments = list(data.pop("attachments", []) or []) if data else []
        ack, _ = await self.host.chat.send(visitor, held.conversation_id, held.client_msg_id, held.body,
                                           data=data or None, attachments=attachments or None, screened=True,
                                           jobs=jobs or None, opens=opens)
        await self.store.delete_held(held.id)
        return {"conversation": ack["conversation"], "seq": ack["seq"]}

    async def delete(self, site: Site, held_id: str) -> None:
        held = await self._held_of(site, held_id)
        await self.store.delete_held(held.id)
