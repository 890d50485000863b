"""The built-in SMTP listener for replies (aiosmtpd), off unless PAPOTE_SMTP_LISTEN is set.

Only signed reply addresses are accepted: a forged or unknown token is refused at RCPT with a 550, so no
message is taken in and there is no bounce to send. DATA is answered 250 only once the reply is stored
(or deliberately dropped: an automatic reply, a bounce); a temporary failure answers 451 so the sending
server tries again, and the Message-ID dedupe makes its retry harmless.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from aiosmtpd.smtp import SMTP

log = logging.getLogger("papote.email")
# aiosmtpd logs every SMTP command at INFO: a line per command of every mail is noise in a server's log.
logging.getLogger("mail.log").setLevel(logging.WARNING)

#: A reply with a photo or two fits; a mailbox export does not.
MAX_MAIL_BYTES = 10 * 1024 * 1024
#: A client silent this long is dropped (aiosmtpd's default is 5 minutes).
IDLE_SECS = 60


class Receiver(Protocol):
    async def accepts(self, address: str) -> bool: ...
    async def receive(self, recipients: list[str], envelope_sender: str | None, raw: bytes) -> str: ...


class ReplyHandler:
    """aiosmtpd's handler: its hooks are called by name."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if not await self.receiver.accepts(address):
            return "550 5.1.1 No such reply address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        try:
            return await self.receiver.receive(list(envelope.rcpt_tos), envelope.mail_from, bytes(raw))
        except Exception:
            log.exception("an inbound mail could not be stored")
            return "451 4.3.0 Temporary failure, try again later"


async def start_listener(receiver: Receiver, listen: str, hostname: str) -> asyncio.Server:
    host, _, port = listen.rpartition(":")
    loop = asyncio.get_running_loop()
    handler = ReplyHandler(receiver)
    server = await loop.create_server(
        lambda: SMTP(handler, hostname=hostname, data_size_limit=MAX_MAIL_BYTES, enable_SMTPUTF8=True,
                     timeout=IDLE_SECS),
        host.strip("[]") or "127.0.0.1", int(port),
    )
    log.info("SMTP listener for replies on %s", listen)
    return server
