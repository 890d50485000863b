"""The bot's preview: the console's editor runs the real stepper on the tree being edited, unsaved.

The tree itself is a site setting (`settings.bot`, PATCH /api/sites/{key}); this route only answers "what
would the bot say to this?" for a draft, so the preview in the console is the bot, not an imitation of
it. Nothing is stored and no conversation is touched.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from papote.authz import Action, Principal
from papote.bot.stepper import Context, Handover, Input, Output, Remember, Resolved, Say, State, step
from papote.bot.tree import check_bot
from papote.sites import settings_of
from papote.web import api_schemas as shapes
from papote.web.http import Endpoint, json_body, site_for


def output_json(out: Output) -> dict[str, Any]:
    if isinstance(out, Say):
        return {"kind": "say", "text": out.text, "options": [{"label": lb, "value": v} for lb, v in out.options]}
    if isinstance(out, Handover):
        return {"kind": "handover", "reason": out.reason, "group": out.group}
    if isinstance(out, Remember):
        return {"kind": "remember", "field": out.field, "value": out.value}
    assert isinstance(out, Resolved)
    return {"kind": "resolved"}


async def preview(request: Request, principal: Principal | None) -> Any:
    site = await site_for(request, principal, Action.MANAGE_SITE)
    body = await json_body(request)
    bot = check_bot(body["bot"]) if body.get("bot") is not None else settings_of(site)["bot"]
    said = body.get("input") or {}
    ctx = body.get("context") or {}
    context = Context(open_now=ctx.get("open_now", True), agents_online=ctx.get("agents_online", 1),
                      page_url=ctx.get("page_url", ""), language=ctx.get("language") or None,
                      email=ctx.get("email", ""), can_email=ctx.get("can_email", True))
    state, outputs = step(bot, State.of(body.get("state")), Input(said.get("text", ""), said.get("choice")), context)
    return {"state": state.as_dict(), "outputs": [output_json(o) for o in outputs]}


ENDPOINTS: list[Endpoint] = [
    Endpoint("POST", "/api/sites/{key}/bot/preview", "What the bot would answer (a draft tree, nothing stored)",
             preview, body=shapes.BOT_PREVIEW, response=shapes.BOT_PREVIEWED),
]
