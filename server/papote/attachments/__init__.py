"""Attachments: files sent with messages, either way (visitor ↔ agent), and later by channels.

    upload ──► sniff the bytes ──► the site's limits ──► images: re-encode (metadata gone) + thumbnail
                                                        ──► storage.put ──► store.insert_attachment
    send{attachments:[id…]} ──► claim (uploader, client_msg_id) ──► append ──► bind (conversation, seq) ──► ack
    download ──► the attachment's message ──► authz.authorize(READ) (a note's files never to a visitor)

`Attachments` is the service the REST routes call (web/files_api.py); the claim and bind are part of
sending (conversations/messages.py). What a file is comes from its bytes only (sniff.py); what a site
accepts is its settings (`attachments_types`, `attachments_max_mb`); where the bytes live is the
storage (storage.py). Uploads never sent are deleted by `sweep`, run on one node at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from limits import parse

from papote.attachments import images, sniff
from papote.attachments.storage import AttachmentStorage, DatabaseStorage, FolderStorage, storage_for
from papote.authz import Action, ConversationRef, Principal, authorize
from papote.errors import ErrorCode, NotFound, PapoteError, RateLimited
from papote.ids import new_id, now_ms
from papote.ratelimits import Budgets, SharedLimits
from papote.sites import settings_of
from papote.store import Attachment, Site, Store
from papote.types import AuthorKind, Millis, PrincipalKind

__all__ = ["AttachmentStorage", "Attachments", "DatabaseStorage", "FolderStorage", "Limits", "limits_of",
           "storage_for", "too_large"]

log = logging.getLogger("papote.attachments")

#: Images re-encoded at once on one node: each takes a core for up to a second (the rest wait).
ENCODERS = 2
#: Unsent uploads deleted per pass of the cleanup (the next pass takes the rest).
SWEEP_BATCH = 500
#: A file's name as kept and shown: the last path segment, without control characters.
MAX_NAME = 200
#: Uploads one uploader may make: a conversation's worth of photos and documents fits many times over;
#: a script filling the disk with 10 MB files does not. Each node counts it, and with shared budgets
#: (Redis) the nodes count it together, so spreading uploads over nodes does not multiply it.
UPLOAD_RATE = parse("60/10minute")


@dataclass(frozen=True, slots=True)
class Limits:
    """What a site accepts: bytes per file and content types (from its categories)."""

    max_bytes: int
    types: frozenset[str]

    def public(self) -> dict[str, object]:
        """What the widget is told (`welcome.site.attachments`), to check before uploading."""
        return {"max_bytes": self.max_bytes, "types": sorted(self.types)}


def too_large(max_bytes: int) -> PapoteError:
    """The refusal of a file over `max_bytes`, said in whole MB (the unit of the site's setting), whether
    the upload's body or the stored file's check finds it."""
    return PapoteError(f"the file is over {max_bytes // (1024 * 1024)} MB", ErrorCode.TOO_LARGE)


def limits_of(site: Site) -> Limits:
    s = settings_of(site)
    types = frozenset(t for category in s["attachments_types"] for t in sniff.CATEGORIES.get(category, {}))
    return Limits(int(s["attachments_max_mb"]) * 1024 * 1024, types)


def clean_name(name: str, content_type: str) -> str:
    """The file's name as shown: its last segment, printable, bounded, with an extension that matches
    what it really is (a `photo.jpg` that is a PNG becomes `photo.png`)."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in base if c.isprintable() and c not in '"<>:|?*').strip(" .") or "file"
    ext = sniff.CATEGORY_OF.get(content_type) and next(
        e for t, e in sniff.CATEGORIES[sniff.CATEGORY_OF[content_type]].items() if t == content_type)
    stem = base.rsplit(".", 1)[0] if "." in base else base
    current = sniff.extension(base)
    if ext and current != ext and not (ext == "jpg" and current in ("jpeg", "jpe")):
        base = f"{stem}.{ext}"
    if len(base) > MAX_NAME:
        keep = MAX_NAME - len(ext or "") - 1
        base = f"{stem[:keep]}.{ext}" if ext else base[:MAX_NAME]
    return base


class Attachments:
    def __init__(self, store: Store, storage: AttachmentStorage, unsent_secs: int,
                 ref: Callable[[str], Awaitable[ConversationRef]], budgets: Budgets | None = None,
                 shared: SharedLimits | None = None) -> None:
        self.store = store
        self._budgets = budgets or Budgets()
        self._shared = shared
        self._ref = ref
        self.storage = storage
        self.unsent_secs = unsent_secs
        self._encoders = asyncio.Semaphore(ENCODERS)

    async def upload(self, principal: Principal, site: Site, name: str, declared_type: str,
                     data: bytes) -> Attachment:
        """Check, clean and keep one file for `principal` to send on `site`. Refusals are coded and
        store nothing: `too_large` over the site's size, `unsupported_type` for a type it does not
        allow (or one never allowed: HTML, SVG), `invalid_file` for an empty file, a file that says it
        is an image and is not (by its name or declared type) or an image that does not decode."""
        authorize(principal, Action.WRITE, site.id)
        if not self._budgets.hit(UPLOAD_RATE, "upload", principal.id):
            raise RateLimited("too many uploads; try again in a few minutes")
        if self._shared is not None:
            key = f"upload:{principal.id}"
            if self._shared.blocked(key):
                raise RateLimited("too many uploads; try again in a few minutes")
            self._shared.hit(UPLOAD_RATE, key)
        limits = limits_of(site)
        if not data:
            raise PapoteError("the file is empty", ErrorCode.INVALID_FILE)
        if len(data) > limits.max_bytes:
            raise too_large(limits.max_bytes)
        content_type = sniff.sniff(data, name)
        if sniff.claims_image(name, declared_type) and content_type not in sniff.IMAGE_TYPES:
            raise PapoteError("the file says it is an image, but it is not one", ErrorCode.INVALID_FILE)
        if content_type is None or content_type in sniff.ACTIVE_TYPES or content_type not in limits.types:
            shown = content_type or "this kind of file"
            raise PapoteError(f"{shown} is not accepted here", ErrorCode.UNSUPPORTED_TYPE)
        attachment_id = new_id("at")
        width = height = None
        thumbnail_key = None
        kind = "file"
        if content_type in sniff.IMAGE_TYPES:
            async with self._encoders:
                image = await asyncio.to_thread(images.clean, data, content_type)
            data, width, height, kind = image.data, image.width, image.height, "image"
            thumbnail_key = new_id("ft")
            await self.storage.put(thumbnail_key, image.thumbnail)
        storage_key = new_id("fs")
        await self.storage.put(storage_key, data)
        uploader_kind = AuthorKind.VISITOR if principal.kind is PrincipalKind.VISITOR else AuthorKind.AGENT
        attachment = Attachment(attachment_id, site.id, uploader_kind, principal.id, kind, content_type,
                                len(data), clean_name(name, content_type), storage_key, thumbnail_key,
                                width, height, now_ms())
        try:
            await self.store.insert_attachment(attachment)
        except BaseException:
            await self.storage.delete([k for k in (storage_key, thumbnail_key) if k])
            raise
        return attachment

    async def visible(self, principal: Principal, attachment_id: str) -> Attachment:
        """The attachment if `principal` may see it, else NotFound (missing or not theirs: one answer).

        Unsent, it is its uploader's only. Sent, it is the conversation's: its visitor and the site's
        agents and API keys — but a private note's files are never the visitor's."""
        attachment = await self.store.get_attachment(attachment_id)
        if attachment is None:
            raise NotFound("no such attachment")
        authorize(principal, Action.READ, attachment.site_id)
        if attachment.conversation_id is None or attachment.seq is None:
            if attachment.uploader_id != principal.id:
                raise NotFound("no such attachment")
            return attachment
        authorize(principal, Action.READ, attachment.site_id, await self._ref(attachment.conversation_id))
        if principal.kind is PrincipalKind.VISITOR:
            shown = await self.store.messages_after(attachment.conversation_id, attachment.seq - 1, 1,
                                                    include_notes=False)
            if not shown or shown[0].seq != attachment.seq:
                raise NotFound("no such attachment")
        return attachment

    async def read(self, attachment: Attachment, thumbnail: bool) -> tuple[bytes, str]:
        """The bytes and content type of a file (or of its thumbnail: an image's only)."""
        key = attachment.storage_key
        content_type = attachment.content_type
        if thumbnail:
            if attachment.thumbnail_key is None:
                raise NotFound("no thumbnail for this attachment")
            key = attachment.thumbnail_key
            content_type = "image/png" if attachment.content_type in ("image/png", "image/gif",
                                                                     "image/webp") else "image/jpeg"
        data = await self.storage.get(key)
        if data is None:
            raise NotFound("no such attachment")
        if thumbnail:
            content_type = sniff.sniff(data) or content_type
        return data, content_type

    async def sweep(self, now: Millis | None = None) -> int:
        """Delete uploads never sent within `unsent_secs`, rows first: a file is never served after
        its row is gone, and bytes left by a crash between the two are only unreachable bytes."""
        before = (now if now is not None else now_ms()) - self.unsent_secs * 1000
        stale = await self.store.stale_attachments(before, SWEEP_BATCH)
        # A claimed one whose message was committed, and whose binding was lost in a crash, is not
        # stale: it is bound now instead of deleted.
        doomed = []
        for attachment in stale:
            if attachment.client_msg_id is not None and await self._rebind(attachment):
                continue
            doomed.append(attachment)
        if not doomed:
            return 0
        await self.store.delete_attachments([a.id for a in doomed])
        await self.storage.delete([k for a in doomed for k in (a.storage_key, a.thumbnail_key) if k])
        log.info("deleted %d attachments never sent", len(doomed))
        return len(doomed)

    async def _rebind(self, attachment: Attachment) -> bool:
        found = await self.store.message_by_client_id(attachment.uploader_id, attachment.client_msg_id or "")
        if found is None:
            return False
        await self.store.bind_attachments([attachment.id], found[0], found[1])
        return True
