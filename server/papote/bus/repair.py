"""Gap repair: what makes "nothing lost" true when live fan-out between nodes is best effort.

A broker loses publications (a subscriber reconnecting, a broker restart, a slow subscriber cut off:
measured for Redis pub/sub and NATS core in research §D). Seq gaps are normal for a client (notes are
hidden from visitors), so no client can notice; the node must. For every conversation that has
listeners on this node, `GapRepair` keeps the last seq it delivered:

* a message at `delivered + 1` goes out at once; at or below `delivered` it is a duplicate and dropped;
* past `delivered + 1`, the missing range is read from the store and delivered first, in seq order,
  and whatever arrives meanwhile waits behind it. The store assigns seqs under the conversation's lock,
  so once seq N is committed every seq below it is too: the read never finds a hole;
* the last message of a burst has no successor to reveal its loss, so `check` compares each followed
  conversation's position in the store with `delivered` — every `check_secs`, and at once after every
  broker reconnect — and repairs the difference;
* a read the store fails (the store restarting, a connection cut) is tried again a second later, then
  less and less often while it keeps failing (`RETRY_SECS`), not only at the next periodic check.

A node that starts following a conversation reads its position first (the baseline): a publication
that arrives before that read finishes waits for it, then goes out unless the baseline already had it.
A baseline the store fails to give is read again (soon after, or at the next publication), never guessed.
Typing, read marks and the like pass straight through: they are best effort and carry no seq.

Files that reach a message after it was stored (a customer's photo on a messaging channel, fetched from
the provider once the webhook was answered) carry no seq either, but they are not best effort: an
`AttachmentsAdded` lost on the way would leave the agents on this node looking at a message without its
photo until they reload. So a message delivered while its files were still to come is watched: `check`
reads it again from the store, and hands its files out if they arrived without their publication.

`repairs` counts the repairs that found messages missing, `repaired` the messages they delivered
(/healthz shows both under `bus`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from papote.bus import BusEvent
from papote.bus.topics import conv_topic
from papote.events import AttachmentsAdded, MessageAppended
from papote.store import Message
from papote.store.rules import files_to_come

log = logging.getLogger("papote.bus")

#: Messages read from the store per repair query; a longer gap takes several (each delivered in order).
REPAIR_BATCH = 500
#: A baseline read or a repair the store failed is tried again this soon, rather than at the next
#: periodic check (`PAPOTE_BUS_CHECK_SECS`, 30 s by default): the live messages it held wait for it.
#: While the store stays unreachable each try waits twice as long as the one before, up to
#: `RETRY_MAX_SECS`, so a node following many conversations does not hammer a store that is down.
RETRY_SECS = 1.0
RETRY_MAX_SECS = 30.0
#: How long a message delivered with files still to come is watched for them: a fetch is retried for
#: ~4 minutes at most (channels/messaging/media.py: 8 attempts from 2 s apart, doubling), and a file
#: given up leaves a note instead, which is a message of its own.
FILES_WATCH_SECS = 600.0


class History(Protocol):
    """What the repair reads from the store (the node adapts its `Store`)."""

    async def positions(self, conversation_ids: list[str]) -> dict[str, int]:
        """The last committed seq of each conversation (missing ones left out)."""

    async def messages_after(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        """Every message (notes included) after `after_seq`, in seq order."""


@dataclass(slots=True)
class _Followed:
    #: The last seq handed to this node's listeners; None until the baseline is read.
    delivered: int | None = None
    #: Publications waiting for a baseline read or a repair in progress.
    pending: list[BusEvent] = field(default_factory=list)
    busy: bool = True
    #: Messages delivered with files still to come: seq → (watched until, files handed out so far,
    #: files it names).
    files: dict[int, tuple[float, int, int]] = field(default_factory=dict)
    #: The wait before the next try after a failed read (0: the last read succeeded), and whether
    #: that try is scheduled.
    retry_secs: float = 0.0
    retrying: bool = False


class GapRepair:
    def __init__(self, deliver: Callable[[str, BusEvent], None]) -> None:
        self._deliver = deliver
        self.history: History | None = None
        self._followed: dict[str, _Followed] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._sleeping = 0  # retries waiting for their turn, among `_tasks`
        self.repairs = 0
        self.repaired = 0

    # -- following -----------------------------------------------------------------------------------
    def follow(self, conversation_id: str) -> asyncio.Task[None] | None:
        """This node starts following a conversation: read its baseline. Returns the read's task."""
        if conversation_id in self._followed or self.history is None:
            return None
        state = self._followed[conversation_id] = _Followed()
        return self._spawn(self._settle(conversation_id, state, baseline=True))

    def unfollow(self, conversation_id: str) -> None:
        self._followed.pop(conversation_id, None)

    def following(self) -> list[str]:
        return list(self._followed)

    # -- delivery ------------------------------------------------------------------------------------
    def offer(self, topic: str, conversation_id: str, bus_event: BusEvent) -> None:
        """A publication for `conv:<id>`, local or from the broker: deliver it in seq order."""
        state = self._followed.get(conversation_id)
        event = bus_event.event
        if state is None:
            self._deliver(topic, bus_event)
            return
        if type(event) is not MessageAppended:
            self._hand(topic, state, bus_event)
            return
        if state.busy:
            state.pending.append(bus_event)
            return
        if state.delivered is None:  # the baseline read failed: this publication waits for another
            state.busy = True
            state.pending.append(bus_event)
            self._spawn(self._settle(conversation_id, state, baseline=True))
            return
        seq = event.message.seq
        if seq <= state.delivered:
            return  # a duplicate: a repair or the baseline had it
        if seq == state.delivered + 1:
            state.delivered = seq
            self._hand(topic, state, bus_event)
            return
        state.busy = True
        state.pending.append(bus_event)
        self._spawn(self._settle(conversation_id, state))

    async def check(self, conversation_ids: Iterable[str] | None = None) -> None:
        """Compare positions in the store with what was delivered; repair what is behind."""
        if self.history is None:
            return
        ids = list(self._followed) if conversation_ids is None else [
            c for c in conversation_ids if c in self._followed]
        if not ids:
            return
        for cid in ids:
            state = self._followed.get(cid)
            if state is not None and not state.busy and state.delivered is None:  # its baseline read failed
                state.busy = True
                self._spawn(self._settle(cid, state, baseline=True))
        positions = await self.history.positions(ids)
        for cid, last in positions.items():
            state = self._followed.get(cid)
            if state is None or state.busy or state.delivered is None or last <= state.delivered:
                continue
            state.busy = True
            self._spawn(self._settle(cid, state, upto=last))
        for cid in ids:
            state = self._followed.get(cid)
            if state is not None and state.files:
                self._spawn(self._recheck_files(cid, state))

    # -- the repair itself ---------------------------------------------------------------------------
    async def _settle(self, cid: str, state: _Followed, *, baseline: bool = False, upto: int = 0) -> None:
        """Bring `state` up to date: the baseline or the store's missing range, then what waited."""
        assert self.history is not None
        topic = conv_topic(cid)
        try:
            if baseline:
                found = (await self.history.positions([cid])).get(cid, 0)
                waiting = [e.event.message.seq for e in state.pending
                           if type(e.event) is MessageAppended]
                # What arrived since the subscription goes out even if the baseline counts it.
                state.delivered = min([found, *[s - 1 for s in waiting]])
            while self._followed.get(cid) is state:
                assert state.delivered is not None
                before = state.delivered
                held = {e.event.message.seq: e for e in state.pending
                        if type(e.event) is MessageAppended}
                others = [e for e in state.pending if type(e.event) is not MessageAppended]
                state.pending = []
                target = max([upto, *held])
                upto = 0
                if target > state.delivered + 1 or (target == state.delivered + 1 and target not in held):
                    await self._read_missing(cid, topic, state, target, held)
                for seq in sorted(held):
                    if seq == state.delivered + 1:
                        state.delivered = seq
                        self._hand(topic, state, held[seq])
                    elif seq > state.delivered:
                        state.pending.append(held[seq])  # still a gap: the next round reads it
                for event in others:
                    self._hand(topic, state, event)
                if not state.pending:
                    break
                if state.delivered == before:
                    # The store does not have what was published (it cannot happen with a store that
                    # commits seqs in order): deliver as is rather than loop.
                    for event in state.pending:
                        state.delivered = max(state.delivered, event.event.message.seq)  # type: ignore[union-attr]
                        self._deliver(topic, event)
                    state.pending = []
                    break
        except Exception:
            # The store is unreachable: what waited goes out as it is, and a hole is read on the retry.
            # The first failure in a row is logged with its cause; the retries that fail again, briefly.
            log.warning("gap repair of %s failed", cid, exc_info=state.retry_secs == 0)
            for event in state.pending:
                self._deliver(topic, event)
            state.pending = []
            # A failed baseline leaves `delivered` unknown, and the retry, the next check or publication
            # reads it again. Taken as 0, it would have the next check replay the whole conversation here.
            self._retry_later(cid, state)
        else:
            state.retry_secs = 0.0
        finally:
            state.busy = False

    def _retry_later(self, cid: str, state: _Followed) -> None:
        """A read for `cid` failed: check it again after `RETRY_SECS`, doubling while it keeps failing."""
        if state.retrying or self._followed.get(cid) is not state:
            return
        state.retry_secs = min(RETRY_MAX_SECS, state.retry_secs * 2 or RETRY_SECS)
        state.retrying = True
        self._spawn(self._retry(cid, state))

    async def _retry(self, cid: str, state: _Followed) -> None:
        self._sleeping += 1
        try:
            await asyncio.sleep(state.retry_secs)
        finally:
            self._sleeping -= 1
        state.retrying = False
        try:
            await self.check([cid])
        except Exception:  # the position read failed: the store is still unreachable
            log.warning("gap repair: %s still cannot be read", cid)
            self._retry_later(cid, state)
            return
        if not state.retrying:  # the store answered (and the repair it started has not failed yet)
            state.retry_secs = 0.0

    async def _read_missing(
        self, cid: str, topic: str, state: _Followed, target: int, held: dict[int, BusEvent]
    ) -> None:
        assert self.history is not None and state.delivered is not None
        found = 0
        while state.delivered < target:
            batch = await self.history.messages_after(cid, state.delivered, min(REPAIR_BATCH,
                                                                                  target - state.delivered))
            if not batch:
                break
            for message in batch:
                if message.seq <= state.delivered:
                    continue
                live = held.pop(message.seq, None)
                if live is None:
                    found += 1
                state.delivered = message.seq
                self._hand(topic, state, live if live is not None else BusEvent(MessageAppended(message)))
        if found:
            self.repairs += 1
            self.repaired += found
            log.info("gap repair: %d message(s) of %s read from the store", found, cid)

    # -- files that come after their message -------------------------------------------------------
    def _hand(self, topic: str, state: _Followed, bus_event: BusEvent) -> None:
        """Deliver a publication of a followed conversation, keeping its watched files up to date: a
        message with files still to come is watched, an `AttachmentsAdded` counts what went out."""
        event = bus_event.event
        if type(event) is MessageAppended:
            missing = files_to_come(event.message)
            if missing:
                has = len(event.message.attachments)
                state.files[event.message.seq] = (time.monotonic() + FILES_WATCH_SECS, has, has + missing)
        elif type(event) is AttachmentsAdded and event.seq in state.files:
            until, handed, named = state.files[event.seq]
            if len(event.attachments) >= named:
                del state.files[event.seq]  # all there: nothing more to watch
            else:
                state.files[event.seq] = (until, max(handed, len(event.attachments)), named)
        self._deliver(topic, bus_event)

    async def _recheck_files(self, cid: str, state: _Followed) -> None:
        """Read again the watched messages of `cid`; hand out files that came without their publication."""
        assert self.history is not None
        now = time.monotonic()
        try:
            for seq, (until, _, _) in sorted(state.files.items()):
                if until < now:
                    state.files.pop(seq, None)
                    continue
                found = await self.history.messages_after(cid, seq - 1, 1)
                message = found[0] if found and found[0].seq == seq else None
                if message is None:
                    state.files.pop(seq, None)  # erased meanwhile
                    continue
                current = state.files.get(seq)
                if current is None:
                    continue  # unfollowed, or seen complete meanwhile
                if len(message.attachments) > current[1]:
                    log.info("gap repair: the files of %s:%d read from the store", cid, seq)
                    self._hand(conv_topic(cid), state, BusEvent(AttachmentsAdded(cid, seq, list(message.attachments))))
        except Exception:  # the store is unreachable: the next check reads again
            log.warning("gap repair: the files of %s could not be read", cid, exc_info=True)

    @property
    def busy(self) -> bool:
        """A baseline read, store check or repair is still running (a retry waiting for its turn is not)."""
        return len(self._tasks) > self._sleeping

    def _spawn(self, coro: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
