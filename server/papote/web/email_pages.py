"""The pages an email links to: confirming an address for continuation, unsubscribing, answering the
NPS survey (`/email/nps`, channels/email/nps_mail.py: a GET shows the score chosen in the mail with a
comment box, its form's POST records the answer), and an agent's password reset (`/password/reset?t=…`,
whose form posts the new password back to itself).

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

from papote.accounts import MAX_PASSWORD, MIN_PASSWORD
from papote.errors import NotFound, RateLimited
from papote.web.http import papote_of
from papote.web.mail_api import apply_reset

#: The reset form's body: one password of at most 256 characters, URL-encoded (up to 12 bytes each).
MAX_FORM_BYTES = 4096

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
        "reset_title": "Choose a new password",
        "reset_label": "New password (8 characters or more)",
        "reset_button": "Set the password",
        "reset_done": "Done: your password is changed, and every session signed out. Sign in with it now.",
        "reset_short": "A password needs 8 to 256 characters.",
        "reset_busy": "Too many attempts from your network; try again later.",
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
        "reset_title": "Choisir un nouveau mot de passe",
        "reset_label": "Nouveau mot de passe (8 caractères ou plus)",
        "reset_button": "Enregistrer le mot de passe",
        "reset_done": "C'est fait : votre mot de passe est changé, et toutes les sessions fermées. Connectez-vous "
                      "avec lui.",
        "reset_short": "Un mot de passe compte de 8 à 256 caractères.",
        "reset_busy": "Trop de tentatives depuis votre réseau ; réessayez plus tard.",
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
#: A form larger than this is no answer to a survey (a comment of 2,000 characters, percent-encoded).
MAX_NPS_FORM_BYTES = 16 * 1024


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
        form = parse_qs(raw[:MAX_NPS_FORM_BYTES].decode(errors="replace"))
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


async def reset_page(request: Request) -> HTMLResponse:
    """GET: the form (a link preview fetching it changes nothing), or 404 for a link unknown, used or
    expired. POST (the form): the new password, then the answer."""
    lang = _lang(request)
    t = TEXT[lang]
    token = request.query_params.get("t", "")
    title = t["reset_title"]
    if request.method == "POST":
        # A form of one field, read by hand (Starlette's form parser needs python-multipart), bounded.
        raw = await request.body()
        fields = parse_qs(raw[:MAX_FORM_BYTES].decode("utf-8", "replace"))
        password = (fields.get("password") or [""])[0]
        if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
            return _page(lang, title, f"<p>{html.escape(t['reset_short'])}</p>{_reset_form(token, t)}", 400)
        try:
            await apply_reset(papote_of(request), request, token, password)
        except NotFound:
            return _page(lang, title, f"<p>{html.escape(t['invalid'])}</p>", 404)
        except RateLimited:
            return _page(lang, title, f"<p>{html.escape(t['reset_busy'])}</p>", 429)
        return _page(lang, title, f"<p>{html.escape(t['reset_done'])}</p><p><a href=\"/console\">Papote</a></p>")
    if not await papote_of(request).accounts.reset_link_live(token):
        return _page(lang, title, f"<p>{html.escape(t['invalid'])}</p>", 404)
    return _page(lang, title, _reset_form(token, t))


def _reset_form(token: str, t: dict[str, str]) -> str:
    return (f'<form method="post" action="/password/reset?t={html.escape(token)}"><label>'
            f'{html.escape(t["reset_label"])}<br><input type="password" name="password" minlength="{MIN_PASSWORD}" '
            f'maxlength="{MAX_PASSWORD}" autocomplete="new-password" required></label>'
            f'<p><button type="submit">{html.escape(t["reset_button"])}</button></p></form>')


def routes() -> list[Route]:
    return [
        Route("/password/reset", reset_page, methods=["GET", "POST"]),
        Route("/email/confirm", confirm_page, methods=["GET", "POST"]),
        Route("/email/unsubscribe", unsubscribe_page, methods=["GET", "POST"]),
        Route("/email/nps", nps_page, methods=["GET", "POST"]),
    ]
