"""What the store keeps for the bot: one session per conversation the bot took (store/sqlite/bots.py,
store/postgres/bots.py; docs/bot.md).

A session holds the stepper's state (bot/stepper.py `State.as_dict`), the seq of the last visitor message
the bot has dealt with (`seen_seq`), and a status: `active` (the bot holds the conversation: routing
leaves it out of the queue), `resolved` (the bot reached an end: still held, the visitor may write
again), `handover` (a person has it: the bot said its last word, or an agent took it). Saving moves
`seen_seq` by compare-and-set, so two nodes feeding the same message cannot both record it.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from papote.types import Millis

#: Statuses in which the bot holds its conversation back from routing.
HELD = ("active", "resolved")
STATUSES = ("active", "resolved", "handover")


@dataclass(slots=True)
class BotSession:
    conversation_id: str
    site_id: str
    status: str
    state: dict[str, Any]
    seen_seq: int
    #: Why it was handed over ("asked", "not_understood", "flow", "after_end", "agent"), once it was.
    reason: str
    created_at: Millis
    updated_at: Millis


class BotStore(abc.ABC):
    @abc.abstractmethod
    async def start_bot(self, conversation_id: str, site_id: str, at: Millis) -> BotSession:
        """The conversation's session, created `active` at seq 0 unless it has one already (then that one)."""

    @abc.abstractmethod
    async def get_bot(self, conversation_id: str) -> BotSession | None: ...

    @abc.abstractmethod
    async def save_bot(self, conversation_id: str, *, expect_seq: int, seen_seq: int, status: str,
                       state: dict[str, Any], reason: str, at: Millis) -> bool:
        """Record the bot's progress if `seen_seq` is still `expect_seq` (False: another run moved first)."""

    @abc.abstractmethod
    async def set_conversation_group(self, conversation_id: str, group: str) -> None:
        """The conversation is for this group of agents (a pre-chat topic's, a bot handover's)."""

    @abc.abstractmethod
    async def conversation_groups(self, conversation_ids: list[str]) -> dict[str, str]:
        """{conversation id: group} of those that are for a group of agents, in one read."""

    @abc.abstractmethod
    async def release_bot(self, conversation_id: str, reason: str, at: Millis) -> bool:
        """An agent took a conversation the bot held: the session ends as a handover (True if it was held)."""

    @abc.abstractmethod
    async def bots_pending(self, limit: int) -> list[BotSession]:
        """Held sessions with a visitor's text past their `seen_seq` (a crash or a lost wake-up left it)."""

    @abc.abstractmethod
    async def bot_outcomes(self, site_id: str, since: Millis, until: Millis) -> dict[str, int]:
        """{status: sessions} of the sessions started in [since, until) (every status present, maybe 0)."""


#: The SQL condition (both backends) that a conversation aliased `{c}` is not held by the bot: the queue
#: and places in it leave held conversations out (format it with the alias).
NOT_HELD = ("NOT EXISTS (SELECT 1 FROM bot_sessions b WHERE b.conversation_id={c}.id "
            "AND b.status IN ('active', 'resolved'))")
