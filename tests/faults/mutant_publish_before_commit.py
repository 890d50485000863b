"""A deliberately broken Papote for the fan-out test's self-check: it publishes a message before COMMIT.

`Chat.submit` queues the append, then at once fans out the message it expects the store to commit
(the next seq, the body sent) instead of waiting for the store's answer. The real publication after
COMMIT still follows. A send the store refuses (a reused `client_msg_id` with another body) has then
reached the other connections anyway, at a seq the store never gave it.
tests/integration/test_fanout_after_commit.py must see that; if it does not, it cannot catch the bug.

Run as `python -m tests.faults.mutant_publish_before_commit serve` from the repository root.
"""

from __future__ import annotations

import asyncio
from typing import Any

from papote import cli
from papote.authz import Principal
from papote.bus.topics import conv_topic
from papote.conversations import Chat
from papote.events import MessageAppended
from papote.ids import now_ms
from papote.store import Appended, Message
from papote.types import PrincipalKind

_real_submit = Chat.submit


async def _submit_and_publish(self: Chat, principal: Principal, conversation_id: str | None,
                              client_msg_id: str, body: str, *, note: bool = False,
                              **more: Any) -> asyncio.Future[Appended]:
    stored = await _real_submit(self, principal, conversation_id, client_msg_id, body, note=note, **more)
    if conversation_id is not None:
        conv = await self.store.get_conversation(conversation_id)
        if conv is not None:
            kind = "visitor" if principal.kind is PrincipalKind.VISITOR else "agent"
            guess: Any = Message(conversation_id, conv.last_seq + 1, "note" if note else "text", kind,
                                 principal.id, principal.name, client_msg_id, body, None, None, now_ms())
            self.bus.publish(conv_topic(conversation_id), MessageAppended(guess))  # the bug: not committed
    return stored


Chat.submit = _submit_and_publish  # type: ignore[method-assign]

if __name__ == "__main__":
    cli.main()
