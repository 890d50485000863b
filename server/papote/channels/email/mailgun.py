"""Mailgun's inbound routes, the pure part: the signature check and the form turned into the mail it
describes. No I/O.

A Mailgun route whose action is `forward("https://…/api/webhooks/mailgun/inbound")` POSTs each mail it
receives as a form (`application/x-www-form-urlencoded`, or `multipart/form-data` when the mail has
attachments): `recipient` and `sender` (the SMTP envelope's RCPT TO and MAIL FROM), `from`, `subject`,
`body-plain` (always there: Mailgun writes a text of an HTML-only mail), `body-html`, `stripped-text`,
`message-headers` (a JSON list of `[name, value]` pairs, in order: `Message-Id`, `In-Reply-To`,
`References`, `Auto-Submitted`…), `attachment-count` and `attachment-N` files, and its signature:
`timestamp`, `token` (50 random characters), `signature` (hex HMAC-SHA256 of timestamp + token under the
account's HTTP webhook signing key). A route whose URL ends in `mime` posts `body-mime`, the mail as
received, instead of the parsed parts.

Papote rebuilds the MIME message from the form (or takes `body-mime` as it is) and hands it to the same
reading as the SMTP listener and Postmark (inbound.py), so a mail reads the same whichever way it came:
quotes are stripped by Papote's rules, not taken from `stripped-text`; an HTML-only mail (its
`Content-Type` header says `text/html`) is read from its HTML, not from Mailgun's text of it; an empty
`sender` is the null return path of a notification. The `attachment-N` files become MIME parts again, in
their order (`content-id-map`, a JSON object from `<Content-ID>` to `attachment-N`, makes a file inline
with its Content-ID, as the mail had it), so the reading decides about them as for a mail by SMTP; a
`body-mime` post carries its files inside the mail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP

from papote.channels.email.inbound import add_file

#: How old a signed post may be. Mailgun signs each attempt when it makes it; a post replayed later
#: than this is refused even if its token was forgotten, which is what bounds the memory of tokens.
MAX_AGE_SECS = 900
#: How far in the future a timestamp may be (the two clocks' disagreement); further is refused.
MAX_SKEW_SECS = 60
#: The form fields that carry the mail's files, numbered from 1 (`attachment-1`, `attachment-2`…).
ATTACHMENT_FIELD = re.compile(r"attachment-([0-9]{1,4})")
#: Headers Papote writes itself from the form's own fields, or that describe the MIME structure it
#: rebuilds: a copy from `message-headers` would contradict them.
_OWN = {"from", "subject", "content-type", "content-transfer-encoding", "mime-version", "return-path"}


class PayloadError(ValueError):
    """The form is not a Mailgun inbound post."""


class SignatureError(ValueError):
    """The post is not signed by Mailgun with this key, or not now (`reason` says which)."""


@dataclass(frozen=True, slots=True)
class MailgunFile:
    """A file of the form: its field (`attachment-N`), and its name, type and bytes as posted."""

    field: str
    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class MailgunMail:
    recipients: list[str]
    envelope_sender: str | None
    raw: bytes


def signature(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def check_signature(key: str, form: Mapping[str, str], now: float) -> str:
    """The post's token once its signature is Mailgun's (compared in constant time) and its timestamp
    recent; SignatureError otherwise. The caller refuses a token it has seen (a replay)."""
    timestamp, token, given = form.get("timestamp", ""), form.get("token", ""), form.get("signature", "")
    if not timestamp or not token or not given:
        raise SignatureError("timestamp, token and signature are required")
    if not hmac.compare_digest(signature(key, timestamp, token).encode(), given.strip().lower().encode()):
        raise SignatureError("the signature is not Mailgun's")
    try:
        at = int(timestamp)
    except ValueError:
        raise SignatureError("the timestamp is not a number") from None
    if at < now - MAX_AGE_SECS or at > now + MAX_SKEW_SECS:
        raise SignatureError("the timestamp is too old or in the future")
    return token


def _headers(form: Mapping[str, str]) -> list[tuple[str, str]]:
    raw = form.get("message-headers")
    if not raw:
        return []
    try:
        pairs = json.loads(raw)
    except ValueError:
        raise PayloadError("message-headers is not JSON") from None
    if not isinstance(pairs, list):
        raise PayloadError("message-headers is not a list")
    return [(str(p[0]), str(p[1])) for p in pairs
            if isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)]


def _content_ids(form: Mapping[str, str]) -> dict[str, str]:
    """`attachment-N` → its Content-ID, from `content-id-map` (an unreadable map is no map: the files
    are then plain attachments, which keeps them rather than losing them)."""
    try:
        found = json.loads(form.get("content-id-map") or "{}")
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(name): str(cid) for cid, name in found.items() if isinstance(name, str)}


def read_mailgun(form: Mapping[str, str], files: Sequence[MailgunFile] = ()) -> MailgunMail:
    """The recipients, the envelope sender and the MIME bytes of a Mailgun inbound post (`files`: the
    form's `attachment-N` files, in any order)."""
    recipients = list(dict.fromkeys(a.strip() for a in form.get("recipient", "").split(",") if "@" in a))
    if not recipients:
        raise PayloadError("no recipient")
    sender = form.get("sender")
    envelope = sender.strip() if sender is not None else None
    mime = form.get("body-mime")
    if mime:
        return MailgunMail(recipients, envelope, mime.encode())
    headers = _headers(form)
    by_name = {name.lower(): value for name, value in headers}
    author = form.get("from") or by_name.get("from", "")
    if "@" not in author:
        raise PayloadError("from is missing")
    msg = EmailMessage(policy=SMTP)
    try:
        msg["From"] = author.replace("\r", " ").replace("\n", " ")
        msg["Subject"] = (form.get("subject") or by_name.get("subject", "")).replace("\r", " ").replace("\n", " ")
    except (ValueError, IndexError) as exc:
        raise PayloadError(f"an address cannot be read: {exc}") from None
    # Mailgun also posts the main headers as fields of their own (`Message-Id`, `In-Reply-To`…): the
    # list is the whole truth, the fields stand in for a post without it.
    for name in ("Message-Id", "In-Reply-To", "References", "To", "Cc"):
        if name.lower() not in by_name and form.get(name):
            headers.append((name, form[name]))
    for name, value in headers:
        if name.lower() in _OWN or not name or "\n" in value or "\r" in value:
            continue
        try:
            msg[name] = value
        except (ValueError, IndexError):
            continue  # a header the parser refuses is no header
    text, rich = form.get("body-plain", ""), form.get("body-html", "")
    if rich and by_name.get("content-type", "").lower().startswith("text/html"):
        msg.set_content(rich, subtype="html")  # HTML-only: Mailgun's text of it keeps the quotes unmarked
    elif text or not rich:
        msg.set_content(text)
        if rich:
            msg.add_alternative(rich, subtype="html")
    else:
        msg.set_content(rich, subtype="html")
    content_ids = _content_ids(form) if files else {}
    for f in sorted(files, key=_place):
        add_file(msg, f.data, f.content_type, f.name, content_ids.get(f.field, ""))
    return MailgunMail(recipients, envelope, msg.as_bytes())


def _place(f: MailgunFile) -> int:
    """A file's number in the mail (`attachment-2` → 2): the form's order is the client's, not the mail's."""
    found = ATTACHMENT_FIELD.fullmatch(f.field)
    return int(found.group(1)) if found else 0
