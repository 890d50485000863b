"""Snooze: an agent sets an open conversation aside until a time. It leaves the open queues (the
console lists it under Snoozed) until the time comes or its visitor writes, whichever is first, and is
then back where it was. Its assignee does not change: a snooze hides a conversation from the queues,
it does not hand it over. While snoozed it leaves its agent's load (what routing weighs against their
capacity): set aside, it is off their plate until it comes back.

It is not an event in the seq stream: events reach the visitor, who has no business knowing their
conversation was set aside, and an inbox needs only the conversation's state (`ConversationChanged`,
whose agents' summary carries `snoozed_until`).

Waking is the sweep's (`wake_due`, every PAPOTE_SNOOZE_CHECK_SECS on every node): the store ends each
snooze with one conditional UPDATE, so one node wakes a conversation however many sweep at once. A
visitor's message wakes its conversation at once on a node that knows it is snoozed (`snoozed`: those
snoozed here since the last sweep, and the sweep's list of the rest), so the append path reads nothing
more; a node that does not know yet finds the message at its next sweep.
"""

from __future__ import annotations

from papote.authz import Action, Principal
from papote.conversations.queue import Queue
from papote.errors import Conflict, ErrorCode, PapoteError
from papote.ids import now_ms
from papote.store import Conversation, ConversationChanges
from papote.types import ConversationStatus

#: The furthest a snooze may end: a year and a day ("until next year's sale" is a real use; a date
#: typed with the wrong year is not, and is refused rather than hidden for a decade).
MAX_SNOOZE_MS = 366 * 86_400_000


class Snoozes(Queue):
    async def snooze(self, actor: Principal, cid: str, until: int) -> Conversation:
        """Set an open conversation aside until `until` (ms since the epoch). Snoozing a snoozed one
        moves its end. A closed conversation is `conflict`; an end not in the coming year `bad_field`."""
        conv = await self.conversation_for(actor, cid, Action.HANDLE)
        if conv.status != ConversationStatus.OPEN:
            raise Conflict("only an open conversation can be snoozed")
        now = now_ms()
        if not now < until <= now + MAX_SNOOZE_MS:
            raise PapoteError("a snooze ends in the future, within a year", ErrorCode.BAD_FIELD)
        # The seq its visitor must write after to wake it: one committed since this read is after it,
        # and wakes the conversation at the next sweep (the safe side).
        conv = await self.store.update_conversation(
            cid, ConversationChanges(snoozed_until=until, snoozed_seq=conv.last_seq)
        )
        self.snoozed.add(cid)
        await self._publish_load(conv)
        return conv

    async def unsnooze(self, actor: Principal, cid: str) -> Conversation:
        """Wake a snoozed conversation now (one not snoozed is returned as it is)."""
        conv = await self.conversation_for(actor, cid, Action.HANDLE)
        if conv.snoozed_until is None:
            return conv
        conv = await self.store.update_conversation(cid, ConversationChanges(snoozed_until=None, snoozed_seq=None))
        self.snoozed.discard(cid)
        await self._publish_load(conv)
        return conv

    async def wake_due(self) -> int:
        """The sweep: wake the conversations whose snooze is over, on every node's inboxes; learn which
        are still snoozed. Returns how many this node woke."""
        before = set(self.snoozed)
        woken, still = await self.store.wake_snoozed(now_ms())
        # Those snoozed here while the store answered are not in its list yet.
        self.snoozed = (set(still) | (self.snoozed - before)) - {c.id for c in woken}
        for conv in woken:
            await self._publish_load(conv)
        return len(woken)

    async def _publish_load(self, conv: Conversation) -> None:
        """The conversation's new state to inboxes; its agent's load moved (a slot freed by a snooze
        may take the next in line)."""
        await self.publish_conversation(conv)
        if conv.assignee_id is not None:
            await self.load_changed(conv.assignee_id)
            if conv.snoozed_until is not None:
                self._spawn(self.route(conv.site_id))
