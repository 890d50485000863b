"""Postmark's inbound webhook, the pure part: its JSON turned into the mail it describes. No I/O.

Postmark parses each inbound mail and POSTs it as JSON (From, FromFull, To, ToFull, Cc, CcFull,
OriginalRecipient, Subject, MessageID, Date, TextBody, HtmlBody, StrippedTextReply, Headers: [{Name,
Value}], Attachments: [{Name, Content, ContentType, ContentLength}]). Papote rebuilds the MIME message from
it and hands that to the same reading as the SMTP listener (inbound.py: kind, sender, quotes, threading),
so a mail reads the same whichever way it came:

* the mail's own `Message-ID` is the one among `Headers` (Postmark's `MessageID` is Postmark's id; it
  stands in, as `<MessageID@postmark>`, only for a mail without one — it is stable across Postmark's
  retries, so the dedupe holds either way);
* quotes are stripped by Papote's own rules (quotes.py), not taken from `StrippedTextReply`, so a reply
  reads the same by SMTP and by webhook;
* `Return-Path: <>` among the headers is the null return path of a notification (an automatic mail);
* `Attachments` become MIME parts again (base64 `Content`; a `ContentID` makes the part inline with
  that Content-ID, as the mail had it), so the reading decides about them as for a mail by SMTP.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from typing import Any

from papote.channels.email.inbound import add_file

#: Headers Papote writes itself from the JSON's own fields, or that describe the MIME structure it
#: rebuilds: a copy from `Headers` would contradict them.
_OWN = {"from", "to", "cc", "subject", "message-id", "content-type", "content-transfer-encoding", "mime-version",
        "return-path"}


class PayloadError(ValueError):
    """The JSON is not a Postmark inbound message."""


@dataclass(frozen=True, slots=True)
class PostmarkMail:
    recipients: list[str]
    envelope_sender: str | None
    raw: bytes


def _text(payload: dict[str, Any], key: str) -> str:
    value = payload.get(key)
    return value if isinstance(value, str) else ""


def _addresses(payload: dict[str, Any], key: str) -> list[tuple[str, str]]:
    full = payload.get(key)
    if not isinstance(full, list):
        return []
    out = []
    for entry in full:
        if isinstance(entry, dict) and isinstance(entry.get("Email"), str) and "@" in entry["Email"]:
            out.append((str(entry.get("Name") or ""), entry["Email"].strip()))
    return out


def _address(name: str, email: str) -> Address:
    local, _, domain = email.rpartition("@")
    return Address(display_name=name, username=local, domain=domain)


def read_postmark(payload: Any) -> PostmarkMail:
    """The recipients, the envelope sender and the MIME bytes of a Postmark inbound payload."""
    if not isinstance(payload, dict):
        raise PayloadError("the body must be a JSON object")
    sender = payload.get("FromFull")
    if not isinstance(sender, dict) or not isinstance(sender.get("Email"), str) or "@" not in sender["Email"]:
        raise PayloadError("FromFull.Email is missing")
    headers = [(str(h.get("Name") or ""), str(h.get("Value") or "")) for h in payload.get("Headers") or []
               if isinstance(h, dict)]
    by_name = {name.lower(): value for name, value in headers}
    to, cc = _addresses(payload, "ToFull"), _addresses(payload, "CcFull")
    original = _text(payload, "OriginalRecipient").strip()
    recipients = list(dict.fromkeys([a for a in [original, *(e for _, e in to + cc)] if a]))
    if not recipients:
        raise PayloadError("no recipient (OriginalRecipient, ToFull)")
    msg = EmailMessage(policy=SMTP)
    try:
        msg["From"] = _address(str(sender.get("Name") or ""), sender["Email"].strip())
        if to:
            msg["To"] = [_address(n, e) for n, e in to]
        if cc:
            msg["Cc"] = [_address(n, e) for n, e in cc]
    except (ValueError, IndexError) as exc:
        raise PayloadError(f"an address cannot be read: {exc}") from None
    msg["Subject"] = _text(payload, "Subject").replace("\r", " ").replace("\n", " ")
    message_id = by_name.get("message-id", "").strip()
    postmark_id = _text(payload, "MessageID").strip()
    if message_id or postmark_id:
        msg["Message-ID"] = message_id or f"<{postmark_id}@postmark>"
    for name, value in headers:
        if name.lower() in _OWN or not name or "\n" in value or "\r" in value:
            continue
        try:
            msg[name] = value
        except (ValueError, IndexError):
            continue  # a header the parser refuses is no header
    text, rich = _text(payload, "TextBody"), _text(payload, "HtmlBody")
    if text or not rich:
        msg.set_content(text)
        if rich:
            msg.add_alternative(rich, subtype="html")
    else:
        msg.set_content(rich, subtype="html")
    for item in payload.get("Attachments") or []:
        _attach(msg, item)
    return_path = by_name.get("return-path")
    envelope = return_path.strip() if return_path is not None else None
    return PostmarkMail(recipients, envelope, msg.as_bytes())


def _attach(msg: EmailMessage, item: Any) -> None:
    """One of Postmark's `Attachments` as a MIME part (an unreadable one is skipped, never fatal)."""
    if not isinstance(item, dict) or not isinstance(item.get("Content"), str):
        return
    try:
        data = base64.b64decode(item["Content"], validate=True)
    except (binascii.Error, ValueError):
        return
    add_file(msg, data, str(item.get("ContentType") or ""), str(item.get("Name") or ""),
             str(item.get("ContentID") or ""))
