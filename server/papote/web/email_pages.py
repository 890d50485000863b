"""The pages an email links to: confirming an address for continuation, unsubscribing, and answering the
NPS survey (`/email/nps`, channels/email/nps_mail.py: a GET shows the score chosen in the mail with a
comment box, its form's POST records the answer).

Both are reached from a mail by a signed token (`?t=`, channels/email/tokens.py), not a session. A GET
only shows a page with a button: mail scanners and link previews fetch every link in a mail, and must not
confirm or unsubscribe anyone by doing so. The button POSTs the form; `POST /email/unsubscribe` with the
body `List-Unsubscribe=One-Click` is also RFC 8058's one-click unsubscribe that mail clients send from
the `List-Unsubscribe` header. A forged, foreign or expired token gets 404 and changes nothing.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qs

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


#: The comment of an NPS answer, as in the widget's `nps` frame.
MAX_NPS_COMMENT = 2000
#: A form larger than this is no answer to a survey.
MAX_FORM_BYTES = 16 * 1024


async def nps_page(request: Request) -> HTMLResponse:
    from papote.channels.email.nps_mail import STRINGS

    lang = _lang(request)
    t = STRINGS[lang]
    token = request.query_params.get("t", "")
    papote = papote_of(request)
    try:
        site, survey = await papote.email.nps.survey_of(token)
    except NotFound:
        return _page(lang, t["invalid"], f"<p>{html.escape(t['invalid'])}</p>", 404)
    title = t["page_title"].format(site=site.name)
    if request.method == "POST":
        raw = await request.body()
        form = parse_qs(raw[:MAX_FORM_BYTES].decode(errors="replace"))
        score = (form.get("score") or [""])[0]
        if score.isdigit() and 0 <= int(score) <= 10:
            comment = (form.get("comment") or [""])[0][:MAX_NPS_COMMENT]
            try:
                await papote.nps.answer_by_link(survey, int(score), comment)
            except NotFound:
                return _page(lang, title, f"<p>{html.escape(t['invalid'])}</p>", 404)
            return _page(lang, title, f"<p>{html.escape(t['thanks'])}</p>")
    chosen = request.query_params.get("score", "")
    radios = "".join(
        f'<label style="display:inline-block;margin:2px 4px"><input type="radio" name="score" value="{n}" required'
        f'{" checked" if chosen == str(n) else ""}> {n}</label>' for n in range(11))
    form_html = (f'<p>{html.escape(t["ask"].format(site=site.name))}</p>'
                 f'<form method="post" action="/email/nps?t={html.escape(token)}">'
                 f'<fieldset style="border:0;padding:0"><legend>{html.escape(t["hint"])}</legend>{radios}</fieldset>'
                 f'<p><label>{html.escape(t["comment"])}<br><textarea name="comment" rows="3" cols="40" '
                 f'maxlength="{MAX_NPS_COMMENT}"></textarea></label></p>'
                 f'<button type="submit">{html.escape(t["send"])}</button></form>')
    return _page(lang, title, form_html)


def routes() -> list[Route]:
    return [
        Route("/email/confirm", confirm_page, methods=["GET", "POST"]),
        Route("/email/unsubscribe", unsubscribe_page, methods=["GET", "POST"]),
        Route("/email/nps", nps_page, methods=["GET", "POST"]),
    ]
