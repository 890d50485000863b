"""Reading conversations: summaries as a reader sees them, resume's history, pages of older messages,
read positions and typing. Nothing here changes a conversation's state."""

from __future__ import annotations

from collections.abc import Iterable

from papote.authz import Action, Principal, authorize
from papote.bus.topics import conv_topic
from papote.conversations.queue import Queue
from papote.errors import NotFound
from papote.events import ReadMarked, Typing
from papote.frames import message_dict
from papote.store import Conversation, ConversationQuery, Message
from papote.types import AuthorKind, Frame, PrincipalKind

#: The page a client gets when it cannot be caught up message by message.
PAGE = 50

#: Messages read at a time for a transcript.
TRANSCRIPT_BATCH = 500


class Timeline(Queue):
    async def summaries(
        self, convs: list[Conversation], reader: Principal
    ) -> list[Frame]:
        """Conversation summaries as `reader` sees them (read positions, unread, queue, last message)."""
        if not convs:
            return []
        ids = [c.id for c in convs]
        reads = await self.store.reads(ids)
        unread = await self.store.count_unread(ids, reader.author_kind, reader.id)
        is_visitor = reader.kind is PrincipalKind.VISITOR
        visitors = {} if is_visitor else await self.store.get_visitors([c.visitor_id for c in convs])
        queue = await self.queue_positions(convs)
        latest = await self.store.last_messages(ids, include_notes=not is_visitor)
        out = []
        for conv in convs:
            frame = await self._summary(conv, "visitor" if is_visitor else "agent",
                                        visitors.get(conv.visitor_id))
            marks = reads.get(conv.id, {})
            mine = marks.get(reader.id, ("", 0))[1]
            peer_kind = "agent" if is_visitor else "visitor"
            frame["read_seq"] = mine
            frame["peer_read_seq"] = max((s for k, s in marks.values() if k == peer_kind), default=0)
            frame["unread"] = unread.get(conv.id, 0)
            frame["queue"] = queue.get(conv.id)
            last = latest.get(conv.id)
            frame["last_message"] = message_dict(last) if last else None
            out.append(frame)
        return out

    async def readable(self, principal: Principal, conversation_ids: Iterable[str]) -> list[str]:
        """Those of `conversation_ids` that exist and `principal` may read (a resume follows them)."""
        allowed: list[str] = []
        for cid in conversation_ids:
            try:
                ref = await self.ref(cid)
                authorize(principal, Action.READ, ref.site_id, ref)
            except NotFound:
                continue
            allowed.append(cid)
        return allowed

    async def history(
        self, principal: Principal, epoch: str, positions: dict[str, int]
    ) -> list[Frame]:
        """The `history` frames answering `resume`: the gap of each conversation, read from the store."""
        frames: list[Frame] = []
        include_notes = principal.kind is not PrincipalKind.VISITOR
        same_epoch = epoch == self.store.epoch
        for cid, last_seq in positions.items():
            try:
                ref = await self.ref(cid)
                authorize(principal, Action.READ, ref.site_id, ref)
            except NotFound:
                frames.append({"t": "error", "code": "not_found", "message": "no such conversation",
                               "conversation": cid, "frame": "resume"})
                continue
            if same_epoch:
                msgs = await self.store.messages_after(
                    cid, last_seq, self.config.resume_limit + 1, include_notes=include_notes
                )
                if len(msgs) <= self.config.resume_limit:
                    conv = await self.store.get_conversation(cid)
                    frames.append({"t": "history", "conversation": cid, "recovered": True,
                                   "messages": [message_dict(m) for m in msgs], "more": False,
                                   "last_seq": conv.last_seq if conv else last_seq})
                    continue
            frames.append(await self.page(principal, cid, None, PAGE, recovered=False))
        return frames

    async def page(
        self, principal: Principal, cid: str, before_seq: int | None, limit: int, *, recovered: bool = True
    ) -> Frame:
        ref = await self.ref(cid)
        authorize(principal, Action.READ, ref.site_id, ref)
        include_notes = principal.kind is not PrincipalKind.VISITOR
        msgs = await self.store.messages_before(cid, before_seq, limit + 1, include_notes=include_notes)
        more = len(msgs) > limit
        msgs = msgs[-limit:]
        conv = await self.store.get_conversation(cid)
        return {"t": "history", "conversation": cid, "recovered": recovered,
                "messages": [message_dict(m) for m in msgs], "more": more,
                "last_seq": conv.last_seq if conv else 0}

    async def find(self, query: ConversationQuery) -> list[Conversation]:
        """Conversations matching `query`, whose `site_ids` the caller limits to those it may read."""
        return await self.store.list_conversations(query)

    async def messages_after(self, principal: Principal, cid: str, after_seq: int, limit: int) -> list[Message]:
        """Up to `limit` messages after `after_seq`, as `principal` may see them (notes for agents)."""
        await self.conversation_for(principal, cid, Action.READ)
        return await self.store.messages_after(
            cid, after_seq, limit, include_notes=principal.kind is not PrincipalKind.VISITOR)

    async def transcript(self, principal: Principal, cid: str) -> tuple[Conversation, list[Message]]:
        """The whole conversation for a transcript: every message and event, notes left out."""
        conv = await self.conversation_for(principal, cid, Action.READ)
        messages: list[Message] = []
        while True:
            batch = await self.store.messages_after(conv.id, messages[-1].seq if messages else 0,
                                                    TRANSCRIPT_BATCH, include_notes=False)
            if not batch:
                return conv, messages
            messages.extend(batch)

    async def mark_read(self, principal: Principal, cid: str, seq: int, origin: str | None) -> int:
        ref = await self.ref(cid)
        authorize(principal, Action.READ, ref.site_id, ref)
        kind = AuthorKind.VISITOR if principal.kind is PrincipalKind.VISITOR else AuthorKind.AGENT
        stored = await self.store.set_read(cid, principal.id, kind, seq)
        self.bus.publish(conv_topic(cid), ReadMarked(cid, principal.author(), stored), origin)
        return stored

    async def typing(self, principal: Principal, cid: str, on: bool, origin: str | None) -> None:
        ref = await self.ref(cid)
        authorize(principal, Action.READ, ref.site_id, ref)
        self.bus.publish(conv_topic(cid), Typing(cid, principal.author(), on), origin)
