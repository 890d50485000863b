"""The files of an inbound mail, kept as the attachments of the message it becomes.

Each file goes through the same door as a visitor's upload (`Attachments.upload`: the bytes decide the
type, the site's `attachments_types` and `attachments_max_mb` decide what is accepted, images are
re-encoded without metadata, uploads are rate-limited per sender), uploaded as the mail's sender, then
named in the message's `attachments` so the append claims and binds them as it does a widget send's.

A file refused (over the size, a type the site does not take, an image that does not decode) is not a
refused mail: the text and the other files are stored, and a private note tells the agents which file
was left out and why. The sending server is never asked to retry for a file: it would send the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from papote.authz import Principal
from papote.bus.topics import conv_topic
from papote.channels.email.host import Host
from papote.channels.email.inbound import InboundMail
from papote.errors import PapoteError
from papote.events import MessageAppended
from papote.store import Appended, NewMessage, Site
from papote.types import AuthorKind, MessageKind

log = logging.getLogger("papote.email")


@dataclass(slots=True)
class KeptFiles:
    #: Attachment ids, in the mail's order, for the message's `attachments`.
    ids: list[str] = field(default_factory=list)
    #: (file name, why) of each file left out.
    refused: list[tuple[str, str]] = field(default_factory=list)


async def keep_files(papote: Host, principal: Principal, site: Site, mail: InboundMail) -> KeptFiles:
    """Upload the mail's files as its sender's; the ids kept and the files refused."""
    kept = KeptFiles()
    for f in mail.files:
        name = f.name or "file"
        try:
            attachment = await papote.attachments.upload(principal, site, name, f.content_type, f.data)
        except PapoteError as exc:  # too_large, unsupported_type, invalid_file, rate_limited
            kept.refused.append((name, exc.message))
            continue
        kept.ids.append(attachment.id)
    return kept


async def note_refused(papote: Host, appended: Appended, kept: KeptFiles) -> None:
    """A private note naming the files of the mail that were not kept (once: keyed to the message)."""
    if not kept.refused or appended.duplicate:
        return
    message = appended.message
    lines = "\n".join(f"• {name}: {why}" for name, why in kept.refused)
    note = await papote.store.append(NewMessage(
        site_id=appended.conversation.site_id, conversation_id=message.conversation_id,
        author_kind=AuthorKind.SYSTEM, author_id="", author_name="", kind=MessageKind.NOTE,
        body=f"Files of the customer's mail (message #{message.seq}) not kept:\n{lines}",
        client_msg_id=f"mailfiles:{message.conversation_id}:{message.seq}",
        data={"files_refused": {"seq": message.seq, "names": [n for n, _ in kept.refused]}}))
    if not note.duplicate:
        papote.bus.publish(conv_topic(message.conversation_id), MessageAppended(note.message))
    log.info("%d file(s) of a mail in %s not kept", len(kept.refused), message.conversation_id)
