"""The mails Papote sends to agents — an invitation to a team, a password reset link, "a conversation is
waiting" — and to a visitor, a conversation's transcript. Pure functions: each returns the payload of
a delivery (render.py's shape), which render.build_message turns into MIME when it is sent.

None of them takes replies (no Reply-To of a conversation), none carries List-Unsubscribe: they are
transactional mail asked for by their recipient (a reset, a transcript) or about their work (an
invitation, a waiting visitor, which an agent turns off in their profile).
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

from papote.channels.email.render import html_page
from papote.store import Message
from papote.types import AuthorKind, MessageKind

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "invite_subject": "{author} invites you to answer chats for {site}",
        "invite_body": "{author} invites you to join the team of {site} on Papote as {role}.",
        "invite_action": "Accept the invitation",
        "invite_expiry": "This link works for 7 days. If you did not expect it, ignore this email.",
        "reset_subject": "Reset your Papote password",
        "reset_body": "Someone, hopefully you, asked to reset the password of the Papote account {email}.",
        "reset_action": "Choose a new password",
        "reset_expiry": "This link works once, for 1 hour. If you did not ask for it, ignore this email: "
                        "your password stays as it is.",
        "waiting_subject": "A visitor is waiting on {site}",
        "waiting_body": "{visitor} wrote on {site} and no agent is online:",
        "waiting_action": "Open the conversation",
        "waiting_why": "You receive this because you are on the team of {site}. Turn these emails off in your "
                       "profile in the console.",
        "transcript_subject": "Your conversation with {site}",
        "transcript_intro": "The transcript of your conversation with {site}, as you asked:",
        "visitor": "You",
        "a_visitor": "A visitor",
    },
    "fr": {
        "invite_subject": "{author} vous invite à répondre aux chats de {site}",
        "invite_body": "{author} vous invite à rejoindre l'équipe de {site} sur Papote en tant que {role}.",
        "invite_action": "Accepter l'invitation",
        "invite_expiry": "Ce lien est valable 7 jours. Si vous ne l'attendiez pas, ignorez cet e-mail.",
        "reset_subject": "Réinitialiser votre mot de passe Papote",
        "reset_body": "Quelqu'un, vous sans doute, a demandé à réinitialiser le mot de passe du compte Papote "
                      "{email}.",
        "reset_action": "Choisir un nouveau mot de passe",
        "reset_expiry": "Ce lien ne sert qu'une fois, pendant 1 heure. Si vous ne l'avez pas demandé, ignorez cet "
                        "e-mail : votre mot de passe ne change pas.",
        "waiting_subject": "Un visiteur attend sur {site}",
        "waiting_body": "{visitor} a écrit sur {site} et aucun agent n'est en ligne :",
        "waiting_action": "Ouvrir la conversation",
        "waiting_why": "Vous recevez cet e-mail car vous êtes dans l'équipe de {site}. Désactivez ces e-mails "
                       "dans votre profil, dans la console.",
        "transcript_subject": "Votre conversation avec {site}",
        "transcript_intro": "La transcription de votre conversation avec {site}, comme demandé :",
        "visitor": "Vous",
        "a_visitor": "Un visiteur",
    },
}


def _payload(lang: str, from_name: str, subject: str, text: str, content: str, message_id: str) -> dict[str, Any]:
    return {"lang": lang, "from_name": from_name, "subject": subject, "text": text, "html": html_page(lang, content),
            "reply_to": "", "unsubscribe": "", "message_id": message_id, "in_reply_to": "", "references": []}


def _action(text: str, url: str) -> str:
    return f'<p><a href="{html.escape(url)}">{html.escape(text)}</a></p>'


def invitation(lang: str, *, site: str, author: str, role: str, url: str, message_id: str) -> dict[str, Any]:
    s = STRINGS[lang]
    body = s["invite_body"].format(author=author, site=site, role=role)
    return _payload(lang, "Papote", s["invite_subject"].format(author=author, site=site),
                    f"{body}\n\n{s['invite_action']}: {url}\n\n{s['invite_expiry']}",
                    f"<p>{html.escape(body)}</p>{_action(s['invite_action'], url)}"
                    f'<p style="color:#555">{html.escape(s["invite_expiry"])}</p>', message_id)


def password_reset(lang: str, *, email: str, url: str, message_id: str) -> dict[str, Any]:
    s = STRINGS[lang]
    body = s["reset_body"].format(email=email)
    return _payload(lang, "Papote", s["reset_subject"], f"{body}\n\n{s['reset_action']}: {url}\n\n{s['reset_expiry']}",
                    f"<p>{html.escape(body)}</p>{_action(s['reset_action'], url)}"
                    f'<p style="color:#555">{html.escape(s["reset_expiry"])}</p>', message_id)


def waiting(lang: str, *, site: str, visitor: str, excerpt: str, url: str, message_id: str) -> dict[str, Any]:
    s = STRINGS[lang]
    body = s["waiting_body"].format(visitor=visitor or s["a_visitor"], site=site)
    why = s["waiting_why"].format(site=site)
    return _payload(lang, site, s["waiting_subject"].format(site=site),
                    f"{body}\n\n{excerpt}\n\n{s['waiting_action']}: {url}\n\n{why}",
                    f"<p>{html.escape(body)}</p><blockquote>{html.escape(excerpt)}</blockquote>"
                    f"{_action(s['waiting_action'], url)}<p style=\"color:#555\">{html.escape(why)}</p>", message_id)


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")


def transcript(lang: str, *, site: str, messages: list[Message], message_id: str) -> dict[str, Any]:
    """Every text of the conversation, oldest first (the caller leaves internal notes out)."""
    s = STRINGS[lang]
    intro = s["transcript_intro"].format(site=site)
    text, rich = [intro, ""], [f"<p>{html.escape(intro)}</p>"]
    for m in messages:
        if m.kind is not MessageKind.TEXT:
            continue
        who = s["visitor"] if m.author_kind is AuthorKind.VISITOR else m.author_name
        text += [f"[{_stamp(m.created_at)}] {who}:", m.body, ""]
        rich.append(f'<div style="margin:0 0 12px"><div style="color:#555;font-size:13px">{html.escape(who)} · '
                    f'{_stamp(m.created_at)}</div><div style="white-space:pre-wrap">'
                    f"{html.escape(m.body)}</div></div>")
    return _payload(lang, site, s["transcript_subject"].format(site=site), "\n".join(text), "".join(rich),
                    message_id)
