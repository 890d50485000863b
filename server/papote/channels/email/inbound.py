"""Reading an inbound mail: who sent it, what kind it is, what the person wrote. Pure functions.

The standard library's parser with `policy.default` does the MIME. A mail is one of three kinds: a
person's reply (stored as the visitor's message), an automatic one (out-of-office, list traffic: dropped,
RFC 3834's signals), or a bounce (a delivery status report, RFC 3464: the address stops receiving mail).
Message ids are read with a pattern, never compared as raw header text: a folded header comes back with
a leading space.

Files: every attachment part is kept (`files`, at most MAX_FILES), except the images a signature
embeds — an inline part with a Content-ID (the HTML shows it through `cid:`) under SIGNATURE_IMAGE_BYTES
is a logo or a social icon, and Papote shows the text, not the HTML. A larger inline image is a picture
the person pasted into their mail (a screenshot) and is kept. What a file is, and whether the site takes
it, is decided later from its bytes, as for any upload (papote/attachments/).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses

from papote.channels.email.quotes import html_to_text, strip_html, strip_text

_MSG_ID = re.compile(r"<[^<>\s]+>")
#: `Precedence` values that mark mail no person wrote for us to answer.
_BULK = {"bulk", "auto_reply", "junk", "list"}
#: Files kept from one mail: a person attaches a few; a mail with more is a dump, its first ones kept.
MAX_FILES = 10
#: An inline image with a Content-ID smaller than this is a signature's logo or icon (they weigh a few
#: KB), not something the person meant to send; a pasted screenshot weighs more.
SIGNATURE_IMAGE_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class MailFile:
    """A file a mail carries: its name and declared type as the mail says (hints only), and its bytes."""

    name: str
    content_type: str
    data: bytes


def add_file(msg: EmailMessage, data: bytes, content_type: str, name: str, content_id: str = "") -> None:
    """A file a provider parsed out of a mail (Postmark, Mailgun) as a MIME part of `msg` again, so the
    reading below decides about it as for a mail by SMTP. A `content_id` makes the part inline with that
    Content-ID, as the mail had it (a signature's logo, a pasted screenshot). A part the library will not
    write (a name or Content-ID it refuses) is skipped, never fatal."""
    maintype, _, subtype = (content_type or "application/octet-stream").partition("/")
    if not maintype.isascii() or not subtype or "\n" in subtype or "\r" in subtype:
        maintype, subtype = "application", "octet-stream"
    name = (name or "file").replace("\r", " ").replace("\n", " ")[:200]
    content_id = content_id.strip().strip("<>")
    try:
        if content_id:
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name, disposition="inline",
                               cid=f"<{content_id}>")
        else:
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    except (ValueError, TypeError):
        return


class MailKind(str, enum.Enum):
    REPLY = "reply"
    AUTOMATIC = "automatic"
    BOUNCE = "bounce"


@dataclass(frozen=True, slots=True)
class InboundMail:
    kind: MailKind
    message_id: str  # "<…>", or "" when the mail has none
    sender: str  # the From address, case-folded
    subject: str
    #: What the person wrote: quotes and signature stripped.
    text: str
    #: The whole text part (or the HTML's text), for the record.
    full_text: str
    references: list[str] = field(default_factory=list)
    #: For a bounce: the addresses it reports as failed.
    failed: list[str] = field(default_factory=list)
    #: The From header's display name ("Ann Smith"), or "".
    sender_name: str = ""
    #: The files it carries (not a signature's images), in the mail's order.
    files: list[MailFile] = field(default_factory=list)


def message_ids(value: str | None) -> list[str]:
    return _MSG_ID.findall(value or "")


def _str(msg: EmailMessage, name: str) -> str:
    try:
        value = msg.get(name)
    except (ValueError, IndexError):  # a header the parser cannot make sense of is no header
        return ""
    return str(value or "").strip()


def _sender(msg: EmailMessage) -> str:
    try:
        header = msg.get("from")
        addresses: tuple[Address, ...] = getattr(header, "addresses", ()) if header is not None else ()
        if addresses:
            return addresses[0].addr_spec.casefold()
    except (ValueError, IndexError):
        pass
    parsed = getaddresses([_str(msg, "from")])
    return parsed[0][1].casefold() if parsed else ""


def _sender_name(msg: EmailMessage) -> str:
    try:
        header = msg.get("from")
        addresses: tuple[Address, ...] = getattr(header, "addresses", ()) if header is not None else ()
        return addresses[0].display_name.strip()[:120] if addresses else ""
    except (ValueError, IndexError):
        return ""


def kind_of(msg: EmailMessage, envelope_sender: str | None = None) -> MailKind:
    if msg.get_content_type() == "multipart/report" and msg.get_param("report-type", "") == "delivery-status":
        return MailKind.BOUNCE
    if msg.get("x-failed-recipients"):
        return MailKind.BOUNCE
    auto = _str(msg, "auto-submitted").lower()
    if auto and auto != "no":
        return MailKind.AUTOMATIC
    if msg.get("x-autoreply") or msg.get("x-autorespond") or msg.get("x-auto-response-suppress", "").lower() in (
            "all", "oof"):
        return MailKind.AUTOMATIC
    if _str(msg, "precedence").lower() in _BULK or msg.get("list-id"):
        return MailKind.AUTOMATIC
    if envelope_sender is not None and envelope_sender.strip("<> ") == "":
        return MailKind.AUTOMATIC  # a null return path: a notification, never a person's reply
    return MailKind.REPLY


def _failed_recipients(msg: EmailMessage) -> list[str]:
    out = [a.strip().casefold() for a in _str(msg, "x-failed-recipients").split(",") if a.strip()]
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        # Each per-recipient block is a header block of its own; the parser gives them as sub-messages.
        for block in part.iter_parts() if part.is_multipart() else []:
            final = str(block.get("final-recipient") or block.get("original-recipient") or "")
            if ";" in final:
                out.append(final.split(";", 1)[1].strip().casefold())
        raw = part.get_payload()
        if isinstance(raw, str):
            out += [m.casefold() for m in re.findall(r"(?im)^final-recipient:\s*[^;]+;\s*(\S+)", raw)]
    return sorted(set(out))


def _texts(msg: EmailMessage) -> tuple[str, str]:
    """(stripped, full) text of the mail's body: its plain part, else its HTML part."""
    plain = msg.get_body(preferencelist=("plain",))
    if plain is not None:
        content = plain.get_content()
        full = content if isinstance(content, str) else ""
        return strip_text(full), full.strip()
    rich = msg.get_body(preferencelist=("html",))
    if rich is not None:
        content = rich.get_content()
        markup = content if isinstance(content, str) else ""
        return strip_html(markup), html_to_text(markup)
    return "", ""


def _files(msg: EmailMessage) -> list[MailFile]:
    out: list[MailFile] = []
    for part in msg.walk():
        if part.is_multipart() or part.get_content_maintype() == "message":
            continue
        disposition = part.get_content_disposition()
        inline_image = part.get_content_maintype() == "image" and disposition != "attachment"
        if disposition != "attachment" and not inline_image:
            continue  # the body's text and HTML parts
        try:
            data = part.get_payload(decode=True)
        except (ValueError, LookupError, AssertionError):
            continue
        if not isinstance(data, bytes) or not data:
            continue
        if inline_image and part.get("content-id") and len(data) < SIGNATURE_IMAGE_BYTES:
            continue  # a signature's logo
        try:
            name = part.get_filename() or ""
        except (ValueError, IndexError):
            name = ""
        out.append(MailFile(name, part.get_content_type(), data))
        if len(out) >= MAX_FILES:
            break
    return out


def read_mail(raw: bytes, envelope_sender: str | None = None) -> InboundMail:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    kind = kind_of(msg, envelope_sender)
    ids = message_ids(_str(msg, "message-id"))
    refs = message_ids(_str(msg, "in-reply-to")) + message_ids(_str(msg, "references"))
    text, full = ("", "") if kind is MailKind.BOUNCE else _texts(msg)
    return InboundMail(
        kind=kind, message_id=ids[0] if ids else "", sender=_sender(msg), subject=_str(msg, "subject"),
        text=text, full_text=full, references=refs,
        failed=_failed_recipients(msg) if kind is MailKind.BOUNCE else [], sender_name=_sender_name(msg),
        files=_files(msg) if kind is MailKind.REPLY else [],
    )
