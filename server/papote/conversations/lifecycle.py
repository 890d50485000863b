"""A conversation's life after it starts: closing, reopening, labels, the visitor's rating (one per
closing) and contact email. Each is a store write, an event in the seq stream, and a publication."""

from __future__ import annotations

from papote.authz import Action, Principal
from papote.conversations.queue import Queue
from papote.errors import Conflict
from papote.ids import now_ms
from papote.store import Conversation, ConversationChanges, VisitorChanges
from papote.types import ConversationStatus

#: Messages read back to find whether a closed conversation was rated since its latest closing.
RATING_LOOKBACK = 50


class Lifecycle(Queue):
    async def close(self, actor: Principal, cid: str) -> Conversation:
        conv = await self.conversation_for(actor, cid, Action.HANDLE)
        if conv.status == ConversationStatus.CLOSED:
            return conv
        # A closing ends a snooze: what is closed waits for nothing.
        conv = await self.store.update_conversation(
            cid, ConversationChanges(status=ConversationStatus.CLOSED, closed_at=now_ms(), snoozed_until=None,
                                     snoozed_seq=None)
        )
        self.snoozed.discard(cid)
        deliveries = await self.closing_deliveries(conv) if self.closing_deliveries is not None else []
        await self.event(conv, "closed", actor, deliveries=deliveries)
        await self.publish_conversation(conv)
        await self.load_changed(conv.assignee_id)
        self._spawn(self.route(conv.site_id))
        if self.on_closed is not None:
            await self.on_closed(conv)
        return conv

    async def reopen(self, actor: Principal, cid: str) -> Conversation:
        conv = await self.conversation_for(actor, cid, Action.HANDLE)
        if conv.status == ConversationStatus.OPEN:
            return conv
        conv = await self.store.update_conversation(
            cid, ConversationChanges(status=ConversationStatus.OPEN, closed_at=None)
        )
        await self.event(conv, "reopened", actor)
        await self.publish_conversation(conv)
        if conv.assignee_id is None:
            self._spawn(self.route(conv.site_id))
        return conv

    async def label(self, actor: Principal, cid: str, add: list[str], remove: list[str]) -> Conversation:
        conv = await self.conversation_for(actor, cid, Action.HANDLE)
        labels = [lb for lb in conv.labels if lb not in remove]
        labels += [lb for lb in add if lb not in labels]
        if len(labels) > 20:
            raise Conflict("a conversation has at most 20 labels")
        conv = await self.store.update_conversation(cid, ConversationChanges(labels=labels))
        await self.publish_conversation(conv)
        return conv

    async def rate(self, visitor: Principal, cid: str, rating: int, comment: str) -> Conversation:
        """The visitor's rating of a closed conversation: one per closing (reopened and closed again,
        it may be rated again). An open conversation, or one already rated since it closed, is
        `conflict`."""
        conv = await self.conversation_for(visitor, cid, Action.RATE)
        if conv.status != ConversationStatus.CLOSED:
            raise Conflict("only a closed conversation can be rated")
        if cid in self._rating or await self._rated_since_closing(conv):
            raise Conflict("this conversation was already rated since it closed")
        self._rating.add(cid)  # two tabs rating at once: the second is refused, not stored
        try:
            conv = await self.store.update_conversation(
                cid, ConversationChanges(rating=rating, rating_comment=comment)
            )
            await self.event(conv, "rated", visitor, {"rating": rating, "comment": comment})
        finally:
            self._rating.discard(cid)
        await self.publish_conversation(conv)
        return conv

    async def _rated_since_closing(self, conv: Conversation) -> bool:
        if conv.rating is None:
            return False  # never rated: no need to read the events
        # Once closed, only events follow until it reopens: the latest closing is among the last few.
        recent = await self.store.messages_before(conv.id, None, RATING_LOOKBACK, include_notes=False)
        for message in reversed(recent):
            if message.event == "rated":
                return True
            if message.event == "closed":
                return False
        return True  # a rating and no closing in sight: refuse rather than rate twice

    async def contact(
        self, visitor: Principal, email: str, cid: str | None, *, update_visitor: bool = True
    ) -> None:
        if update_visitor:
            await self.store.update_visitor(visitor.id, VisitorChanges(email=email))
        if cid is not None:
            conv = await self.conversation_for(visitor, cid, Action.WRITE)
            conv = await self.store.update_conversation(cid, ConversationChanges(contact_email=email))
            await self.event(conv, "contact", visitor, {"email": email})
            await self.publish_conversation(conv)
