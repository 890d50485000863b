"""Outgoing webhooks, the service: a site's endpoints, turning the seq stream into deliveries, sending.

Three steps, each durable before the next:

1. *Deriving.* A message committed on this node is seen by the bus observer (after COMMIT) and its
   conversation derived at once; every `webhook_check_secs` each node also scans for conversations
   whose last seq is past their webhook cursor — the ones a crash or another node left behind.
   Deriving reads the messages past the cursor, makes one delivery per (event, endpoint that wants
   it) (events.py), and moves the cursor and inserts the deliveries in one transaction. So an event
   committed is an event delivered, whatever dies when.
2. *Sending.* The outbox worker (channels/outbox.py, `ordered`) claims the first unfinished delivery of
   each (endpoint, conversation) and POSTs it, signed with the endpoint's live secrets (signing.py).
   A 2xx is success; anything else, a timeout or a refused connection is retried with backoff until
   `webhook_attempts`, and only then does the next event of that conversation go.
3. *Logging.* Every attempt is recorded (status code, latency, error): the console's delivery log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Protocol

import httpx

from papote.channels.outbox import DeliveryError, Outbox
from papote.channels.webhooks import events as webhook_events
from papote.channels.webhooks import signing
from papote.channels.webhooks.targets import check_target
from papote.config import Config
from papote.errors import Conflict, ErrorCode, NotFound, PapoteError
from papote.events import Event, MessageAppended
from papote.ids import new_id, now_ms
from papote.store import Site, Store
from papote.store.outbox import MEDIA_FETCH, Delivery, DeliveryStatus
from papote.store.rules import files_to_come
from papote.store.webhooks import WebhookAttempt, WebhookEndpoint, WebhookLogEntry

log = logging.getLogger("papote.webhooks")


class Host(Protocol):
    """What the service needs of its node (papote.node.Papote)."""

    store: Store
    config: Config

    async def site_by_id(self, site_id: str) -> Site | None: ...


CHANNEL = webhook_events.CHANNEL
#: A site has at most this many endpoints: each event is one request per endpoint.
MAX_ENDPOINTS = 20
#: After a rotation the previous secret signs too for this long: a day to deploy the new one.
ROTATION_OVERLAP_MS = 86_400_000
#: Conversations updated within this window are scanned for events not yet queued: a node down for
#: less than this catches up on its return.
SCAN_WINDOW_MS = 3 * 86_400_000
#: Conversations per scan round, and messages read per derivation step.
SCAN_BATCH = 200
DERIVE_BATCH = 200
#: A site's endpoints are read again after this long when no change was made on this node (another
#: node's change is seen within it; the scan catches any event queued late meanwhile).
ENDPOINTS_TTL_SECS = 5.0
#: Conversations whose site this node remembers (~100 bytes each): past it the memory starts afresh.
SITE_CACHE = 100_000
#: A receiver's answer body is not read beyond this many bytes (only its status matters; the log keeps
#: this much of a refusal's body).
ERROR_SNIPPET = 200


class Webhooks:
    """One per node."""

    def __init__(self, papote: Host) -> None:
        self.papote = papote
        self.store = papote.store
        self.config = config = papote.config
        self.outbox = Outbox(
            self.store, CHANNEL, self._send, lease_ms=2 * config.webhook_timeout_secs * 1000,
            every_secs=config.webhook_check_secs, ordered=True, first_retry_ms=config.webhook_retry_ms,
            max_retry_ms=config.webhook_retry_max_ms, max_attempts=config.webhook_attempts,
        )
        self._http: httpx.AsyncClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        #: Conversations with a message committed on this node, to derive now.
        self._due: set[str] = set()
        self._wake = asyncio.Event()
        self._deriving: set[str] = set()
        #: Endpoints by site (monotonic expiry, list), and the conversation → site cache.
        self._endpoints: tuple[float, dict[str, list[WebhookEndpoint]]] = (0.0, {})
        self._site_of: dict[str, str] = {}

    # -- lifecycle -----------------------------------------------------------------------------------
    async def start(self) -> None:
        self._http = httpx.AsyncClient(follow_redirects=False, timeout=self.config.webhook_timeout_secs,
                                       headers={"user-agent": "Papote-Webhooks"})
        self._tasks = [asyncio.create_task(self._derive_loop(), name="papote-webhook-derive"),
                       asyncio.create_task(self.outbox.run(), name="papote-webhook-outbox")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            await self._http.aclose()

    def observe(self, topic: str, event: Event) -> None:
        """The bus observer: a message committed on this node makes its conversation due."""
        if isinstance(event, MessageAppended):
            self.wake(event.conversation_id)

    def wake(self, conversation_id: str) -> None:
        """Derive this conversation soon: a message was committed, or a customer's file settled."""
        expires, by_site = self._endpoints
        if not by_site and expires > time.monotonic():
            # No site has an endpoint (as read within ENDPOINTS_TTL_SECS): nothing to wake for. One
            # added on another node meanwhile loses nothing: the scan derives from the cursor.
            return
        self._due.add(conversation_id)
        self._wake.set()

    # -- endpoints -----------------------------------------------------------------------------------
    async def _all_endpoints(self) -> dict[str, list[WebhookEndpoint]]:
        expires, by_site = self._endpoints
        if expires > time.monotonic():
            return by_site
        by_site = {}
        for endpoint in await self.store.webhook_endpoints():
            by_site.setdefault(endpoint.site_id, []).append(endpoint)
        self._endpoints = (time.monotonic() + ENDPOINTS_TTL_SECS, by_site)
        return by_site

    def _changed(self) -> None:
        self._endpoints = (0.0, {})

    async def endpoints(self, site: Site) -> list[WebhookEndpoint]:
        return await self.store.webhook_endpoints(site.id)

    async def endpoint(self, site: Site, endpoint_id: str) -> WebhookEndpoint:
        found = await self.store.webhook_endpoint(endpoint_id)
        if found is None or found.site_id != site.id:
            raise NotFound("no such webhook endpoint")
        return found

    async def create(self, site: Site, url: str, events: list[str], description: str) -> WebhookEndpoint:
        if len(await self.store.webhook_endpoints(site.id)) >= MAX_ENDPOINTS:
            raise Conflict(f"a site has at most {MAX_ENDPOINTS} webhook endpoints")
        await check_target(url, allow_private=self.config.webhook_allow_private)
        endpoint = WebhookEndpoint(new_id("we"), site.id, url, _event_list(events), signing.new_secret(),
                                   description, created_at=now_ms())
        await self.store.insert_webhook_endpoint(endpoint)
        self._changed()
        return endpoint

    async def update(self, site: Site, endpoint_id: str, *, url: str | None, events: list[str] | None,
                     description: str | None) -> WebhookEndpoint:
        endpoint = await self.endpoint(site, endpoint_id)
        if url is not None:
            await check_target(url, allow_private=self.config.webhook_allow_private)
            endpoint.url = url
        if events is not None:
            endpoint.events = _event_list(events)
        if description is not None:
            endpoint.description = description
        await self.store.update_webhook_endpoint(endpoint)
        self._changed()
        return endpoint

    async def delete(self, site: Site, endpoint_id: str) -> None:
        if not await self.store.delete_webhook_endpoint(site.id, endpoint_id):
            raise NotFound("no such webhook endpoint")
        self._changed()

    async def rotate(self, site: Site, endpoint_id: str) -> WebhookEndpoint:
        """A new secret; the one it replaces keeps signing (a second signature) for ROTATION_OVERLAP_MS."""
        endpoint = await self.endpoint(site, endpoint_id)
        endpoint.previous_secret, endpoint.secret = endpoint.secret, signing.new_secret()
        endpoint.previous_until = now_ms() + ROTATION_OVERLAP_MS
        await self.store.update_webhook_endpoint(endpoint)
        self._changed()
        return endpoint

    async def log(self, site: Site, endpoint_id: str, limit: int, before: int | None) -> list[WebhookLogEntry]:
        await self.endpoint(site, endpoint_id)
        return await self.store.webhook_log(endpoint_id, limit, before)

    async def resend(self, site: Site, endpoint_id: str, delivery_id: str) -> Delivery:
        """Queue a delivery of the log again: the same body under the same `webhook-id`, in its place in
        its conversation's order."""
        await self.endpoint(site, endpoint_id)
        original = await self.store.get_delivery(delivery_id)
        if original is None or original.channel != CHANNEL or original.target != endpoint_id:
            raise NotFound("no such delivery")
        if original.status in (DeliveryStatus.QUEUED, DeliveryStatus.SENDING):
            raise Conflict("this delivery is still being tried")
        now = now_ms()
        copy = Delivery(new_id("d"), original.site_id, original.conversation_id, original.visitor_id, CHANNEL,
                        original.kind, endpoint_id, original.payload, next_attempt_at=now, created_at=now,
                        position=original.position)
        await self.store.queue_delivery(copy)
        self.outbox.poke()
        return copy

    # -- deriving ------------------------------------------------------------------------------------
    async def _derive_loop(self) -> None:
        next_scan = 0.0
        while True:
            try:
                due, self._due = self._due, set()
                for cid in due:
                    await self.derive(cid)
                if time.monotonic() >= next_scan:
                    # Every node scans, without the leader lock: the cursor's compare-and-set already
                    # makes two derivations of one conversation harmless, and the lock would hold one of
                    # the pool's connections for the whole scan, while the scan needs others (with the
                    # other periodic jobs' locks, a small pool would be all held, and wait forever).
                    next_scan = time.monotonic() + self.config.webhook_check_secs
                    await self.scan_once(now_ms())
            except Exception:  # the next round tries again: the cursor lives in the store
                log.warning("webhook derivation failed", exc_info=True)
            if not self._due:
                try:
                    await asyncio.wait_for(self._wake.wait(), self.config.webhook_check_secs)
                except TimeoutError:
                    pass
            self._wake.clear()

    async def scan_once(self, now: int) -> int:
        """Derive every conversation of a site with endpoints that is past its cursor; returns how many."""
        site_ids = list(await self._all_endpoints())
        since, done = now - SCAN_WINDOW_MS, 0
        while site_ids:
            batch = await self.store.webhook_candidates(site_ids, since, SCAN_BATCH)
            for candidate in batch:
                await self.derive(candidate.conversation_id)
                done += 1
            if len(batch) < SCAN_BATCH or batch[-1].updated_at <= since:
                break
            since = batch[-1].updated_at
        return done

    async def derive(self, cid: str) -> int:
        """Queue the deliveries of every message of `cid` past its cursor; returns how many were queued."""
        if cid in self._deriving:
            self._due.add(cid)  # being derived: look again after, for what committed meanwhile
            return 0
        site_id = self._site_of.get(cid)
        if site_id is None:
            conv = await self.store.get_conversation(cid)
            if conv is None:
                return 0
            if len(self._site_of) >= SITE_CACHE:
                self._site_of.clear()
            site_id = self._site_of[cid] = conv.site_id
        if site_id not in await self._all_endpoints():
            return 0  # no endpoint: nothing to derive, and no cursor to keep
        self._deriving.add(cid)
        try:
            return await self._derive(cid)
        finally:
            self._deriving.discard(cid)

    async def _derive(self, cid: str) -> int:
        queued = 0
        while True:
            conv = await self.store.get_conversation(cid)
            cursor = await self.store.webhook_cursor(cid)
            if conv is None or conv.last_seq <= cursor:
                break
            endpoints = (await self._all_endpoints()).get(conv.site_id, [])
            site = await self.papote.site_by_id(conv.site_id)
            messages = await self.store.messages_after(cid, cursor, DERIVE_BATCH, include_notes=True)
            # A customer's message whose files are still being fetched waits for them (kept, or given up
            # with a note), so that its `message.created` carries them; the events after it wait too, as
            # they keep the conversation's order. The fetch's outcome wakes this (`wake`); the scan too.
            # Only a message without all the files it names may have a fetch in flight: the store is
            # asked only then.
            if any(files_to_come(m) for m in messages):
                waiting = await self.store.first_unsettled_seq(cid, MEDIA_FETCH)
                if waiting is not None:
                    messages = [m for m in messages if m.seq < waiting]
            if site is None or not messages:
                break
            deliveries = webhook_events.deliveries_for(messages, endpoints, site_key=site.key,
                                                       visitor_id=conv.visitor_id, now=now_ms())
            if not await self.store.advance_webhook_cursor(cid, cursor, messages[-1].seq, deliveries):
                continue  # another node or task moved it first: read again from where it is
            queued += len(deliveries)
        if queued:
            self.outbox.poke()
        return queued

    # -- sending -------------------------------------------------------------------------------------
    async def _send(self, delivery: Delivery) -> None:
        endpoint = await self.store.webhook_endpoint(delivery.target)
        if endpoint is None:
            raise DeliveryError("the endpoint was removed", permanent=True)
        body = str(delivery.payload["body"]).encode()
        started, clock = now_ms(), time.monotonic()
        status: int | None = None
        error = ""
        try:
            await check_target(endpoint.url, allow_private=self.config.webhook_allow_private)
            assert self._http is not None
            headers = signing.headers(endpoint.signing_secrets(started), str(delivery.payload["webhook_id"]),
                                      started // 1000, body)
            # Streamed: a receiver's answer is read no further than the log's snippet, whatever it sends.
            async with self._http.stream("POST", endpoint.url, content=body, headers=headers) as response:
                status = response.status_code
                if not 200 <= status < 300:
                    snippet = b""
                    async for chunk in response.aiter_bytes():
                        snippet += chunk
                        if len(snippet) >= ERROR_SNIPPET:
                            break
                    text = snippet[:ERROR_SNIPPET].decode(errors="replace")
                    error = f"HTTP {status}: {text}".strip().rstrip(":")
        except PapoteError as exc:
            error = exc.message
        except httpx.TimeoutException:
            error = f"no answer within {self.config.webhook_timeout_secs} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:ERROR_SNIPPET]
        latency = int((time.monotonic() - clock) * 1000)
        await self.store.record_webhook_attempt(WebhookAttempt(delivery.id, delivery.attempts, started, status,
                                                               latency, error))
        if error:
            raise DeliveryError(error)


def _event_list(events: list[str]) -> list[str]:
    unknown = [e for e in events if e not in webhook_events.EVENT_TYPES]
    if unknown or not events:
        raise PapoteError(f"'events' must name at least one of {', '.join(webhook_events.EVENT_TYPES)}",
                          ErrorCode.BAD_FIELD)
    return [e for e in webhook_events.EVENT_TYPES if e in events]


def endpoint_json(endpoint: WebhookEndpoint, *, secret: bool = False) -> dict[str, Any]:
    """An endpoint as the API shows it: its secret only when just made (created or rotated)."""
    out: dict[str, Any] = {"id": endpoint.id, "url": endpoint.url, "events": endpoint.events,
                           "description": endpoint.description, "created_at": endpoint.created_at,
                           "rotating_until": endpoint.previous_until if endpoint.previous_until > now_ms() else None}
    if secret:
        out["secret"] = endpoint.secret
    return out


def log_json(entry: WebhookLogEntry) -> dict[str, Any]:
    d = entry.delivery
    return {"id": d.id, "webhook_id": d.payload.get("webhook_id"), "type": d.kind, "conversation": d.conversation_id,
            "status": str(d.status), "body": d.payload.get("body"), "attempts": [
                {"attempt": a.attempt, "at": a.at, "status_code": a.status_code, "latency_ms": a.latency_ms,
                 "error": a.error} for a in entry.attempts],
            "error": d.error, "created_at": d.created_at, "sent_at": d.sent_at, "next_attempt_at":
                d.next_attempt_at if d.status is DeliveryStatus.QUEUED else None}
