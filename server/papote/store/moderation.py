"""What the store keeps for moderation and NPS: blocked visitors, messages held for review, agents'
saved inbox views, and NPS surveys with their one answer.

Held messages live outside the seq stream: a held message has no seq until an agent releases it, and
then it is appended like any send, under its original `client_msg_id` (so a release retried after a
crash stores it once). NPS: `offer_nps` creates a survey only when the visitor had none in the window,
atomically, and `answer_nps` keeps the first answer of a survey (a second one changes nothing).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from papote.ids import new_id, now_ms
from papote.store.outbox import Delivery
from papote.types import Millis

#: Keys of a held message's `data` under which it keeps what its append would have carried, for its
#: release to store it as it would have been stored: the outbox rows written with it (a messaging
#: channel's fetches of the customer's files, channels/messaging/media.py), and the id of the
#: conversation a customer's first message opens (`NewMessage.new_conversation_id`: the one their next
#: messages join). Never shown: the held list does not return `data`, and the released message's `data`
#: goes without them.
HELD_JOBS = "held_jobs"
HELD_OPENS = "held_opens"


@dataclass(slots=True)
class Block:
    site_id: str
    visitor_id: str
    blocked_by: str
    reason: str
    created_at: Millis


@dataclass(slots=True)
class HeldMessage:
    id: str
    site_id: str
    #: None: the message would have started a conversation (its release starts one).
    conversation_id: str | None
    visitor_id: str
    author_name: str
    client_msg_id: str
    body: str
    data: dict[str, Any] | None
    #: Why the filter held it: codes of papote/moderation_rules.py (`words`, `links`, `rate`).
    reasons: list[str]
    created_at: Millis


def keep_for_release(data: dict[str, Any] | None, jobs: list[Delivery],
                     opens: str | None = None) -> dict[str, Any] | None:
    """`data` of a message about to be held, with the outbox rows and the conversation id its append
    carried (neither: unchanged)."""
    if data and (HELD_JOBS in data or HELD_OPENS in data):
        # Only what the server itself passes here is kept: never keys a message's data came with.
        data = {k: v for k, v in data.items() if k not in (HELD_JOBS, HELD_OPENS)} or None
    if not jobs and opens is None:
        return data
    kept = dict(data or {})
    if jobs:
        kept[HELD_JOBS] = [{"site_id": j.site_id, "visitor_id": j.visitor_id, "channel": j.channel,
                            "kind": j.kind, "target": j.target, "payload": j.payload,
                            "account_id": j.account_id} for j in jobs]
    if opens is not None:
        kept[HELD_OPENS] = opens
    return kept


def take_for_release(data: dict[str, Any] | None) -> tuple[dict[str, Any] | None, list[Delivery], str | None]:
    """A held message's `data` without what it kept, the outbox rows (due now, with fresh ids: a release
    retried after a crash finds its message stored, and the store writes them only with a new one) and
    the conversation id it opens."""
    if not data or (HELD_JOBS not in data and HELD_OPENS not in data):
        return data, [], None
    rest = {k: v for k, v in data.items() if k not in (HELD_JOBS, HELD_OPENS)}
    now = now_ms()
    jobs = [Delivery(new_id("d"), str(j["site_id"]), None, str(j["visitor_id"]), str(j["channel"]), str(j["kind"]),
                     str(j["target"]), dict(j["payload"]), next_attempt_at=now, created_at=now,
                     account_id=j.get("account_id"))
            for j in data.get(HELD_JOBS) or [] if isinstance(j, dict)]
    opens = data.get(HELD_OPENS)
    return rest or None, jobs, opens if isinstance(opens, str) else None


@dataclass(slots=True)
class SavedView:
    id: str
    site_id: str
    agent_id: str
    name: str
    labels: list[str] = field(default_factory=list)
    #: "open", "closed" or None (any).
    status: str | None = None
    created_at: Millis = 0


@dataclass(slots=True)
class NpsSurvey:
    id: str
    site_id: str
    conversation_id: str
    visitor_id: str
    created_at: Millis
    score: int | None = None
    comment: str = ""
    answered_at: Millis | None = None
    #: How the answer came: "widget" or "email" ("" while unanswered).
    channel: str = ""


class ModerationStore(abc.ABC):
    # -- blocks --------------------------------------------------------------------------------------
    @abc.abstractmethod
    async def block_visitor(self, block: Block) -> Block:
        """Block the visitor on the site; blocking twice keeps the first block (returned)."""

    @abc.abstractmethod
    async def unblock_visitor(self, site_id: str, visitor_id: str) -> bool:
        """False when the visitor was not blocked."""

    @abc.abstractmethod
    async def blocked_visitors(self, site_id: str) -> list[Block]:
        """Every block of a site, most recent first."""

    # -- held messages -------------------------------------------------------------------------------
    @abc.abstractmethod
    async def hold_message(self, held: HeldMessage) -> HeldMessage:
        """Keep a message for review; the same (visitor, client_msg_id) held again returns the first."""

    @abc.abstractmethod
    async def held_messages(self, site_id: str, limit: int) -> list[HeldMessage]:
        """The site's held messages, oldest first."""

    @abc.abstractmethod
    async def get_held(self, held_id: str) -> HeldMessage | None: ...

    @abc.abstractmethod
    async def delete_held(self, held_id: str) -> bool:
        """False when it was already gone (released or deleted by someone else)."""

    # -- saved views ---------------------------------------------------------------------------------
    @abc.abstractmethod
    async def save_view(self, view: SavedView) -> SavedView:
        """Create, or replace the filter of the agent's view of the same name on the site."""

    @abc.abstractmethod
    async def saved_views(self, site_id: str, agent_id: str) -> list[SavedView]:
        """An agent's views of a site, by name."""

    @abc.abstractmethod
    async def delete_view(self, site_id: str, agent_id: str, view_id: str) -> bool: ...

    # -- NPS -----------------------------------------------------------------------------------------
    @abc.abstractmethod
    async def offer_nps(self, survey: NpsSurvey, since: Millis) -> NpsSurvey | None:
        """Store `survey` unless its visitor was offered one at or after `since` (on this site); None
        then. Two closings racing offer one survey at most on PostgreSQL too (the visitor's row is
        locked while checking)."""

    @abc.abstractmethod
    async def answer_nps(self, survey_id: str, score: int, comment: str, channel: str, at: Millis) -> bool:
        """Record the survey's answer; False when it was already answered (the first answer stays)."""

    @abc.abstractmethod
    async def get_nps(self, survey_id: str) -> NpsSurvey | None: ...

    @abc.abstractmethod
    async def nps_answers(self, site_id: str, since: Millis, until: Millis) -> list[NpsSurvey]:
        """Surveys of a site answered in [since, until), in order of answer."""

    @abc.abstractmethod
    async def nps_email_candidates(self, site_ids: list[str], since: Millis, before: Millis,
                                   limit: int) -> list[NpsSurvey]:
        """Unanswered surveys of `site_ids` offered in [since, before) whose email decision is not taken
        yet, oldest first."""

    @abc.abstractmethod
    async def decide_nps_email(self, survey_id: str, at: Millis, delivery: Delivery | None = None) -> bool:
        """Take a survey's email decision once (compare-and-set on `emailed_at`), queuing `delivery` (the
        mail, or None for "no mail") in the same transaction; False when it was already taken."""

    @abc.abstractmethod
    async def labelled_conversations(self, site_id: str, since: Millis, until: Millis,
                                     limit: int) -> list[dict[str, Any]]:
        """Conversations created in [since, until) with their labels, for the insight export: {id,
        created_at, closed_at, status, labels, visitor_id, assignee_id, rating, messages}, oldest first."""
