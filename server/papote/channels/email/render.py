"""The mails Papote sends, as text: a digest of unread replies and the confirmation request, in English
or French, and the MIME message built from what was rendered. Pure functions.

A mail is rendered once, when its delivery is queued, and stored as the delivery's payload: a retry
sends the very same mail (same Message-ID, so a duplicate after a crash collapses in most clients).
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from papote.store import Message

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "Your conversation with {site}",
        "intro_one": "{site} replied to your conversation:",
        "intro_many": "{site} sent you {n} replies:",
        "reply_hint": "Reply to this email to answer: your reply goes straight to the same conversation.",
        "unsubscribe": "Stop these emails",
        "why": "You receive this email because you left this address in the chat on {site}.",
        "confirm_subject": "Continue your conversation with {site} by email?",
        "confirm_body": "Someone, hopefully you, left this address in the chat on {site} to be told of replies.",
        "confirm_action": "Yes, send me the replies by email",
        "confirm_ignore": "If it was not you, ignore this email: nothing else will be sent to this address.",
        "files": "Files",
        "attached": "attached",
    },
    "fr": {
        "subject": "Votre conversation avec {site}",
        "intro_one": "{site} a répondu à votre conversation :",
        "intro_many": "{site} vous a envoyé {n} réponses :",
        "reply_hint": "Répondez à cet e-mail pour continuer : votre réponse arrive dans la même conversation.",
        "unsubscribe": "Ne plus recevoir ces e-mails",
        "why": "Vous recevez cet e-mail car vous avez laissé cette adresse dans le chat de {site}.",
        "confirm_subject": "Continuer votre conversation avec {site} par e-mail ?",
        "confirm_body": "Quelqu'un, vous sans doute, a laissé cette adresse dans le chat de {site} pour être "
                        "prévenu des réponses.",
        "confirm_action": "Oui, envoyez-moi les réponses par e-mail",
        "confirm_ignore": "Si ce n'était pas vous, ignorez cet e-mail : rien d'autre ne sera envoyé à cette "
                          "adresse.",
        "files": "Fichiers",
        "attached": "en pièce jointe",
    },
}


def language(visitor_locale: str | None, site_locale: str | None) -> str:
    """"fr" or "en": the visitor's browser first, then the site's own setting."""
    for candidate in (visitor_locale, site_locale):
        if candidate and candidate[:2].lower() in STRINGS:
            return candidate[:2].lower()
    return "en"


#: Files attached to one mail, in total: relays commonly refuse mail over 25 MB, and base64 adds a third.
#: Files beyond it go as signed links (`with_files`).
MAIL_ATTACH_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Threading:
    message_id: str
    in_reply_to: str
    references: list[str]


def digest(site_name: str, lang: str, messages: list[Message], *, reply_to: str, unsubscribe: str,
           threading: Threading) -> dict[str, Any]:
    """The payload of a digest delivery: every unread agent message, oldest first."""
    s = STRINGS[lang]
    intro = (s["intro_one"] if len(messages) == 1 else s["intro_many"]).format(site=site_name, n=len(messages))
    text_parts = [intro, ""]
    html_parts = [f"<p>{html.escape(intro)}</p>"]
    for m in messages:
        text_parts += [f"{m.author_name}:", m.body, ""]
        body = html.escape(m.body).replace("\n", "<br>")
        html_parts.append(
            f'<div style="margin:0 0 16px"><div style="font-weight:600">{html.escape(m.author_name)}</div>'
            f'<div style="white-space:pre-wrap">{body}</div></div>'
        )
    footer = [s["reply_hint"], "", s["why"].format(site=site_name), f"{s['unsubscribe']}: {unsubscribe}"]
    text_parts += footer
    html_parts.append(
        f'<hr><p style="color:#555;font-size:13px">{html.escape(s["reply_hint"])}<br>'
        f'{html.escape(s["why"].format(site=site_name))} '
        f'<a href="{html.escape(unsubscribe)}">{html.escape(s["unsubscribe"])}</a></p>'
    )
    return {
        "lang": lang, "from_name": site_name, "subject": s["subject"].format(site=site_name),
        "text": "\n".join(text_parts), "html": html_page(lang, "".join(html_parts)), "reply_to": reply_to,
        "unsubscribe": unsubscribe, "message_id": threading.message_id, "in_reply_to": threading.in_reply_to,
        "references": threading.references, "seqs": [m.seq for m in messages],
    }


def reply(site_name: str, lang: str, messages: list[Message], *, subject: str, reply_to: str,
          threading: Threading) -> dict[str, Any]:
    """The payload of agents' replies in a conversation that came by mail (email as a channel): their
    words as a mail answering the customer's, `Re: <subject>`, signed with each author's name."""
    text_parts: list[str] = []
    html_parts: list[str] = []
    for m in messages:
        text_parts += [m.body, "", f"— {m.author_name}, {site_name}", ""]
        html_parts.append(f'<div style="margin:0 0 16px"><div style="white-space:pre-wrap">'
                          f'{html.escape(m.body).replace(chr(10), "<br>")}</div>'
                          f'<div style="color:#555">— {html.escape(m.author_name)}, '
                          f'{html.escape(site_name)}</div></div>')
    subject = subject or STRINGS[lang]["subject"].format(site=site_name)
    if not subject.lower().startswith(("re:", "re :")):
        subject = f"Re: {subject}"
    return {
        "lang": lang, "from_name": site_name, "subject": subject, "text": "\n".join(text_parts).strip() + "\n",
        "html": html_page(lang, "".join(html_parts)), "reply_to": reply_to, "unsubscribe": "",
        "message_id": threading.message_id, "in_reply_to": threading.in_reply_to,
        "references": threading.references, "seqs": [m.seq for m in messages],
    }


def confirmation(site_name: str, lang: str, *, confirm: str, message_id: str) -> dict[str, Any]:
    """The payload of a confirmation request: no word of the conversation, only the question."""
    s = STRINGS[lang]
    body, action, ignore = s["confirm_body"].format(site=site_name), s["confirm_action"], s["confirm_ignore"]
    return {
        "lang": lang, "from_name": site_name, "subject": s["confirm_subject"].format(site=site_name),
        "text": f"{body}\n\n{action}: {confirm}\n\n{ignore}",
        "html": html_page(lang, f"<p>{html.escape(body)}</p><p><a href=\"{html.escape(confirm)}\">"
                            f"{html.escape(action)}</a></p><p style=\"color:#555\">{html.escape(ignore)}</p>"),
        "reply_to": "", "unsubscribe": "", "message_id": message_id, "in_reply_to": "", "references": [],
    }


def with_files(payload: dict[str, Any], lang: str, files: list[dict[str, Any]]) -> dict[str, Any]:
    """The payload with the agents' files: `files` (each `{id, name, size, content_type, link}`, in the
    order sent) are attached while their total stays within MAIL_ATTACH_BYTES (`attach: true`: the bytes
    are read when the mail is sent); every file is also listed in the text, a larger one with its signed
    link instead (papote/attachments/links.py), so nothing is lost to a relay's size limit."""
    if not files:
        return payload
    s = STRINGS[lang]
    total = 0
    listed: list[dict[str, Any]] = []
    for f in files:
        attach = total + int(f["size"]) <= MAIL_ATTACH_BYTES
        total += int(f["size"]) if attach else 0
        listed.append({**f, "attach": attach})
    lines = [f"{s['files']}:"] + [
        f"- {f['name']} ({_size(int(f['size']))}): " + (s["attached"] if f["attach"] else f["link"]) for f in listed]
    items = "".join(
        f"<li>{html.escape(f['name'])} ({_size(int(f['size']))}): "
        + (html.escape(s["attached"]) if f["attach"]
           else f'<a href="{html.escape(f["link"])}">{html.escape(f["link"])}</a>') + "</li>" for f in listed)
    text = payload["text"].rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    page = payload["html"].replace("</body></html>", f"<p>{html.escape(s['files'])}:</p><ul>{items}</ul></body></html>")
    return {**payload, "text": text, "html": page, "files": listed}


def _size(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{max(1, size // 1024)} KB"


def html_page(lang: str, content: str) -> str:
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"></head>'
            f'<body style="font-family:system-ui,sans-serif;line-height:1.5;color:#111">{content}</body></html>')


def build_message(payload: dict[str, Any], sender: str, to: str, date: float | None = None) -> EmailMessage:
    """The MIME message of a rendered payload: text and HTML alternatives, threading and list headers."""
    msg = EmailMessage()
    local, _, domain = sender.rpartition("@")
    msg["From"] = Address(display_name=str(payload.get("from_name") or ""), username=local, domain=domain)
    msg["To"] = to
    msg["Subject"] = payload["subject"]
    msg["Date"] = formatdate(date, localtime=False)
    msg["Message-ID"] = payload["message_id"]
    if payload.get("reply_to"):
        msg["Reply-To"] = payload["reply_to"]
    if payload.get("in_reply_to"):
        msg["In-Reply-To"] = payload["in_reply_to"]
    if payload.get("references"):
        msg["References"] = " ".join(payload["references"])
    # RFC 3834: a program sent this; well-behaved responders do not answer it, and neither do we.
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Auto-Response-Suppress"] = "All"
    if payload.get("unsubscribe"):
        msg["List-Unsubscribe"] = f"<{payload['unsubscribe']}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"  # RFC 8058
    msg["Content-Language"] = payload.get("lang", "en")
    msg.set_content(payload["text"])
    msg.add_alternative(payload["html"], subtype="html")
    return msg
