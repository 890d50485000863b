"""Gap repair without a broker or sockets: seq order, duplicates, holes read from a fake store."""

from __future__ import annotations

import asyncio

import pytest

from papote.bus import BusEvent
from papote.bus import repair as repair_module
from papote.bus.repair import GapRepair
from papote.events import AttachmentsAdded, MessageAppended, Typing
from papote.store import Message

CID = "c_1"
TOPIC = f"conv:{CID}"


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed read is tried again within milliseconds here, not a second."""
    monkeypatch.setattr(repair_module, "RETRY_SECS", 0.01)


def message(seq: int) -> Message:
    return Message(CID, seq, "text", "visitor", "v_1", "", f"m-{seq:08d}", f"body {seq}", None, None, seq)


class FakeHistory:
    def __init__(self, last: int) -> None:
        self.last = last
        self.reads = 0
        self.unreachable = 0  # reads that fail, as a store cut off fails them

    async def positions(self, conversation_ids: list[str]) -> dict[str, int]:
        await asyncio.sleep(0)
        if self.unreachable:
            self.unreachable -= 1
            raise ConnectionError("the store is unreachable")
        return {CID: self.last} if CID in conversation_ids else {}

    async def messages_after(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        self.reads += 1
        await asyncio.sleep(0)
        if self.unreachable:
            self.unreachable -= 1
            raise ConnectionError("the store is unreachable")
        return [message(s) for s in range(after_seq + 1, min(self.last, after_seq + limit) + 1)]


def live(seq: int) -> BusEvent:
    return BusEvent(MessageAppended(message(seq)), origin="n.1")


async def following(last: int) -> tuple[GapRepair, FakeHistory, list[BusEvent]]:
    out: list[BusEvent] = []
    repair = GapRepair(lambda topic, event: out.append(event))
    history = FakeHistory(last)
    repair.history = history
    task = repair.follow(CID)
    assert task is not None
    await task
    return repair, history, out


async def following_unread(last: int) -> tuple[GapRepair, FakeHistory, list[BusEvent]]:
    """`following`, with the store failing the first read of the conversation's position."""
    out: list[BusEvent] = []
    repair = GapRepair(lambda topic, event: out.append(event))
    history = FakeHistory(last)
    history.unreachable = 1
    repair.history = history
    task = repair.follow(CID)
    assert task is not None
    await task
    return repair, history, out


def seqs(out: list[BusEvent]) -> list[int]:
    return [e.event.message.seq for e in out if isinstance(e.event, MessageAppended)]


async def settle(repair: GapRepair) -> None:
    while repair._tasks:
        await asyncio.gather(*list(repair._tasks))


@pytest.mark.asyncio
async def test_in_order_messages_pass_and_duplicates_are_dropped() -> None:
    repair, history, out = await following(last=3)
    for seq in (4, 5, 5, 3, 6):
        repair.offer(TOPIC, CID, live(seq))
    assert seqs(out) == [4, 5, 6] and history.reads == 0 and repair.repairs == 0


@pytest.mark.asyncio
async def test_a_hole_is_read_from_the_store_before_what_follows() -> None:
    repair, history, out = await following(last=3)
    history.last = 7  # 4, 5 and 6 were committed on another node; their publications were lost
    repair.offer(TOPIC, CID, live(7))
    repair.offer(TOPIC, CID, BusEvent(Typing(CID, {"id": "a"}, True)))  # waits behind nothing
    repair.offer(TOPIC, CID, live(8))  # arrives during the repair: waits its turn
    history.last = 8
    await settle(repair)
    assert seqs(out) == [4, 5, 6, 7, 8]
    # The live copy of 7 is the one delivered (it names its sender), not the store's.
    assert next(e for e in out if isinstance(e.event, MessageAppended) and e.event.seq == 7).origin == "n.1"
    assert (repair.repairs, repair.repaired) == (1, 3)


@pytest.mark.asyncio
async def test_a_lost_last_message_is_found_by_the_check() -> None:
    repair, history, out = await following(last=2)
    history.last = 4  # nothing follows them to reveal the gap
    await repair.check()
    await settle(repair)
    assert seqs(out) == [3, 4] and repair.repairs == 1
    await repair.check()
    await settle(repair)
    assert seqs(out) == [3, 4] and repair.repairs == 1  # up to date: nothing read twice


@pytest.mark.asyncio
async def test_a_repair_the_store_refused_is_tried_again_and_done_once() -> None:
    """A repair that cannot read the store gives up on what it held (a hole cannot be filled without
    the store) and tries again soon, without waiting for the periodic check: the retry reads the hole
    and what followed it, each message once, and a late copy from the broker is dropped."""
    repair, history, out = await following(last=3)
    history.last = 6  # 4 and 5 were committed elsewhere, their publications lost
    history.unreachable = 1
    repair.offer(TOPIC, CID, live(6))
    await settle(repair)  # the failed read, then its retry
    assert seqs(out) == [4, 5, 6]
    repair.offer(TOPIC, CID, live(6))  # the broker's late copy
    repair.offer(TOPIC, CID, live(7))
    await settle(repair)
    assert seqs(out) == [4, 5, 6, 7]


@pytest.mark.asyncio
async def test_retries_wait_longer_while_the_store_stays_unreachable() -> None:
    repair, history, out = await following(last=3)
    history.last = 5
    history.unreachable = 4  # the repair's read, then three retries' position reads, fail
    started = asyncio.get_running_loop().time()
    repair.offer(TOPIC, CID, live(5))  # 4's publication was lost: the repair's read fails
    await settle(repair)
    waited = asyncio.get_running_loop().time() - started
    assert seqs(out) == [4, 5]
    # 0.01 + 0.02 + 0.04 + 0.08 s between the tries: each waited twice as long as the one before.
    assert waited >= 0.15
    assert repair._followed[CID].retry_secs == 0.0  # back to the first delay once a read succeeds


@pytest.mark.asyncio
async def test_a_baseline_the_store_refused_is_read_again_not_taken_as_zero() -> None:
    """The store fails the first read of a conversation's position: nothing this node delivers later
    replays the conversation from its start, and gaps after the next read are repaired as usual."""
    repair, history, out = await following_unread(last=5)
    await repair.check()  # the store is back: the baseline is read again, 1-5 are not replayed
    await settle(repair)
    assert seqs(out) == [] and history.reads == 0
    history.last = 7  # 6 lost on the way
    repair.offer(TOPIC, CID, live(7))
    await settle(repair)
    assert seqs(out) == [6, 7]


@pytest.mark.asyncio
async def test_a_publication_after_a_refused_baseline_waits_for_it_to_be_read_again() -> None:
    repair, history, out = await following_unread(last=5)
    history.last = 6
    repair.offer(TOPIC, CID, live(6))
    await settle(repair)
    assert seqs(out) == [6] and history.reads == 0
    repair.offer(TOPIC, CID, live(6))  # a late copy
    repair.offer(TOPIC, CID, live(7))
    assert seqs(out) == [6, 7]


@pytest.mark.asyncio
async def test_what_arrives_before_the_baseline_is_read_still_goes_out() -> None:
    out: list[BusEvent] = []
    repair = GapRepair(lambda topic, event: out.append(event))
    repair.history = FakeHistory(last=5)  # 5 was committed, and published, just after the subscription
    task = repair.follow(CID)
    repair.offer(TOPIC, CID, live(5))
    assert task is not None
    await task
    await settle(repair)
    assert seqs(out) == [5]


@pytest.mark.asyncio
async def test_unfollowed_conversations_pass_straight_through() -> None:
    out: list[BusEvent] = []
    repair = GapRepair(lambda topic, event: out.append(event))
    repair.offer(TOPIC, CID, live(9))
    assert seqs(out) == [9]


# -- files that reach a message after it was stored ----------------------------------------------------

PHOTO = {"id": "at_1", "kind": "image", "content_type": "image/jpeg", "size": 10, "name": "photo.jpg",
         "width": 1, "height": 1, "thumbnail": True}


class FilesHistory(FakeHistory):
    """Message 4 is a customer's photo on a messaging channel; `kept` says whether its file is stored."""

    def __init__(self, last: int) -> None:
        super().__init__(last)
        self.kept = False

    async def messages_after(self, conversation_id: str, after_seq: int, limit: int) -> list[Message]:
        return [with_photo(m, self.kept) if m.seq == 4 else m
                for m in await super().messages_after(conversation_id, after_seq, limit)]


def with_photo(m: Message, kept: bool) -> Message:
    m.data = {"channel": {"kind": "whatsapp", "media": ["image"]}}
    m.attachments = [dict(PHOTO)] if kept else []
    return m


async def following_files() -> tuple[GapRepair, FilesHistory, list[BusEvent]]:
    out: list[BusEvent] = []
    repair = GapRepair(lambda topic, event: out.append(event))
    history = FilesHistory(last=3)
    repair.history = history
    task = repair.follow(CID)
    assert task is not None
    await task
    history.last = 4
    repair.offer(TOPIC, CID, BusEvent(MessageAppended(with_photo(message(4), kept=False)), origin="n.1"))
    return repair, history, out


def files_out(out: list[BusEvent]) -> list[tuple[int, list[str]]]:
    return [(e.event.seq, [a["id"] for a in e.event.attachments]) for e in out
            if isinstance(e.event, AttachmentsAdded)]


@pytest.mark.asyncio
async def test_files_whose_publication_was_lost_are_read_from_the_store_at_the_next_check() -> None:
    repair, history, out = await following_files()
    await repair.check()
    await settle(repair)
    assert files_out(out) == []  # not fetched yet: nothing to hand out, still watched
    history.kept = True  # fetched on another node; its AttachmentsAdded was lost with the broker
    await repair.check()
    await settle(repair)
    assert files_out(out) == [(4, ["at_1"])]
    reads = history.reads
    await repair.check()
    await settle(repair)
    assert files_out(out) == [(4, ["at_1"])] and history.reads == reads  # complete: no longer watched


@pytest.mark.asyncio
async def test_files_that_arrive_live_are_not_read_again() -> None:
    repair, history, out = await following_files()
    repair.offer(TOPIC, CID, BusEvent(AttachmentsAdded(CID, 4, [dict(PHOTO)]), origin="n.1"))
    reads = history.reads
    await repair.check()
    await settle(repair)
    assert files_out(out) == [(4, ["at_1"])] and history.reads == reads


@pytest.mark.asyncio
async def test_a_file_never_kept_is_watched_for_a_bounded_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(repair_module, "FILES_WATCH_SECS", -1.0)  # already past its watch
    repair, history, out = await following_files()
    reads = history.reads
    history.kept = True
    await repair.check()
    await settle(repair)
    assert files_out(out) == [] and history.reads == reads


@pytest.mark.asyncio
async def test_a_retry_waiting_for_its_turn_does_not_count_as_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    """`busy` is what tests and /healthz wait on: a read in flight, not a retry asleep."""
    monkeypatch.setattr(repair_module, "RETRY_SECS", 60.0)
    repair, history, out = await following(last=3)
    history.last = 5
    history.unreachable = 1
    repair.offer(TOPIC, CID, live(5))
    await until_quiet(repair)
    assert not repair.busy and repair._followed[CID].retrying
    await repair.stop()


async def until_quiet(repair: GapRepair) -> None:
    """Wait for every task of `repair` but its retries asleep (the fake store answers within a few
    turns of the loop: a thousand is a generous bound)."""
    for _ in range(1000):
        if not repair.busy:
            return
        await asyncio.sleep(0)
    raise AssertionError("the repair never went quiet")
