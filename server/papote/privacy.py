"""Privacy a site owner can prove (docs/privacy.md): export and erasure of a visitor, retention, the audit log.

* `export` — everything the store holds about one visitor, as JSON: one list of rows per table of the
  personal-data registry (store/personal_data.py), the same scopes an erasure deletes by.
* `erase` — the visitor's attachment files first (a crash then leaves rows to erase again, never bytes
  nobody can find), then every row in one transaction, then `VisitorErased` on the bus: every node
  closes the visitor's sockets (4013) and drops what it cached. Idempotent; audited without personal
  data (the entry names the erased id, which then points at nothing).
* `apply_retention` — per site, the `retention_*_days` settings: visitors not seen for N days are
  erased whole; messages older than N days are deleted (and a conversation left empty with them);
  attachments older than N days are deleted (their messages stay). In batches of `RETENTION_BATCH`, each
  its own short transaction, so the writer is never held long. The node runs it every
  PAPOTE_RETENTION_EVERY_SECS under the store's leader lock: once across nodes.
* `record` / `audit` — the append-only audit log of admin actions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from papote.attachments.storage import AttachmentStorage
from papote.authz import Principal
from papote.bus import Bus
from papote.bus.topics import site_topic, visitor_topic
from papote.errors import NotFound
from papote.events import VisitorErased
from papote.ids import new_id, now_ms
from papote.sites import settings_of
from papote.store import Site, Store
from papote.store.privacy import AuditEntry, StoredFile
from papote.types import Millis, PrincipalKind

log = logging.getLogger("papote.privacy")

#: Rows (visitors, conversations, files) per retention batch: each batch is one short transaction, a few
#: milliseconds of the SQLite writer, so appends queued behind it wait no longer than a busy moment.
RETENTION_BATCH = 200
DAY_MS = 86_400_000
#: What an export says it is, so a reader knows the shape (bumped when it changes).
EXPORT_FORMAT = "papote.visitor-export/1"


class AuditAction:
    """The actions the audit log records (its `action` column)."""

    SETTINGS_CHANGED = "site.settings_changed"
    SITE_RENAMED = "site.renamed"
    ORIGINS_CHANGED = "site.origins_changed"
    SECRET_ROTATED = "site.secret_rotated"
    ROLE_CHANGED = "member.role_changed"
    MEMBER_DISABLED = "member.disabled"
    MEMBER_ENABLED = "member.enabled"
    MEMBER_REMOVED = "member.removed"
    OWNERSHIP_TRANSFERRED = "member.ownership_transferred"
    INVITE_SENT = "invite.sent"
    INVITE_WITHDRAWN = "invite.withdrawn"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    VISITOR_EXPORTED = "visitor.exported"
    VISITOR_ERASED = "visitor.erased"
    VISITORS_MERGED = "visitor.merged"  # target: the kept contact; details: {"merged": the other's id}
    RETENTION_RUN = "retention.run"


def cutoffs(settings: dict[str, Any], now: Millis) -> dict[str, Millis]:
    """{what: the time before which it goes} for each retention the settings set (messages, visitors,
    attachments); none set: {}."""
    out = {}
    for what in ("messages", "visitors", "attachments"):
        days = settings.get(f"retention_{what}_days")
        if days:
            out[what] = now - int(days) * DAY_MS
    return out


def actor_of(principal: Principal | None) -> tuple[str, str]:
    if principal is None or principal.kind is PrincipalKind.SYSTEM:
        return "system", "papote"
    if principal.kind is PrincipalKind.API_KEY:
        return "api_key", principal.id
    return "agent", principal.id


class Privacy:
    """The privacy service: one per node (node.py), called by the REST API and the retention loop."""

    def __init__(self, store: Store, storage: AttachmentStorage, bus: Bus,
                 forget_visitor: Callable[[str], None], sign_in_window_ms: Millis = 15 * 60_000) -> None:
        self.store = store
        #: Failed sign-ins count for the lockout this long; older ones are deleted by each pass.
        self.sign_in_window_ms = sign_in_window_ms
        self.storage = storage
        self.bus = bus
        self._forget_visitor = forget_visitor
        self.retention_runs = 0

    # -- the audit log -------------------------------------------------------------------------------
    async def record(self, site_id: str, principal: Principal | None, action: str, target: str = "",
                     details: dict[str, Any] | None = None) -> AuditEntry:
        kind, actor = actor_of(principal)
        entry = AuditEntry(new_id("au"), site_id, now_ms(), kind, actor, action, target, details or {})
        await self.store.add_audit(entry)
        return entry

    async def audit(self, site_id: str, limit: int, before: Millis | None = None) -> list[AuditEntry]:
        return await self.store.audit_entries(site_id, limit, before)

    # -- export and erasure --------------------------------------------------------------------------
    async def _visitor_of(self, site: Site, visitor_id: str) -> None:
        visitor = await self.store.get_visitor(visitor_id)
        if visitor is None or visitor.site_id != site.id:
            raise NotFound("no such visitor on this site")

    async def export(self, site: Site, visitor_id: str, principal: Principal | None) -> dict[str, Any]:
        """Everything about the visitor, one list of rows per table (NotFound when the site has no such
        visitor). Attachments are listed with the path that downloads them."""
        await self._visitor_of(site, visitor_id)
        tables = await self.store.visitor_rows(visitor_id)
        files = [{"id": a["id"], "name": a["name"], "download": f"/api/attachments/{a['id']}"}
                 for a in tables.get("attachments", [])]
        await self.record(site.id, principal, AuditAction.VISITOR_EXPORTED, visitor_id)
        return {"format": EXPORT_FORMAT, "exported_at": now_ms(), "site": {"id": site.id, "name": site.name},
                "visitor_id": visitor_id, "tables": tables, "files": files}

    async def erase(self, site: Site, visitor_id: str, principal: Principal | None, *,
                    audit: bool = True) -> dict[str, int]:
        """Erase the visitor everywhere (NotFound when the site has no such visitor): {table: rows}."""
        await self._visitor_of(site, visitor_id)
        counts = await self._erase(site.id, visitor_id)
        if audit:
            await self.record(site.id, principal, AuditAction.VISITOR_ERASED, visitor_id,
                              {"rows": sum(counts.values()), "files": counts.get("files", 0)})
        return counts

    async def _erase(self, site_id: str, visitor_id: str) -> dict[str, int]:
        files = await self.store.visitor_files(visitor_id)
        await self._delete_files(files)
        counts = await self.store.erase_visitor(visitor_id)
        counts["files"] = len(files)
        # After COMMIT: the visitor's sockets close on every node, and cached refs go.
        event = VisitorErased(visitor_id, site_id)
        self.bus.publish(visitor_topic(visitor_id), event)
        self.bus.publish(site_topic(site_id), event)
        self._forget_visitor(visitor_id)
        return counts

    async def _delete_files(self, files: list[StoredFile]) -> None:
        keys = [k for f in files for k in f.keys]
        if keys:
            await self.storage.delete(keys)

    # -- retention -----------------------------------------------------------------------------------
    async def apply_retention(self, site: Site, now: Millis | None = None) -> dict[str, int]:
        """Purge what the site's retention settings say is too old; {what: how many} deleted. Audited
        when anything was."""
        limits = cutoffs(settings_of(site), now if now is not None else now_ms())
        done = {"visitors": 0, "messages": 0, "conversations": 0, "attachments": 0}
        if "visitors" in limits:
            while batch := await self.store.unseen_visitors(site.id, limits["visitors"], RETENTION_BATCH):
                for visitor_id in batch:
                    await self._erase(site.id, visitor_id)
                done["visitors"] += len(batch)
        if "messages" in limits:
            after: tuple[Millis, str] | None = None
            while batch_ := await self.store.aged_conversations(site.id, limits["messages"], after,
                                                                RETENTION_BATCH):
                ids = [cid for _, cid in batch_]
                await self._delete_files(await self.store.aged_message_files(ids, limits["messages"]))
                messages, emptied = await self.store.purge_messages(ids, limits["messages"])
                done["messages"] += messages
                done["conversations"] += emptied
                after = batch_[-1]
        if "attachments" in limits:
            while files := await self.store.aged_files(site.id, limits["attachments"], RETENTION_BATCH):
                await self._delete_files(files)
                await self.store.delete_attachments([f.id for f in files])
                done["attachments"] += len(files)
        if any(done.values()):
            await self.record(site.id, None, AuditAction.RETENTION_RUN, "", done)
            log.info("retention on site %s deleted %s", site.id, done)
        return done

    async def apply_all(self, now: Millis | None = None) -> dict[str, dict[str, int]]:
        """Every site's retention (those that set one); a failing site does not stop the others. Also
        the server's own: failed sign-ins past the lockout window go."""
        self.retention_runs += 1
        moment = now if now is not None else now_ms()
        while await self.store.forget_sign_in_failures(moment - self.sign_in_window_ms, RETENTION_BATCH) \
                == RETENTION_BATCH:
            pass
        out = {}
        for site in await self.store.list_sites():
            if not cutoffs(settings_of(site), 0):
                continue
            try:
                out[site.id] = await self.apply_retention(site, now)
            except Exception:
                log.exception("retention failed on site %s", site.id)
        return out
