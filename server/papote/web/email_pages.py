"""The two pages an email links to: confirming an address for continuation, and unsubscribing.

Both are reached from a mail by a signed token (`?t=`, channels/email/tokens.py), not a session. A GET
only shows a page with a button: mail scanners and link previews fetch every link in a mail, and must not
confirm or unsubscribe anyone by doing so. The button POSTs the form; `POST /email/unsubscribe` with the
body `List-Unsubscribe=One-Click` is also RFC 8058's one-click unsubscribe that mail clients send from
the `List-Unsubscribe` header. A forged, foreign or expired token gets 404 and changes nothing.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from papote.errors import NotFound
from papote.web.http import papote_of

TEXT = {
    "en": {
        "confirm_title": "Continue by email",
        "confirm_ask": "Get the replies of {site} by email at {email}?",
        "confirm_button": "Yes, send me the replies by email",
        "confirmed": "Done: the replies of {site} will reach {email}. Reply to them to continue the conversation.",
        "unsubscribe_title": "Stop these emails",
        "unsubscribe_ask": "Stop emails about your conversations with {site} at {email}?",
        "unsubscribe_button": "Stop these emails",
        "unsubscribed": "Done: {site} will not email {email} about conversations any more.",
        "invalid": "This link is not valid, or has expired.",
    },
    "fr": {
        "confirm_title": "Continuer par e-mail",
        "confirm_ask": "Recevoir les réponses de {site} par e-mail à {email} ?",
        "confirm_button": "Oui, envoyez-moi les réponses par e-mail",
        "confirmed": "C'est fait : les réponses de {site} arriveront à {email}. Répondez-y pour continuer la "
                     "conversation.",
        "unsubscribe_title": "Ne plus recevoir ces e-mails",
        "unsubscribe_ask": "Ne plus recevoir d'e-mails de {site} sur vos conversations à {email} ?",
        "unsubscribe_button": "Ne plus recevoir ces e-mails",
        "unsubscribed": "C'est fait : {site} n'écrira plus à {email} au sujet des conversations.",
        "invalid": "Ce lien n'est pas valide, ou a expiré.",
    },
}


def _lang(request: Request) -> str:
    accepted = request.headers.get("accept-language", "").lower()
    return "fr" if accepted.startswith("fr") else "en"


def _page(lang: str, title: str, content: str, status: int = 200) -> HTMLResponse:
    body = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="robots" content="noindex"><title>{html.escape(title)}</title></head>'
            '<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;'
            f'line-height:1.5"><main><h1>{html.escape(title)}</h1>{content}</main></body></html>')
    # No referrer: the token in this page's URL must not leak to anything the page loads or links to.
    return HTMLResponse(body, status_code=status, headers={
        "referrer-policy": "no-referrer", "cache-control": "no-store",
        "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"})


async def _page_for(request: Request, purpose: str) -> HTMLResponse:
    lang = _lang(request)
    t = TEXT[lang]
    token = request.query_params.get("t", "")
    email = papote_of(request).email
    title = t[f"{purpose}_title"]
    try:
        if request.method == "POST":
            site, address = await (email.confirm(token) if purpose == "confirm" else email.unsubscribe(token))
            done = t["confirmed" if purpose == "confirm" else "unsubscribed"]
            return _page(lang, title, f"<p>{html.escape(done.format(site=site.name, email=address))}</p>")
        site = await email.check_link(token, purpose)
    except NotFound:
        return _page(lang, title, f"<p>{html.escape(t['invalid'])}</p>", 404)
    from papote.channels.email.tokens import read_link

    claim = read_link(token)
    address = claim.email if claim else ""
    ask = t[f"{purpose}_ask"].format(site=site.name, email=address)
    form = (f'<p>{html.escape(ask)}</p><form method="post" action="/email/{purpose}?t={html.escape(token)}">'
            f'<button type="submit">{html.escape(t[f"{purpose}_button"])}</button></form>')
    return _page(lang, title, form)


async def confirm_page(request: Request) -> HTMLResponse:
    return await _page_for(request, "confirm")


async def unsubscribe_page(request: Request) -> HTMLResponse:
    return await _page_for(request, "unsubscribe")


def routes() -> list[Route]:
    return [
        Route("/email/confirm", confirm_page, methods=["GET", "POST"]),
        Route("/email/unsubscribe", unsubscribe_page, methods=["GET", "POST"]),
    ]
