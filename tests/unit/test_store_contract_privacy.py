"""Privacy on both backends (store/privacy.py, papote/privacy.py): a visitor's export, their erasure from
every table (checked by reading every row of every table back, not by trusting the registry), retention
in bounded batches that leaves newer data alone, and the append-only audit log."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from papote.attachments import FolderStorage
from papote.authz import Principal
from papote.bus.local import LocalBus
from papote.bus.topics import visitor_topic
from papote.events import VisitorErased
from papote.ids import new_id, now_ms
from papote.privacy import DAY_MS, AuditAction, Privacy
from papote.store import Attachment, NewMessage, Site, Store, Visitor, VisitorChanges, VisitorEvent
from papote.store.channels import ChannelAccount, ChannelIdentity
from papote.store.mail import EmailThread
from papote.store.moderation import Block, HeldMessage, NpsSurvey
from papote.store.outbox import AddressState, Delivery
from papote.store.personal_data import VISITOR_TABLES
from papote.store.postgres import PostgresStore
from papote.store.privacy import AuditEntry
from papote.store.sqlite import SqliteStore
from papote.store.webhooks import WebhookAttempt
from papote.types import AuthorKind, MessageKind, PrincipalKind

pytestmark = [pytest.mark.asyncio, pytest.mark.both_backends]

OWNER = Principal(PrincipalKind.AGENT, "a_owner", "Owner", roles={})


@pytest_asyncio.fixture
async def store(any_store: Store) -> Store:
    return any_store


async def every_row(store: Store) -> list[tuple[str, str]]:
    """(table, the row as text) of every row of every table, read straight from the database."""
    out: list[tuple[str, str]] = []
    if isinstance(store, SqliteStore):
        conn = sqlite3.connect(store.path)
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            for t in tables:
                out += [(t, repr(r)) for r in conn.execute(f"SELECT * FROM {t}")]
        finally:
            conn.close()
        return out
    assert isinstance(store, PostgresStore)
    pg = await asyncpg.connect(store.dsn)
    try:
        for (t,) in await pg.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'"):
            out += [(t, repr(tuple(r))) for r in await pg.fetch(f"SELECT * FROM {t}")]
    finally:
        await pg.close()
    return out


async def raw_execute(store: Store, sql: str) -> None:
    if isinstance(store, SqliteStore):
        conn = sqlite3.connect(store.path)
        try:
            conn.execute(sql)
            conn.commit()
        finally:
            conn.close()
        return
    assert isinstance(store, PostgresStore)
    pg = await asyncpg.connect(store.dsn)
    try:
        await pg.execute(sql)
    finally:
        await pg.close()


async def file_for(store: Store, site: Site, uploader: str, kind: AuthorKind, storage: FolderStorage,
                   name: str) -> Attachment:
    a = Attachment(new_id("at"), site.id, kind, uploader, "file", "text/plain", 5, name,
                   new_id('f'), None, None, None, now_ms())
    await store.insert_attachment(a)
    await storage.put(a.storage_key, b"bytes")
    return a


async def person(store: Store, site: Site, storage: FolderStorage, marker: str) -> tuple[Visitor, str, Attachment]:
    """A visitor with something in every table of theirs: tokens, events, rules, a link code, a
    conversation with their messages, an agent's reply and note, a read mark, a file, a delivery, an
    email cursor and an address's standing."""
    v = await store.create_visitor(site.id, f"tokenhash-{marker}")
    await store.add_visitor_token(v.id, f"second-token-{marker}")
    v = await store.update_visitor(v.id, VisitorChanges(name=f"Name {marker}", email=f"{marker}@mail.test",
                                                        attributes={"plan": marker}, page={"url": f"https://s/{marker}"}))
    await store.add_visitor_event(v.id, VisitorEvent("cart", {"item": marker}, now_ms()))
    await store.mark_rule_fired(v.id, "welcome", now_ms())
    await store.create_link_code(f"code-{marker}", v.id, now_ms() + 60_000)
    attachment = await file_for(store, site, v.id, AuthorKind.VISITOR, storage, f"{marker}.txt")
    await store.claim_attachments([attachment.id], site.id, v.id, f"m-{marker}")
    first = await store.append(NewMessage(site.id, None, AuthorKind.VISITOR, v.id, f"Name {marker}",
                                          MessageKind.TEXT, f"hello from {marker}", f"m-{marker}",
                                          data={"attachments": [attachment.id]}, visitor_id=v.id))
    cid = first.conversation.id
    await store.bind_attachments([attachment.id], cid, first.message.seq)
    await store.append(NewMessage(site.id, cid, AuthorKind.AGENT, "a_agent", "Agent", MessageKind.TEXT,
                                  f"reply to {marker}"))
    await store.append(NewMessage(site.id, cid, AuthorKind.AGENT, "a_agent", "Agent", MessageKind.NOTE,
                                  f"note about {marker}"))
    await store.set_read(cid, v.id, AuthorKind.VISITOR, 1)
    await store.advance_email_cursor(cid, 0, 1, Delivery(new_id("d"), site.id, cid, v.id, "email", "digest",
                                                         f"{marker}@mail.test", {"subject": marker},
                                                         next_attempt_at=now_ms(), created_at=now_ms()))
    await store.set_email_state(site.id, f"{marker}@mail.test", AddressState.CONFIRMED, v.id)
    # A webhook of the conversation, with one attempt (channels/webhooks): its cursor, delivery and log.
    hook = Delivery(new_id("d"), site.id, cid, v.id, "webhook", "message.created", "wh_1", {"body": marker},
                    next_attempt_at=now_ms(), created_at=now_ms())
    await store.advance_webhook_cursor(cid, 0, 1, [hook])
    await store.record_webhook_attempt(WebhookAttempt(hook.id, 1, now_ms(), 500, 12, "server error"))
    # Moderation and NPS (store/moderation.py): a block, a message held for review, a survey answered.
    await store.block_visitor(Block(site.id, v.id, "a_agent", f"spam from {marker}", now_ms()))
    await store.hold_message(HeldMessage(new_id("h"), site.id, cid, v.id, f"Name {marker}", f"held-{marker}",
                                         f"casino {marker}", None, ["words"], now_ms()))
    survey = await store.offer_nps(NpsSurvey(new_id("nps"), site.id, cid, v.id, now_ms()), 0)
    assert survey is not None
    await store.answer_nps(survey.id, 9, f"great, {marker}", "widget", now_ms())
    # Mail (store/mail.py): the conversation's email thread, and the team told it was waiting.
    await store.save_email_thread(EmailThread(cid, site.id, f"{marker}@mail.test", f"Order {marker}", now_ms()))
    await store.queue_waiting_notice(cid, [], now_ms())
    # A messaging app (store/channels.py): the customer's phone number on a site's WhatsApp account.
    account = ChannelAccount(new_id("ch"), site.id, "whatsapp", "Support", {}, {}, now_ms())
    await store.insert_channel_account(account)
    await store.add_channel_identity(ChannelIdentity(account.id, f"+33 {marker}", site.id, v.id, cid, f"Name {marker}",
                                                     now_ms(), now_ms()))
    # The bot (store/bots.py): what the visitor told it, and the group it handed them to.
    await store.start_bot(cid, site.id, now_ms())
    await store.save_bot(cid, expect_seq=0, seen_seq=1, status="handover", state={"email": f"{marker}@mail.test"},
                         reason="asked", at=now_ms())
    await store.set_conversation_group(cid, "sales")
    return v, cid, attachment


@pytest_asyncio.fixture
async def world(store: Store, tmp_path: Path) -> dict[str, Any]:
    site = await store.create_site("Shop", ["https://shop.test"], {})
    storage = FolderStorage(tmp_path / "files")
    bus = LocalBus()
    forgotten: list[str] = []
    privacy = Privacy(store, storage, bus, forgotten.append)
    return {"site": site, "storage": storage, "bus": bus, "privacy": privacy, "forgotten": forgotten}


async def test_an_export_holds_every_table_of_the_visitor_and_nobody_elses(store: Store, world: dict[str, Any]) -> None:
    site, storage, privacy = world["site"], world["storage"], world["privacy"]
    ann, cid, attachment = await person(store, site, storage, "ann")
    await person(store, site, storage, "bob")
    export = await privacy.export(site, ann.id, OWNER)
    tables = export["tables"]
    assert set(tables) == {t.name for t in VISITOR_TABLES}
    for table in VISITOR_TABLES:
        assert tables[table.name], f"{table.name}: nothing exported"
        for row in tables[table.name]:
            assert not set(table.withheld) & set(row), f"{table.name}: a withheld column was exported"
    assert "bob" not in repr(tables)
    assert tables["visitors"][0]["attributes"] == {"plan": "ann"}  # JSON decoded on both backends
    assert [m["body"] for m in tables["messages"]] == ["hello from ann", "reply to ann", "note about ann"]
    assert len(tables["visitor_tokens"]) == 2 and tables["conversations"][0]["id"] == cid
    assert export["files"] == [{"id": attachment.id, "name": "ann.txt",
                                "download": f"/api/attachments/{attachment.id}"}]
    [entry] = await privacy.audit(site.id, 10)
    assert (entry.action, entry.target, entry.actor_kind, entry.actor_id) == (
        AuditAction.VISITOR_EXPORTED, ann.id, "agent", "a_owner")


async def test_an_erasure_leaves_no_trace_of_the_visitor_in_any_table(store: Store, world: dict[str, Any]) -> None:
    site, storage, privacy, bus = world["site"], world["storage"], world["privacy"], world["bus"]
    ann, _, ann_file = await person(store, site, storage, "ann")
    bob, bob_cid, bob_file = await person(store, site, storage, "bob")
    heard: list[Any] = []
    await bus.subscribe(visitor_topic(ann.id), lambda topic, e: heard.append(e.event))
    before = await every_row(store)
    assert any("ann" in row for _, row in before)

    counts = await privacy.erase(site, ann.id, OWNER)

    traces = [(t, row) for t, row in await every_row(store)
              if (ann.id in row or "ann" in row) and t != "audit_log"]
    assert traces == [], traces
    assert counts["visitors"] == 1 and counts["messages"] == 3 and counts["files"] == 1
    assert await storage.get(ann_file.storage_key) is None
    assert heard == [VisitorErased(ann.id, site.id)] and world["forgotten"] == [ann.id]
    # Bob is untouched, his file too.
    assert await store.get_visitor(bob.id) is not None
    assert len(await store.messages_after(bob_cid, 0, 10, include_notes=True)) == 3
    assert await storage.get(bob_file.storage_key) == b"bytes"
    # Audited, with no personal data: the id only.
    [entry] = await privacy.audit(site.id, 10)
    assert entry.action == AuditAction.VISITOR_ERASED and entry.target == ann.id
    assert "ann@" not in repr(entry) and "Name ann" not in repr(entry)
    # Again: nothing left to erase (the visitor is not found any more), and the store's erasure is idempotent.
    assert sum((await store.erase_visitor(ann.id)).values()) == 0
    assert all(rows == [] for rows in (await store.visitor_rows(ann.id)).values())


async def test_retention_purges_what_is_older_and_leaves_what_is_newer(store: Store, world: dict[str, Any]) -> None:
    site, storage, privacy = world["site"], world["storage"], world["privacy"]
    old, old_cid, old_file = await person(store, site, storage, "old")
    mixed, mixed_cid, mixed_file = await person(store, site, storage, "mixed")
    await asyncio.sleep(0.01)
    cutoff = now_ms()
    await asyncio.sleep(0.01)
    # The "mixed" conversation goes on after the cutoff: its newer message stays, so does the conversation.
    await store.append(NewMessage(site.id, mixed_cid, AuthorKind.VISITOR, mixed.id, "", MessageKind.TEXT, "still here",
                                  "m-late", visitor_id=mixed.id))
    new, new_cid, new_file = await person(store, site, storage, "new")
    settings = {"retention_messages_days": 30}
    site = await store.update_site(site.id, settings=settings)
    now = cutoff + 30 * DAY_MS
    done = await privacy.apply_retention(site, now)
    assert done == {"visitors": 0, "messages": 6, "conversations": 1, "attachments": 0}
    assert await store.get_conversation(old_cid) is None  # left empty: removed
    assert [m.body for m in await store.messages_after(mixed_cid, 0, 10, include_notes=True)] == ["still here"]
    assert len(await store.messages_after(new_cid, 0, 10, include_notes=True)) == 3
    assert await storage.get(old_file.storage_key) is None and await storage.get(mixed_file.storage_key) is None
    assert await storage.get(new_file.storage_key) == b"bytes"
    assert await store.get_visitor(old.id) is not None  # visitors have their own retention
    [entry] = await privacy.audit(site.id, 10)
    assert entry.action == AuditAction.RETENTION_RUN and entry.actor_kind == "system"
    assert entry.details == done
    # A second pass finds nothing more, and audits nothing.
    assert sum((await privacy.apply_retention(site, now)).values()) == 0
    assert len(await privacy.audit(site.id, 10)) == 1

    # Visitors unseen for the period are erased whole; attachments have their own period.
    site = await store.update_site(site.id, settings={"retention_visitors_days": 30, "retention_attachments_days": 30})
    done = await privacy.apply_retention(site, now)
    assert done["visitors"] == 2
    assert await store.get_visitor(old.id) is None and await store.get_visitor(mixed.id) is None
    assert await store.get_visitor(new.id) is not None
    assert await storage.get(new_file.storage_key) == b"bytes"


async def test_retention_goes_in_bounded_batches(store: Store, world: dict[str, Any],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import papote.privacy

    monkeypatch.setattr(papote.privacy, "RETENTION_BATCH", 2)
    site, privacy = world["site"], world["privacy"]
    for i in range(5):
        v = await store.create_visitor(site.id, f"t-{i}")
        await store.append(NewMessage(site.id, None, AuthorKind.VISITOR, v.id, "", MessageKind.TEXT, "x", f"m{i}",
                                      visitor_id=v.id))
    calls: list[int] = []
    purge = store.purge_messages

    async def counted(ids: list[str], before: int) -> tuple[int, int]:
        calls.append(len(ids))
        return await purge(ids, before)

    monkeypatch.setattr(store, "purge_messages", counted)
    site = await store.update_site(site.id, settings={"retention_messages_days": 1})
    done = await privacy.apply_retention(site, now_ms() + 2 * DAY_MS)
    assert done["messages"] == 5 and done["conversations"] == 5
    assert calls == [2, 2, 1]


async def test_the_audit_log_is_append_only_and_pages_newest_first(store: Store) -> None:
    for i in range(5):
        await store.add_audit(AuditEntry(f"au_{i}", "s_1", 1000 + i, "agent", "a_1", "site.settings_changed", "",
                                         {"settings": ["color"], "n": i}))
    await store.add_audit(AuditEntry("au_other", "s_2", 1000, "system", "papote", "retention.run"))
    page = await store.audit_entries("s_1", 3)
    assert [e.id for e in page] == ["au_4", "au_3", "au_2"] and page[0].details == {"settings": ["color"], "n": 4}
    assert [e.id for e in await store.audit_entries("s_1", 3, before=page[-1].at)] == ["au_1", "au_0"]
    for sql in ("UPDATE audit_log SET action='x'", "DELETE FROM audit_log"):
        with pytest.raises((sqlite3.DatabaseError, asyncpg.PostgresError), match="append-only"):
            await raw_execute(store, sql)
    assert len(await store.audit_entries("s_1", 10)) == 5


async def test_a_visitor_of_another_site_is_not_found(store: Store, world: dict[str, Any]) -> None:
    from papote.errors import NotFound

    other = await store.create_site("Other", [], {})
    v = await store.create_visitor(other.id, "t-other")
    with pytest.raises(NotFound):
        await world["privacy"].erase(world["site"], v.id, OWNER)
    with pytest.raises(NotFound):
        await world["privacy"].export(world["site"], v.id, OWNER)
    assert await store.get_visitor(v.id) is not None


async def test_failed_sign_ins_are_forgotten_past_the_lockout_window(store: Store, world: dict[str, Any]) -> None:
    now = now_ms()
    await store.record_sign_in_failure("x@y.test", "203.0.113.0/24", "", False, now - 3_600_000)
    await store.record_sign_in_failure("x@y.test", "203.0.113.0/24", "", False, now - 60_000)
    await world["privacy"].apply_all(now)
    failures = await store.sign_in_failures("x@y.test", "203.0.113.0/24", "", 0)
    assert (failures.account, failures.address) == (1, 1)
