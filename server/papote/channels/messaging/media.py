"""Customers' files on messaging channels: fetched from the provider after the webhook is answered.

    webhook ──► message + one fetch job per file, one transaction (the append) ──► 2xx
    media worker (the outbox's leases and backoff) ──► adapter.fetch ──► sniff, site limits, images
    cleaned ──► storage.put ──► store.attach_to_message ──► AttachmentsAdded on the bus ──► agents

A provider must hear 2xx quickly (Meta retries a slow webhook, Twilio gives up after 15 s), and a file
may take longer than that to download, so the webhook stores the message and a *fetch job* — a row of
the outbox (`deliveries`, channel `media`) — in the append's own transaction, and answers. A re-delivery
of the webhook finds the message already stored and queues nothing: one job per file, ever.

The worker claims jobs like any delivery (channels/outbox.py): a 5xx, a 429, a timeout is retried with
backoff; a crash mid-fetch leaves the job to a later claim once its lease runs out. The attachment's id
is minted when the job is queued, and `attach_to_message` inserts it only once: a job run twice (the
node died after attaching, before recording so) attaches nothing the second time.

What is kept is what a visitor's upload would be (papote/attachments/): the bytes decide the type, the
site's `attachments_types` and `attachments_max_mb` decide what is accepted, images are re-encoded
without their metadata. A file refused for good — over the size, a type the site does not take, a
provider that no longer has it after every retry — becomes a private note on the conversation saying
which message's file and why; never a crash, never a retry that cannot help.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

import httpx

from papote.attachments import AttachmentStorage, clean_name, images, limits_of, sniff
from papote.bus import Bus
from papote.bus.topics import conv_topic
from papote.channels.messaging.base import Adapter, FileRefused, Inbound, Media
from papote.channels.outbox import DeliveryError, Outbox
from papote.channels.webhooks.targets import check_target
from papote.errors import ErrorCode, PapoteError
from papote.events import AttachmentsAdded, MessageAppended
from papote.ids import new_id, now_ms
from papote.store import Attachment, NewMessage, Store
from papote.store.channels import ChannelAccount
from papote.store.outbox import MEDIA_FETCH, Delivery
from papote.store.rules import attachment_ids, attachment_view
from papote.types import AuthorKind, MessageKind

log = logging.getLogger("papote.messaging.media")

#: The outbox channel of fetch jobs (the delivery's `kind` is the provider, `target` the customer).
CHANNEL = MEDIA_FETCH
#: A provider's file store answers fast or is briefly down: 2 s, then 4, 8… like the replies.
FIRST_RETRY_MS = 2_000
#: A fetch is leased this long at least: the provider's timeout bounds each read, not a whole download,
#: and a 25 MB file over a slow link takes minutes (a lease run out means a second download, not harm).
MIN_LEASE_MS = 600_000
#: Images re-encoded at once by this worker (each takes a core for up to a second).
ENCODERS = 1
#: What each kind of provider file is called in the note when it cannot be kept.
KIND_WORDS = {"image": "image", "sticker": "sticker", "video": "video", "audio": "audio recording",
              "voice": "voice message", "document": "document", "animation": "animation"}


class Host(Protocol):
    store: Store
    bus: Bus


def jobs_for(account: ChannelAccount, visitor_id: str, inbound: Inbound) -> list[Delivery]:
    """The fetch jobs a customer's message is stored with, one per file (written by its append)."""
    now = now_ms()
    return [Delivery(new_id("d"), account.site_id, None, visitor_id, CHANNEL, account.kind, inbound.address,
                     {"ref": m.ref, "kind": m.kind, "name": m.name, "content_type": m.content_type,
                      "attachment_id": new_id("at"), "index": i},
                     next_attempt_at=now, created_at=now, account_id=account.id)
            for i, m in enumerate(inbound.media)]


class MediaFetcher:
    """The worker of fetch jobs on this node (one for every provider: the job's `kind` names it)."""

    def __init__(self, papote: Host, adapters: dict[str, Adapter], storage: AttachmentStorage,
                 base_url: Callable[[str], str], lease_ms: int, every_secs: float,
                 allow_private: bool = False) -> None:
        self.papote = papote
        self.store = papote.store
        self.adapters = adapters
        self.storage = storage
        #: kind → the provider's API base (Messaging.base_url: the fakes' in tests).
        self.base_url = base_url
        self.http: httpx.AsyncClient | None = None
        self.allow_private = allow_private
        self._encoders = asyncio.Semaphore(ENCODERS)
        self.outbox = Outbox(self.store, CHANNEL, self._fetch, lease_ms=max(lease_ms, MIN_LEASE_MS),
                             every_secs=every_secs, on_failed=self._failed, on_done=self._done,
                             first_retry_ms=FIRST_RETRY_MS)
        #: Told a conversation's id once a fetch's outcome is recorded (kept, given up, or to retry):
        #: the webhooks, which hold a message's event until its files are settled, look again.
        self.on_settled: Callable[[str], None] | None = None

    async def _fetch(self, job: Delivery) -> None:
        if job.conversation_id is None or job.seq is None:
            raise DeliveryError("the job names no message", permanent=True)
        account = await self.store.get_channel_account(job.account_id or "")
        site = await self.store.get_site(job.site_id)
        if account is None or site is None:
            raise DeliveryError("the channel account was disconnected", permanent=True)
        limits = limits_of(site)
        media = Media(str(job.payload["ref"]), str(job.payload.get("kind") or "file"),
                      str(job.payload.get("name") or ""), str(job.payload.get("content_type") or ""))
        assert self.http is not None, "started"
        try:
            data = await self.adapters[account.kind].fetch(self.http, self.base_url(account.kind), account, media,
                                                           limits.max_bytes, self._guard)
            attachment = await self._keep(job, media, data, limits.max_bytes, limits.types)
        except FileRefused as exc:
            await self._note(job, media, exc.reason, exc.code)
            return None
        keys = [k for k in (attachment.storage_key, attachment.thumbnail_key) if k]
        try:
            attached = await self.store.attach_to_message(attachment)
        except Exception:  # the conversation was erased meanwhile, or the database failed: no orphan bytes
            await self.storage.delete(keys)
            raise
        if attached:
            await self._announce(job)
        else:  # attached by an earlier run of this job: these bytes are a copy nobody points to
            await self.storage.delete(keys)
        log.info("%s file of message %s:%s kept (%d bytes)", account.kind, job.conversation_id, job.seq,
                 attachment.size)
        return None

    async def _done(self, job: Delivery) -> None:
        if self.on_settled is not None and job.conversation_id is not None:
            self.on_settled(job.conversation_id)

    async def _guard(self, url: str) -> None:
        """A URL a webhook named (Twilio's MediaUrl, Messenger's payload.url) and each redirect from it:
        a public host only, unless PAPOTE_MEDIA_ALLOW_PRIVATE. A site owner holds the secrets that sign
        their own webhooks, so without this check they could make the server fetch from its operator's
        network (the cloud's metadata address…) and read the answer as a customer's file."""
        await check_target(url, allow_private=self.allow_private)

    async def _keep(self, job: Delivery, media: Media, data: bytes, max_bytes: int,
                    types: frozenset[str]) -> Attachment:
        """Check and store the bytes as an upload would be (papote/attachments/); FileRefused if not."""
        if not data:
            raise FileRefused("the file is empty", ErrorCode.INVALID_FILE)
        if len(data) > max_bytes:
            raise FileRefused(f"the file is over {max_bytes // (1024 * 1024)} MB", ErrorCode.TOO_LARGE)
        name = media.name or media.kind
        content_type = sniff.sniff(data, name)
        if content_type is None or content_type in sniff.ACTIVE_TYPES or content_type not in types:
            raise FileRefused(f"{content_type or 'this kind of file'} is not accepted on this site",
                              ErrorCode.UNSUPPORTED_TYPE)
        width = height = None
        thumbnail_key = None
        kind = "file"
        if content_type in sniff.IMAGE_TYPES:
            try:
                async with self._encoders:
                    image = await asyncio.to_thread(images.clean, data, content_type)
            except PapoteError as exc:
                raise FileRefused(exc.message, exc.code) from None
            data, width, height, kind = image.data, image.width, image.height, "image"
            thumbnail_key = new_id("ft")
            await self.storage.put(thumbnail_key, image.thumbnail)
        storage_key = new_id("fs")
        await self.storage.put(storage_key, data)
        return Attachment(str(job.payload["attachment_id"]), job.site_id, AuthorKind.VISITOR, job.visitor_id, kind,
                          content_type, len(data), clean_name(name, content_type), storage_key, thumbnail_key,
                          width, height, now_ms(), None, job.conversation_id, job.seq)

    async def _announce(self, job: Delivery) -> None:
        """Tell the agents following the conversation: the message's files, all of them, as they are now."""
        assert job.conversation_id is not None and job.seq is not None
        found = await self.store.messages_after(job.conversation_id, job.seq - 1, 1, include_notes=False)
        if not found or found[0].seq != job.seq:
            return
        ids = attachment_ids(found[0].data)
        kept = await self.store.get_attachments(ids)
        views = [attachment_view(kept[i]) for i in ids if i in kept]
        self.papote.bus.publish(conv_topic(job.conversation_id), AttachmentsAdded(job.conversation_id, job.seq,
                                                                                  views))

    async def _failed(self, job: Delivery, reason: str, permanent: bool) -> None:
        media = Media(str(job.payload.get("ref") or ""), str(job.payload.get("kind") or "file"))
        await self._note(job, media, f"the provider did not give it ({reason})", None)

    async def _note(self, job: Delivery, media: Media, reason: str, code: ErrorCode | None) -> None:
        """A private note saying the customer's file was not kept, and why (once per job: its id is the
        note's client_msg_id)."""
        if job.conversation_id is None:
            return
        what = KIND_WORDS.get(media.kind, "file")
        body = f"The customer's {what} (message #{job.seq}) was not kept: {reason}."
        appended = await self.store.append(NewMessage(
            site_id=job.site_id, conversation_id=job.conversation_id, author_kind=AuthorKind.SYSTEM, author_id="",
            author_name="", kind=MessageKind.NOTE, body=body, client_msg_id=f"media:{job.id}",
            data={"media_refused": {"seq": job.seq, "code": code.value if code else "fetch_failed"}}))
        if not appended.duplicate:
            self.papote.bus.publish(conv_topic(job.conversation_id), MessageAppended(appended.message))
        log.info("file of message %s:%s not kept: %s", job.conversation_id, job.seq, reason)
