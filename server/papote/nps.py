"""The NPS survey: "How likely are you to recommend us?" (0–10), with an optional comment.

When a conversation closes on a site with `nps_enabled`, a survey is offered unless the visitor was
offered one in the last `nps_every_days` days (`store.offer_nps` decides atomically, across nodes). The
offer is an `nps` event in the conversation's seq stream, `data: {"survey": id}`: the widget shows the
survey under a closed conversation whose latest `nps` event has no `nps_answered` after it, on every
device of the visitor, and a resume replays it like any event. Answered, the survey gets an
`nps_answered` event (`{"survey", "score", "comment"}`) that agents see in the timeline.

One answer per survey: the first is kept; a second (another tab, a retry, the email link after the
widget) is answered `ok` and changes nothing. A visitor who left with a confirmed email gets the survey
by email (channels/email/nps_mail.py sends it; the link's page records the answer here).
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from papote.authz import Action, Principal
from papote.conversations import Chat
from papote.errors import NotFound
from papote.ids import new_id, now_ms
from papote.sites import settings_of
from papote.store import Conversation, Site, Store
from papote.store.moderation import NpsSurvey

log = logging.getLogger("papote.nps")

DAY_MS = 86_400_000
MAX_COMMENT = 2000


class Host(Protocol):
    store: Store
    chat: Chat

    async def site_by_id(self, site_id: str) -> Site | None: ...


class Nps:
    def __init__(self, host: Host) -> None:
        self.host = host
        self.store = host.store

    async def offer(self, conv: Conversation) -> NpsSurvey | None:
        """After a closing: the survey, if the site asks and the visitor is due one. Never fails the
        closing it follows (logged instead): a missed survey is better than a closing refused."""
        try:
            site = await self.host.site_by_id(conv.site_id)
            if site is None:
                return None
            settings = settings_of(site)
            if not settings["nps_enabled"]:
                return None
            now = now_ms()
            survey = await self.store.offer_nps(NpsSurvey(new_id("n"), site.id, conv.id, conv.visitor_id, now),
                                                now - settings["nps_every_days"] * DAY_MS)
            if survey is not None:
                await self.host.chat.event(conv, "nps", None, {"survey": survey.id})
            return survey
        except Exception:
            log.exception("the NPS survey of conversation %s could not be offered", conv.id)
            return None

    async def answer(self, visitor: Principal, conversation_id: str, survey_id: str, score: int,
                     comment: str, channel: str = "widget") -> bool:
        """Record the visitor's answer; False when the survey was already answered (nothing changes).
        `not_found` for a survey that is not this conversation's, or a conversation not theirs."""
        conv = await self.host.chat.conversation_for(visitor, conversation_id, Action.RATE)
        return await self._answer(conv, survey_id, score, comment, channel, visitor)

    async def answer_by_link(self, survey_id: str, score: int, comment: str) -> bool:
        """The answer from the email's signed link (the signature was checked by the caller)."""
        survey = await self.store.get_nps(survey_id)
        conv = await self.store.get_conversation(survey.conversation_id) if survey else None
        if conv is None:
            raise NotFound("no such survey")
        return await self._answer(conv, survey_id, score, comment, "email", None)

    async def _answer(self, conv: Conversation, survey_id: str, score: int, comment: str, channel: str,
                      visitor: Principal | None) -> bool:
        survey = await self.store.get_nps(survey_id)
        if survey is None or survey.conversation_id != conv.id:
            raise NotFound("no such survey")
        comment = comment.strip()[:MAX_COMMENT]
        if not await self.store.answer_nps(survey_id, score, comment, channel, now_ms()):
            return False
        data: dict[str, Any] = {"survey": survey_id, "score": score, "comment": comment}
        await self.host.chat.event(conv, "nps_answered", visitor, data)
        return True
