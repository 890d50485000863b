"""The NPS survey by email, for a visitor who left before answering it in the widget (papote/nps.py).

Each round of the email scan (service.py, one node at a time) reads the unanswered surveys offered at
least the site's `email_delay` ago whose email decision is not taken, and decides each once
(`store.decide_nps_email`, a compare-and-set, with the mail queued in the same transaction):

* the visitor is still connected to this node: not yet (they can answer in the widget);
* an address Papote may write to — the verified visitor's own, or one confirmed through email
  continuation — that is neither unsubscribed nor bouncing: one mail with eleven links, one per score,
  each to a signed page (`/email/nps?t=…&score=N`) where the visitor confirms the score and may add a
  comment;
* otherwise: no mail, and the survey is not looked at again.

A GET of the page records nothing (mail scanners fetch links); its form's POST records the answer
through the same `Nps.answer_by_link` as any other: the first answer of a survey stands.
"""

from __future__ import annotations

import html
import logging
import secrets
from collections.abc import Callable
from typing import Any

from papote.channels.email import render, tokens
from papote.config import Config
from papote.errors import NotFound
from papote.ids import new_id, now_ms
from papote.sites import settings_of
from papote.store import Site, Store
from papote.store.moderation import NpsSurvey
from papote.store.outbox import AddressState, Delivery

log = logging.getLogger("papote.email.nps")

#: Surveys offered within this window are considered: older ones are stale news by email.
NPS_WINDOW_MS = 3 * 86_400_000
#: Surveys decided per round (the next round takes the rest).
NPS_BATCH = 200

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "subject": "How did we do? A question from {site}",
        "ask": "How likely are you to recommend {site} to a friend?",
        "hint": "Choose a score, from 0 (not likely at all) to 10 (very likely):",
        "page_title": "Your opinion of {site}",
        "comment": "Anything to add? (optional)",
        "send": "Send my answer",
        "thanks": "Thank you: your answer was recorded.",
        "invalid": "This link is not valid, or has expired.",
        "why": "You receive this email because you chatted with {site} using this address.",
    },
    "fr": {
        "subject": "Votre avis compte : une question de {site}",
        "ask": "Quelle est la probabilité que vous recommandiez {site} à un ami ?",
        "hint": "Choisissez une note, de 0 (pas du tout probable) à 10 (très probable) :",
        "page_title": "Votre avis sur {site}",
        "comment": "Quelque chose à ajouter ? (facultatif)",
        "send": "Envoyer ma réponse",
        "thanks": "Merci : votre réponse est enregistrée.",
        "invalid": "Ce lien n'est pas valide, ou a expiré.",
        "why": "Vous recevez cet e-mail car vous avez discuté avec {site} avec cette adresse.",
    },
}


def mail(site_name: str, lang: str, links: list[str], unsubscribe: str, message_id: str) -> dict[str, Any]:
    """The payload of the survey mail: the question and one link per score (0–10)."""
    s = STRINGS[lang]
    ask, hint, why = s["ask"].format(site=site_name), s["hint"], s["why"].format(site=site_name)
    scores = "".join(f'<a href="{html.escape(link)}" style="display:inline-block;min-width:28px;padding:6px;'
                     f'margin:2px;border:1px solid #999;border-radius:6px;text-align:center;text-decoration:none">'
                     f"{n}</a>" for n, link in enumerate(links))
    return {
        "lang": lang, "from_name": site_name, "subject": s["subject"].format(site=site_name),
        "text": f"{ask}\n\n{hint}\n\n" + "\n".join(f"{n}: {link}" for n, link in enumerate(links)) + f"\n\n{why}",
        "html": (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"></head>'
                 '<body style="font-family:system-ui,sans-serif;line-height:1.5;color:#111">'
                 f"<p>{html.escape(ask)}</p><p>{html.escape(hint)}</p><p>{scores}</p>"
                 f'<p style="color:#555">{html.escape(why)}</p></body></html>'),
        "reply_to": "", "unsubscribe": unsubscribe, "message_id": message_id, "in_reply_to": "", "references": [],
    }


class NpsMail:
    """`connected(visitor_id)`: whether the visitor has a socket on this node; `unsubscribe_link(site,
    address)`: the link of the email service's unsubscribe page."""

    def __init__(self, store: Store, config: Config, domain: str, connected: Callable[[str], bool],
                 unsubscribe_link: Callable[[Site, str], str]) -> None:
        self.store = store
        self.config = config
        self.domain = domain
        self.connected = connected
        self.unsubscribe_link = unsubscribe_link

    async def scan_once(self, now: int) -> int:
        """Decide the surveys due; returns the mails queued."""
        sites = {s.id: s for s in await self.store.list_sites() if settings_of(s)["nps_enabled"]}
        if not sites:
            return 0
        queued = 0
        # A survey is due `email_delay` after its offer: read up to the latest possible, decide per site.
        for survey in await self.store.nps_email_candidates(list(sites), now - NPS_WINDOW_MS, now, NPS_BATCH):
            site = sites[survey.site_id]
            if now - survey.created_at < int(settings_of(site)["email_delay"]) * 1000:
                continue
            try:
                queued += await self._decide(site, survey, now)
            except Exception:
                log.warning("NPS email decision for %s failed", survey.id, exc_info=True)
        return queued

    async def _decide(self, site: Site, survey: NpsSurvey, now: int) -> int:
        if self.connected(survey.visitor_id):
            return 0  # still here: the widget shows the survey
        visitor = await self.store.get_visitor(survey.visitor_id)
        conv = await self.store.get_conversation(survey.conversation_id)
        if visitor is None or conv is None:
            await self.store.decide_nps_email(survey.id, now)
            return 0
        trusted = visitor.verified and bool(visitor.email)
        address = (visitor.email if trusted else (conv.contact_email or visitor.email)).strip().casefold()
        standing = await self.store.email_address(site.id, address) if address else None
        state = standing.state if standing else None
        if not address or state in (AddressState.UNSUBSCRIBED, AddressState.BOUNCING) or (
                not trusted and state is not AddressState.CONFIRMED):
            await self.store.decide_nps_email(survey.id, now)
            return 0
        lang = render.language(visitor.device.get("locale"), settings_of(site).get("locale"))
        claim = tokens.LinkClaim("nps", site.id, address, visitor.id, now + tokens.NPS_TTL_MS, survey.id)
        token = tokens.sign_link(site.secrets[0], claim)
        base = self.config.base_url
        payload = mail(site.name, lang, [f"{base}/email/nps?t={token}&score={n}" for n in range(11)],
                       self.unsubscribe_link(site, address), f"<papote.nps.{secrets.token_hex(8)}@{self.domain}>")
        delivery = Delivery(new_id("d"), site.id, conv.id, visitor.id, "email", "nps", address, payload,
                            next_attempt_at=now, created_at=now)
        if await self.store.decide_nps_email(survey.id, now, delivery):
            log.info("NPS survey %s queued by email", survey.id)
            return 1
        return 0

    async def survey_of(self, token: str) -> tuple[Site, str]:
        """The site and survey of a genuine, unexpired NPS link; NotFound otherwise."""
        stated = tokens.read_link(token)
        site = await self.store.get_site(stated.site_id) if stated else None
        claim = tokens.verify_link(site.secrets, token, "nps", now_ms()) if site else None
        if site is None or claim is None or not claim.survey:
            raise NotFound("this link is not valid (or has expired)")
        return site, claim.survey
