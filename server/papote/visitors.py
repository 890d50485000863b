"""Visitors: who is at the other end of a widget (and, later, of a channel address), and what they may say
about themselves. Every entry point — the visitor socket today, channel adapters and the bot later —
comes here rather than to the store, so the rules are the same wherever a person turns up.

Arriving (`arrive`), in this order:

* a single-use link code ("continue on another device") binds this client to the visitor who asked for
  it, with a token of its own (`redeem` does the same on a socket already open); a code that opens
  nothing is reported (`Arrival.link_refused`) and the client arrives as if it had none. Codes tried
  per client address are limited (`LINK_CODE_TRIES`);
* a token the server minted before finds its visitor;
* otherwise a new anonymous visitor is created with a fresh token — never the token the client offered,
  and at most `PAPOTE_RATE_NEW_VISITORS` of them per client address (one address minting visitors by
  the thousand is a script, not a shop's customers).

Identifying (`identify`) with the site's signed word (HMAC or JWT, see identity.py):

=====================================  =========================================================
this client is                          outcome
=====================================  =========================================================
anonymous, the user has no visitor      the anonymous visitor becomes the user (`promoted`)
anonymous, the user has one already     the anonymous history joins the user's (`merged`)
already verified as this user           nothing moves (`same`)
verified as **another** user            no merge: the client becomes the user's visitor, or a new
                                        one, and the previous person's token is revoked
                                        (`switched`; a shared browser must not hand one person's
                                        history to the next)
=====================================  =========================================================

Whatever the outcome the client gets a new token (a token seen before identification cannot ride on
the new identity: fixation). A verified visitor's name and email come from the site's signature: the
visitor cannot change them with `set` or `contact`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from limits import parse

from papote.errors import AuthError, Conflict, ErrorCode, NotFound, RateLimited
from papote.identity import (
    LINK_CODE_TTL_MS,
    VerifiedIdentity,
    mint_link_code,
    mint_visitor_token,
    verify_hash,
    verify_jwt,
)
from papote.ids import digest, now_ms
from papote.ratelimits import Budgets
from papote.sites import settings_of
from papote.store import Conversation, ConversationQuery, Site, Store, Visitor, VisitorChanges, VisitorEvent

#: How fresh `last_seen` is kept. A hello that changes nothing else (a socket back after a network blip,
#: a server restart) writes nothing if the visitor was seen this recently: a storm of such reconnects
#: would otherwise be a storm of commits. Agents read it as "seen N minutes ago".
LAST_SEEN_RESOLUTION_MS = 60_000
#: A visitor keeps at most this many custom attributes: agents read them at a glance, and each is stored
#: with the visitor row.
MAX_ATTRIBUTES = 100
#: The browser's User-Agent is shown to agents, not parsed here: capped.
MAX_USER_AGENT = 300
#: Link codes tried per client address (in a hello or typed into the widget), right or wrong. A code has
#: ~50 bits and lives ten minutes: at this pace guessing one is hopeless, while a family behind one
#: address moving a few chats between devices never meets the limit.
LINK_CODE_TRIES = "20/10minute"


class IdentifyOutcome(str, Enum):
    PROMOTED = "promoted"
    MERGED = "merged"
    SAME = "same"
    SWITCHED = "switched"


@dataclass(frozen=True, slots=True)
class Arrival:
    """Who a client is after `hello`, and the token it holds now (`minted`: hand it over)."""

    visitor: Visitor
    token: str
    minted: bool
    #: The hello carried a link code that opened nothing (wrong, used, expired: `not_found`) or came over
    #: the address's budget of tries (`rate_limited`); the client arrived as if it had none.
    link_refused: ErrorCode | None = None


@dataclass(frozen=True, slots=True)
class Proof:
    """What a client offers to be recognised as one of the site's users."""

    user_id: str
    hash: str | None = None
    jwt: str | None = None
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Identified:
    visitor: Visitor
    token: str
    outcome: IdentifyOutcome
    #: The visitor the client was before; after a merge it no longer exists.
    previous: Visitor


class Visitors:
    """The visitor rules, over the store. One per process, shared by every entry point."""

    def __init__(self, store: Store, budgets: Budgets, new_visitors_rate: str) -> None:
        self.store = store
        self._budgets = budgets
        self._new_visitors = parse(new_visitors_rate)
        self._link_tries = parse(LINK_CODE_TRIES)

    # -- arriving ------------------------------------------------------------------------------------
    async def arrive(self, site: Site, *, token: str | None, link_code: str | None,
                     address: str | None) -> Arrival:
        """The visitor a client is, from its link code or token, or a new anonymous one.

        Raises `RateLimited` when a new visitor is needed and `address` already made too many."""
        store = self.store
        refused: ErrorCode | None = None
        if link_code:
            try:
                return await self.redeem(site, link_code, address)
            except (NotFound, RateLimited) as exc:
                refused = exc.code
        if token:
            known = await store.get_visitor_by_token(site.id, digest(token))
            if known is not None:
                return Arrival(known, token, minted=False, link_refused=refused)
        # Unknown or absent token: a new anonymous visitor. A client-chosen token is never adopted.
        if address is not None and not self._budgets.hit(self._new_visitors, "new-visitor", address):
            raise RateLimited("too many new visitors from this address; try again later")
        fresh = mint_visitor_token()
        return Arrival(await store.create_visitor(site.id, digest(fresh)), fresh, minted=True,
                       link_refused=refused)

    async def redeem(self, site: Site, code: str, address: str | None) -> Arrival:
        """The visitor a link code was made for, with a new token of its own (the code is used up).

        Raises `NotFound` for a code that is wrong, used, expired or another site's (one answer for all),
        and `RateLimited` past `LINK_CODE_TRIES` from this address."""
        if address is not None and not self._budgets.hit(self._link_tries, "link-code", address):
            raise RateLimited("too many link codes tried from this address; try again later")
        visitor_id = await self.store.take_link_code(digest(code.strip().upper()), now_ms())
        linked = await self.store.get_visitor(visitor_id) if visitor_id else None
        if linked is None or linked.site_id != site.id:
            raise NotFound("this code is wrong or has expired; ask for a new one on the other device")
        fresh = mint_visitor_token()
        await self.store.add_visitor_token(linked.id, digest(fresh))
        return Arrival(linked, fresh, minted=True)

    async def seen(self, visitor: Visitor, *, page: dict[str, Any] | None, device: dict[str, Any] | None,
                   locale: str | None, user_agent: str) -> Visitor:
        """Record what a hello says about where the visitor is (page, device), and that they were here."""
        now = now_ms()
        changes = VisitorChanges(last_seen=now)
        touched = False
        if page and page != visitor.page:
            changes.page = page
            touched = True
        # The browser's own User-Agent (not a field the page can forge more than the header) lets agents
        # see browser and OS.
        merged_device = {**visitor.device, **(device or {}),
                         "locale": locale or visitor.device.get("locale"),
                         "ua": user_agent[:MAX_USER_AGENT]}
        if merged_device != visitor.device:
            changes.device = merged_device
            touched = True
        if touched or now - visitor.last_seen >= LAST_SEEN_RESOLUTION_MS:
            visitor = await self.store.update_visitor(visitor.id, changes)
        return visitor

    async def conversations(self, visitor: Visitor, limit: int) -> list[Conversation]:
        """The visitor's most recent conversations."""
        return await self.store.list_conversations(
            ConversationQuery(site_ids=[visitor.site_id], visitor_id=visitor.id, limit=limit))

    # -- identifying ---------------------------------------------------------------------------------
    async def identify(self, site: Site, current: Visitor, token: str | None, proof: Proof) -> Identified:
        """Apply the site's signed word about who `current` is (see the module's table).

        `token` is the one this client holds now: it is revoked and a new one returned. Raises
        `AuthError(identity_rejected)` when the proof does not verify; then nothing changes."""
        store = self.store
        identity = verify(site, proof)
        known = await store.get_visitor_by_user(site.id, identity.user_id)
        fresh = mint_visitor_token()
        token_stored = False
        if current.verified and current.user_id != identity.user_id:
            # Another person on this browser: nothing of the previous one goes with them.
            if known is not None:
                target = known
            else:
                target = await store.create_visitor(site.id, digest(fresh))
                token_stored = True
            outcome = IdentifyOutcome.SWITCHED
        elif known is not None and known.id != current.id:
            # The person already has a history: this browser's anonymous conversations join it.
            await store.merge_visitor(current.id, known.id)
            target, outcome = known, IdentifyOutcome.MERGED
        elif current.verified:
            target, outcome = current, IdentifyOutcome.SAME
        else:
            target, outcome = current, IdentifyOutcome.PROMOTED
        changes = VisitorChanges(user_id=identity.user_id, verified=True)
        name = identity.name or proof.name
        email = identity.email or proof.email
        if name:
            changes.name = name
        if email:
            changes.email = email
        target = await store.update_visitor(target.id, changes)
        if token is not None:
            await store.delete_visitor_token(digest(token))
        if not token_stored:
            await store.add_visitor_token(target.id, digest(fresh))
        return Identified(target, fresh, outcome, current)

    # -- what visitors say about themselves ----------------------------------------------------------
    async def set_details(self, visitor: Visitor, *, attributes: dict[str, Any] | None, name: str | None,
                          email: str | None) -> Visitor | None:
        """Custom attributes (nil removes one) and, for an unverified visitor, name and email. Returns
        the changed visitor, or None when nothing changed."""
        changes = VisitorChanges()
        if attributes is not None:
            merged = {**visitor.attributes, **attributes}
            if len(merged) > MAX_ATTRIBUTES:
                raise Conflict(f"a visitor has at most {MAX_ATTRIBUTES} custom attributes")
            changes.attributes = {k: v for k, v in merged.items() if v is not None}
        # A verified visitor's name and email are the site's word, not the page's.
        if name is not None and not visitor.verified:
            changes.name = name
        if email is not None and not visitor.verified:
            changes.email = email
        if changes == VisitorChanges():
            return None
        return await self.store.update_visitor(visitor.id, changes)

    async def visit_page(self, visitor: Visitor, page: dict[str, Any]) -> Visitor:
        return await self.store.update_visitor(visitor.id, VisitorChanges(page=page, last_seen=now_ms()))

    async def track(self, visitor: Visitor, name: str, data: dict[str, Any]) -> VisitorEvent:
        event = VisitorEvent(name, data, now_ms())
        await self.store.add_visitor_event(visitor.id, event)
        return event

    async def get(self, visitor_id: str) -> Visitor | None:
        return await self.store.get_visitor(visitor_id)

    async def events(self, visitor_id: str) -> list[VisitorEvent]:
        """The visitor's tracked events, most recent first."""
        return await self.store.visitor_events(visitor_id)

    async def refresh(self, visitor: Visitor) -> Visitor:
        return await self.store.get_visitor(visitor.id) or visitor

    async def rule_fired(self, site: Site, visitor: Visitor, rule_id: str) -> None:
        """The widget showed the site's proactive rule `rule_id` to the visitor: remembered for all their
        devices. `NotFound` for an id the site has no rule of (renamed meanwhile, or made up)."""
        if not any(rule["id"] == rule_id for rule in settings_of(site)["rules"]):
            raise NotFound("the site has no such proactive rule")
        await self.store.mark_rule_fired(visitor.id, rule_id, now_ms())

    async def fired_rules(self, visitor: Visitor) -> list[str]:
        """The proactive rules already shown to the visitor, on any device."""
        return await self.store.fired_rules(visitor.id)

    async def link_code(self, visitor: Visitor) -> tuple[str, int]:
        """A single-use code (and its expiry) that lets another device continue as this visitor."""
        code = mint_link_code()
        expires = now_ms() + LINK_CODE_TTL_MS
        await self.store.create_link_code(digest(code), visitor.id, expires)
        return code, expires


def verify(site: Site, proof: Proof) -> VerifiedIdentity:
    """The identity a proof establishes for `site`, or `AuthError(identity_rejected)`."""
    if proof.jwt:
        identity = verify_jwt(site.secrets, proof.jwt)
        if identity.user_id != proof.user_id:
            raise AuthError("identity rejected: the JWT is for another user", ErrorCode.IDENTITY_REJECTED)
        return identity
    if proof.hash:
        return verify_hash(site.secrets, proof.user_id, proof.hash)
    raise AuthError("identity rejected: send a hash or a jwt", ErrorCode.IDENTITY_REJECTED)
