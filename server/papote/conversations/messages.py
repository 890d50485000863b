"""Posting a message, and the assignments a message brings about: `send` in its two halves (`submit`
queues the append, `complete` acks after COMMIT and fans out in commit order), the claim an agent's reply
to a waiting conversation makes, and `assign` (claim or transfer, whose note is itself a message)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from papote import quick_replies
from papote.authz import Action, Principal, authorize
from papote.bus.topics import agent_topic, conv_topic
from papote.conversations.snooze import Snoozes
from papote.errors import Busy, Conflict, ErrorCode, NotFound, PapoteError
from papote.events import Mentioned, MessageAppended
from papote.frames import agent_author
from papote.ids import now_ms
from papote.sites import settings_of, topic_of
from papote.store import Appended, Attachment, Conversation, Message, NewMessage
from papote.store.outbox import Delivery
from papote.store.rules import attachment_view, mentioned
from papote.types import AuthorKind, ConversationStatus, Frame, MessageKind, PrincipalKind

#: A tap waits this long at most for another tap on the same quick replies (on another node) to be
#: stored, polling the lock this often: a tap takes milliseconds; past that, `busy` and the client retries.
TAP_LOCK_SECS = 5.0
TAP_LOCK_POLL_SECS = 0.02
#: The start of a note its `mentioned` frame carries: what a notification shows (two lines).
MENTION_EXCERPT_CHARS = 140


class Messages(Snoozes):
    async def send(
        self,
        principal: Principal,
        conversation_id: str | None,
        client_msg_id: str,
        body: str,
        *,
        note: bool = False,
        origin: str | None = None,
        data: dict[str, Any] | None = None,
        attachments: list[str] | None = None,
        screened: bool = False,
        jobs: list[Delivery] | None = None,
        opens: str | None = None,
        mentions: list[str] | None = None,
    ) -> tuple[Frame, Appended]:
        """Store a message and fan it out. Returns the `ack` frame (only after COMMIT)."""
        stored = await self.submit(principal, conversation_id, client_msg_id, body, note=note, data=data,
                                   attachments=attachments, screened=screened, jobs=jobs, opens=opens,
                                   mentions=mentions)
        return await self.complete(principal, stored, note=note, origin=origin)

    async def submit(
        self,
        principal: Principal,
        conversation_id: str | None,
        client_msg_id: str,
        body: str,
        *,
        note: bool = False,
        data: dict[str, Any] | None = None,
        attachments: list[str] | None = None,
        screened: bool = False,
        jobs: list[Delivery] | None = None,
        opens: str | None = None,
        mentions: list[str] | None = None,
    ) -> asyncio.Future[Appended]:
        """First half of `send`: authorize, then queue the append. Returns as soon as it is queued, so a
        connection can submit its next frame while this one commits; appends keep submission order.

        `attachments`: ids of files this principal uploaded to the site. They are claimed for this
        `client_msg_id` first (refused: `not_found` for one that is not the sender's, `conflict` for one
        sent with another message), named in the message's data (so a retry with other files is a
        conflict, as another body is), and keyed to the message once it is committed, before the ack.

        A visitor's message passes moderation first (`screen`, papote/moderation.py): `blocked` when they
        are blocked on the site, `held` when the spam filter keeps it for review. `screened`: it already
        did (an agent releasing a held message). `jobs`: outbox rows written in the append's own
        transaction, and only if the message is new (a messaging channel's fetches of a customer's files).

        `opens` (with `conversation_id=None`): the id the new conversation takes; a first message that
        finds it created already joins it (`NewMessage.new_conversation_id`).

        `mentions`: agents a note mentions, named in its data (`mentions`); each is told once it is
        committed (`Mentioned`, and an alert on their devices). Only in a note (`bad_field` otherwise),
        only agents of the site (`not_found` otherwise), refused before anything is stored; the author
        mentioning themselves is dropped."""
        if conversation_id is None:
            if principal.kind is not PrincipalKind.VISITOR or principal.site_id is None:
                raise PapoteError("agents must name the conversation", ErrorCode.BAD_FIELD)
            site_id = principal.site_id
            authorize(principal, Action.WRITE, site_id)
        else:
            ref = self._refs.get(conversation_id) or await self.ref(conversation_id)
            site_id = ref.site_id
            authorize(principal, Action.NOTE if note else Action.WRITE, site_id, ref)
        if mentions:
            if not note:
                raise PapoteError("mentions go in private notes", ErrorCode.BAD_FIELD)
            mentioned = await self._mentionable(site_id, principal.id, mentions)
            if mentioned:
                data = {**(data or {}), "mentions": mentioned}
        if self.screen is not None and principal.kind is PrincipalKind.VISITOR and not screened:
            await self.screen(principal, site_id, conversation_id, client_msg_id, body,
                              {**(data or {}), "attachments": attachments} if attachments else data,
                              jobs or [], opens if conversation_id is None else None)
        claimed: list[str] = []
        views: list[dict[str, Any]] = []
        files: list[Attachment] = []
        if attachments:
            attachments = list(dict.fromkeys(attachments))  # a file named twice goes once
            claimed = await self.store.claim_attachments(attachments, site_id, principal.id, client_msg_id)
            found = await self.store.get_attachments(attachments)
            files = [found[i] for i in attachments if i in found]
            views = [attachment_view(f) for f in files]
            data = {**(data or {}), "attachments": list(attachments)}
        deliveries = []
        if (self.outbound_for is not None and conversation_id is not None and not note
                and principal.kind is not PrincipalKind.VISITOR):
            # A reply on a messaging channel: its sends are queued with it, or it is refused before storing.
            try:
                deliveries = await self.outbound_for(site_id, conversation_id, body, files)
            except PapoteError:
                await self.store.release_attachments(claimed, client_msg_id)  # nothing stored: sendable again
                raise
        if jobs:
            deliveries = [*deliveries, *jobs]
        stored = self.store.append_nowait(
            NewMessage(
                site_id=site_id,
                conversation_id=conversation_id,
                author_kind=AuthorKind.VISITOR if principal.kind is PrincipalKind.VISITOR else AuthorKind.AGENT,
                author_id=principal.id,
                author_name=principal.name,
                kind=MessageKind.NOTE if note else MessageKind.TEXT,
                body=body,
                client_msg_id=client_msg_id,
                visitor_id=principal.id if principal.kind is PrincipalKind.VISITOR else None,
                data=data,
                deliveries=deliveries,
                new_conversation_id=opens if conversation_id is None else None,
            )
        )
        if deliveries and self.on_outbound is not None:
            on_outbound = self.on_outbound
            stored.add_done_callback(lambda f: on_outbound() if not f.cancelled() and f.exception() is None else None)
        if not attachments:
            return stored
        return asyncio.ensure_future(self._bind_files(stored, attachments, claimed, client_msg_id, views))

    async def _mentionable(self, site_id: str, author_id: str, ids: list[str]) -> list[str]:
        """The agents a note mentions, once each, the author left out; one that is not an active agent
        of the site (unknown, another site's, disabled) refuses the note `not_found`, as `assign` does,
        the same answer for each, so it tells nothing about other sites' agents."""
        team = {agent.id for agent, membership in await self.store.team(site_id)
                if not agent.disabled and not membership.disabled}
        if any(agent_id not in team for agent_id in ids):
            raise NotFound("no such agent on this site")
        return [a for a in dict.fromkeys(ids) if a != author_id]

    async def _bind_files(self, stored: asyncio.Future[Appended], ids: list[str], claimed: list[str],
                          client_msg_id: str, views: list[dict[str, Any]]) -> Appended:
        """Once the message is committed, key its files to it (then it is acked, with them); if it was
        refused, give back the files this send claimed, so they can be sent again."""
        try:
            appended = await stored
        except PapoteError:
            await self.store.release_attachments(claimed, client_msg_id)
            raise
        message = appended.message
        await self.store.bind_attachments(ids, message.conversation_id, message.seq)
        if not appended.duplicate:
            message.attachments = views
        return appended

    async def quick_reply_choice(
        self, principal: Principal, conversation_id: str | None, seq: int, option: int, client_msg_id: str
    ) -> dict[str, Any]:
        """The `data` of a visitor's tap on option `option` of the message at `seq`: read from the
        store (the label and value are the agent's, never the client's). `bad_field` when that
        message offers no such option, `not_found` for a conversation the visitor may not read,
        `answered` when its options were answered already — unless by this very tap (this author and
        `client_msg_id`): a retry goes on, and the store's dedupe gives it its first ack."""
        if conversation_id is None:
            raise PapoteError("field 'quick_reply' needs the conversation it answers in", ErrorCode.BAD_FIELD)
        await self.conversation_for(principal, conversation_id, Action.READ)
        found = await self.store.messages_before(conversation_id, seq + 1, 1, include_notes=False)
        data = quick_replies.choice_data(found[-1] if found else None, seq, option)
        answer = await self.store.quick_reply_answer(conversation_id, seq)
        if answer is not None and (answer.author_id, answer.client_msg_id) != (principal.id, client_msg_id):
            raise PapoteError(f"the quick replies of message {seq} were answered already (seq {answer.seq})",
                              ErrorCode.ANSWERED)
        return data

    async def submit_tap(
        self, principal: Principal, conversation_id: str | None, client_msg_id: str, body: str, seq: int,
        option: int, *, data: dict[str, Any] | None = None, attachments: list[str] | None = None,
    ) -> asyncio.Future[Appended]:
        """`submit` for a tap on quick replies (`quick_reply_choice` says what it chose, or refuses it).
        Taps on one set take turns, each checked once the one before it is committed, so a double tap,
        or two tabs tapping at once, store one answer: on this node in memory, across nodes under the
        store's lock named after the set (`singleton`), held from the check to the commit. Returns once
        the tap is committed (or refused)."""
        key = (conversation_id or "", seq)
        previous = self._taps.get(key)
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._taps[key] = turn
        try:
            if previous is not None:
                await previous
            async with self._set_lock(key) as held:
                if not held:
                    raise Busy("another tap on these quick replies is being stored; retry in a moment")
                choice = await self.quick_reply_choice(principal, conversation_id, seq, option, client_msg_id)
                stored = await self.submit(principal, conversation_id, client_msg_id, body,
                                           data={**(data or {}), **choice}, attachments=attachments)
                await asyncio.wait([stored])  # committed (or refused) before the next tap checks
            return stored
        finally:
            turn.set_result(None)
            if self._taps.get(key) is turn:
                del self._taps[key]

    @contextlib.asynccontextmanager
    async def _set_lock(self, key: tuple[str, int]) -> AsyncIterator[bool]:
        """The store's lock on one set of quick replies, waited for (a tap takes milliseconds) up to
        `TAP_LOCK_SECS`; yields whether it is held."""
        deadline = time.monotonic() + TAP_LOCK_SECS
        while True:
            async with self.store.singleton(f"papote.quick-reply:{key[0]}:{key[1]}") as held:
                if held or time.monotonic() >= deadline:
                    yield held
                    return
            await asyncio.sleep(TAP_LOCK_POLL_SECS)

    async def complete(
        self, principal: Principal, stored: asyncio.Future[Appended], *, note: bool = False,
        origin: str | None = None,
    ) -> tuple[Frame, Appended]:
        """Second half of `send`: once committed, the `ack` (returned) and the fan-out."""
        appended = await stored
        if principal.kind is PrincipalKind.VISITOR and appended.conversation.visitor_id != principal.id:
            await self._merged_meanwhile(principal.id, appended.conversation.visitor_id)
        ack = self.finish_simple(principal, appended, note=note, origin=origin)
        if ack is not None:
            return ack, appended
        return await self.finish(principal, appended, note=note, origin=origin), appended

    async def _merged_meanwhile(self, author_id: str, owner_id: str) -> None:
        """A visitor's message landed in a conversation that is another visitor's: an agent's merge
        committed between this send's authorization (or a channel's identity read) and its append. The
        message names the merged-away visitor; the merge is run again to move it (and its dedupe key) to
        the kept one, so a re-delivery of it is still a duplicate (docs/channels.md, exactly-once)."""
        if await self.store.get_visitor(author_id) is None:
            await self.store.merge_visitor(author_id, owner_id)

    @staticmethod
    def _ack(message: Message) -> Frame:
        return {"t": "ack", "client_msg_id": message.client_msg_id, "conversation": message.conversation_id,
                "seq": message.seq, "ts": message.created_at}

    def finish_simple(
        self, principal: Principal, appended: Appended, *, note: bool = False, origin: str | None = None
    ) -> Frame | None:
        """The common end of a send, without awaiting: a message to a conversation that neither started,
        reopened nor waits for an agent. Returns the `ack`, or None when `finish` must do the rest."""
        if appended.duplicate:
            return self._ack(appended.message)
        conv = appended.conversation
        more = appended.created or appended.reopened is not None or (
            principal.kind is PrincipalKind.AGENT and not note and conv.status == ConversationStatus.OPEN
            and conv.assignee_id is None
        ) or (conv.id in self.snoozed and appended.message.author_kind is AuthorKind.VISITOR) or (
            note and bool(mentioned(appended.message))
        )
        if not more and conv.id not in self._fanout_tails:
            self.bus.publish(conv_topic(conv.id), MessageAppended(appended.message), origin)
            return self._ack(appended.message)
        # Its turn is taken now, in commit order: a later message settled in this same turn of the loop
        # queues behind it.
        previous = self._fanout_tails.get(conv.id)
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._fanout_tails[conv.id] = mine
        self._fanout_turns[(conv.id, appended.message.seq)] = (previous, mine)
        return None

    async def finish(
        self, principal: Principal, appended: Appended, *, note: bool = False, origin: str | None = None
    ) -> Frame:
        """The end of a send that changes more than the message list (inboxes, routing, claims), or that
        waits for such a send of its conversation to finish first. Called after `finish_simple`."""
        message = appended.message
        conv = appended.conversation
        previous, mine = self._fanout_turns.pop((conv.id, message.seq), (None, None))
        try:
            if previous is not None:
                await previous
            return await self._finish(principal, appended, note=note, origin=origin)
        finally:
            if mine is not None:
                mine.set_result(None)
                if self._fanout_tails.get(conv.id) is mine:
                    del self._fanout_tails[conv.id]

    async def _finish(
        self, principal: Principal, appended: Appended, *, note: bool = False, origin: str | None = None
    ) -> Frame:
        message = appended.message
        conv = appended.conversation
        if appended.created:
            self._remember(conv)
            await self.publish_conversation(conv)
        if appended.reopened is not None:
            self.bus.publish(conv_topic(conv.id), MessageAppended(appended.reopened))
            await self.publish_conversation(conv)
        self.bus.publish(conv_topic(conv.id), MessageAppended(message), origin)
        if appended.created and message.data and isinstance(message.data.get("topic"), dict):
            await self._topic_group(conv, str(message.data["topic"].get("id", "")))
        if conv.id in self.snoozed and message.author_kind is AuthorKind.VISITOR:
            # Its visitor wrote: the sweep's conditional write wakes it (once, whichever node sweeps too).
            self._spawn(self.wake_due())
        if mentions := mentioned(message):
            await self._tell_mentioned(message, mentions)
        bot_may_take = appended.created and self.bot_takes is not None and _bot_can_speak(message)
        if bot_may_take and self.bot_takes is not None and await self.bot_takes(conv):
            pass  # the bot answers first; routing comes with its handover
        elif appended.created or appended.reopened is not None:
            # A reopened conversation goes back to the agent who had it, if they can take it.
            had = (appended.reopened.data or {}).get("assignee") if appended.reopened is not None else None
            self._spawn(self.route(conv.site_id, returning_visitor=conv.visitor_id, newcomer=conv,
                                   last_agent=had))
        elif (principal.kind is PrincipalKind.AGENT and not note and conv.status == ConversationStatus.OPEN
              and conv.assignee_id is None):
            # The agent who answers a waiting conversation takes it: the visitor has their person, the
            # queue moves on, and reports credit the right agent.
            self._spawn(self._claim_on_reply(principal, conv.id))
        return self._ack(message)

    async def _tell_mentioned(self, note: Message, mentions: list[str]) -> None:
        """Each agent a note mentions hears of it on their own topic, on whichever node their consoles
        are (they may not follow the conversation)."""
        author = await self.agent(note.author_id)
        by = agent_author(author) if author is not None else {
            "kind": "agent", "id": note.author_id, "name": note.author_name, "avatar": None}
        event = Mentioned(note.conversation_id, note.seq, by, note.body[:MENTION_EXCERPT_CHARS])
        for agent_id in mentions:
            self.bus.publish(agent_topic(agent_id), event)

    async def _topic_group(self, conv: Conversation, topic_id: str) -> None:
        """The pre-chat topic that started a conversation routes it to its group, if it names one: stored
        before routing (or the bot) first sees the conversation."""
        site = await self.store.get_site(conv.site_id)
        topic = topic_of(settings_of(site), topic_id) if site is not None else None
        if topic is not None and topic.get("group"):
            await self.store.set_conversation_group(conv.id, topic["group"])

    async def _claim_on_reply(self, agent: Principal, cid: str) -> None:
        try:
            await self.assign(agent, cid, agent.id, claim=True)
        except (Conflict, NotFound):
            pass  # someone else took it, or it closed, in the meantime

    async def assign(
        self, actor: Principal, cid: str, agent_id: str, *, claim: bool = False, note: str | None = None
    ) -> Conversation:
        conv = await self.conversation_for(actor, cid, Action.HANDLE)
        if conv.status != ConversationStatus.OPEN:
            raise Conflict("the conversation is closed; reopen it first")
        target = await self.agent(agent_id)
        roles = await self.store.memberships(agent_id) if target else []
        if target is None or target.disabled or conv.site_id not in {m.site_id for m in roles}:
            raise NotFound("no such agent on this site")
        previous = conv.assignee_id
        if previous == agent_id:
            return conv
        updated = await self.store.assign(cid, agent_id, now_ms(), only_if_unassigned=claim)
        if updated is None:
            current = await self.store.get_conversation(cid)
            if current is not None and current.status == ConversationStatus.OPEN and current.assignee_id == agent_id:
                return current  # routing gave it to this very agent meanwhile: the claim holds
            raise Conflict("already assigned to another agent" if claim else "the conversation is closed")
        conv = updated
        self._agents.pop(agent_id, None)
        # An agent who takes a conversation the bot holds ends the bot's part (no bot message after).
        await self.store.release_bot(cid, "agent", now_ms())
        if note:
            await self.send(actor, cid, f"transfer-{now_ms()}-{agent_id[-8:]}", note, note=True)
        event = "transferred" if previous and not claim else "assigned"
        data: dict[str, Any] = {"agent": agent_author(target)}
        if event == "transferred":
            prev = await self.agent(previous) if previous else None
            data["from"] = agent_author(prev) if prev else None
        await self.event(conv, event, actor, data)
        await self.publish_conversation(conv)
        await self.publish_queue(conv.site_id)
        await self.load_changed(agent_id, previous)
        return conv


def _bot_can_speak(first: Message) -> bool:
    """Whether a new conversation began where the bot can speak: the widget, or a messaging app (its
    messages go out like an agent's, its buttons as numbered lines). Not by email: the support address's
    replies are an agent's, and a customer there would wait on a bot they never hear (docs/bot.md)."""
    return not (first.data and "email" in first.data)
