"""WhatsApp Cloud API (Meta Graph): webhooks in, messages out, the 24-hour customer-service window.

Inbound (`POST`, signed like every Meta webhook, meta/graph.py): `{object: "whatsapp_business_account",
entry: [{id, changes: [{field: "messages", value: {metadata: {phone_number_id}, contacts: [{profile:
{name}, wa_id}], messages: [{from, id: "wamid…", timestamp, type, text: {body}}] | statuses: [{id,
status: sent|delivered|read|failed, timestamp, recipient_id, errors: [{code, title}]}]}}]}]}`. Several
entries and changes may come in one request; a change for another phone number is skipped.

Outbound: `POST {base}/{phone_number_id}/messages` with a Bearer token, `{messaging_product: "whatsapp",
recipient_type: "individual", to, type: "text", text: {body}}` → `{messages: [{id}]}`. Outside the
window only an approved template may go: the site's configured one, its one body parameter filled with
the agent's text. Errors: 131047 (the window is shut: for good), 130429/131056/80007 (rate limits: wait).

The bot's options go as WhatsApp's own buttons: up to 3 whose labels fit 20 characters as reply buttons
(`type: "interactive", interactive: {type: "button", body: {text}, action: {buttons: [{type: "reply",
reply: {id, title}}]}}`), else up to 10 whose labels fit 24 as a list (`interactive: {type: "list", body,
action: {button, sections: [{rows: [{id, title}]}]}}`), else numbered lines; a body over 1024 characters
or a closed window (a template carries no buttons of ours) also gets the numbered lines. A tap comes
back as a message of `type: "interactive"` with `interactive: {type: "button_reply" | "list_reply",
button_reply | list_reply: {id, title}}`: the id is the button's payload, the title its label.

Media in: a message of type image, document, audio, video or sticker carries `{<type>: {id, mime_type,
sha256, caption?, filename?}}`. The file is fetched after the webhook is answered: `GET {base}/{media id}`
(Bearer) → `{url, mime_type, sha256, file_size, id}`, then `GET url` with the same Bearer token (the URL
lives 5 minutes: each attempt asks for a fresh one).

Media out: `POST {base}/{phone_number_id}/media` (multipart: `file`, `type`, `messaging_product`) → `{id}`,
then a message `{type: "image", image: {id}}` (JPEG, PNG) or `{type: "document", document: {id, filename}}`
(anything else). Only inside the window: a template carries text only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NoReturn

import httpx

from papote.channels.messaging.base import (
    WINDOW_MS,
    Button,
    Field,
    FileRefused,
    Guard,
    Hook,
    Inbound,
    Media,
    OutboundFile,
    Receipt,
    Watermark,
    Window,
    download,
    get_json,
    json_of,
    numbered,
    post,
    refuse,
)
from papote.channels.meta import graph
from papote.channels.outbox import DeliveryError
from papote.errors import ErrorCode
from papote.store.channels import ChannelAccount, ChannelIdentity
from papote.store.outbox import Delivery
from papote.types import Millis

#: Graph error codes: the customer's window is shut; rate limits (per number, per pair, per app).
WINDOW_CODES = (131047,)
RATE_CODES = (130429, 131056, 80007, 4)
#: What a message of a kind Papote does not read becomes in the inbox (a location, a contact card…).
PLACEHOLDER = "[{type}]"
#: The kinds of message that carry a file, fetched and kept as the message's attachment.
MEDIA_KINDS = ("image", "document", "audio", "video", "sticker")
#: WhatsApp's limits on interactive messages: reply buttons (3, titles of 20), list rows (10, titles of
#: 24), the list's own button text (20) and the body (1024). Past them the numbered text goes instead.
MAX_REPLY_BUTTONS = 3
MAX_BUTTON_TITLE = 20
MAX_LIST_ROWS = 10
MAX_ROW_TITLE = 24
MAX_INTERACTIVE_BODY = 1024
#: The list's button: one word that reads the same in English and French (the bot speaks both).
LIST_BUTTON = "Options"


class WhatsApp(graph.GraphWebhooks):
    kind = "whatsapp"
    fields: tuple[Field, ...] = (
        Field("phone_number_id", "Phone number ID", pattern=r"[0-9]{5,30}"),
        Field("template", "Template for replies after 24 hours (optional)", required=False,
              pattern=r"[a-z0-9_]{1,512}"),
        Field("template_language", "Template language (optional, default en_US)", required=False,
              pattern=r"[A-Za-z_]{2,10}"),
        *graph.secret_fields("Access token"),
    )

    def parse(self, account: ChannelAccount, hook: Hook) -> list[Inbound | Receipt | Watermark]:
        doc = json.loads(hook.body)
        out: list[Inbound | Receipt | Watermark] = []
        if not isinstance(doc, dict) or doc.get("object") != "whatsapp_business_account":
            return out
        for entry in doc.get("entry") or []:
            for change in (entry or {}).get("changes") or []:
                value = (change or {}).get("value") or {}
                if change.get("field") != "messages" or not isinstance(value, dict):
                    continue
                number = str((value.get("metadata") or {}).get("phone_number_id") or "")
                if number != str(account.config.get("phone_number_id")):
                    continue  # another number of the same business account
                names = {str(c.get("wa_id")): str((c.get("profile") or {}).get("name") or "")
                         for c in value.get("contacts") or [] if isinstance(c, dict)}
                for m in value.get("messages") or []:
                    if isinstance(m, dict) and m.get("id") and m.get("from"):
                        sender = str(m["from"])
                        data = {"type": str(m.get("type") or "text")}
                        tap = _tap(m)
                        if tap:
                            data["tap"] = tap
                        out.append(Inbound(sender, str(m["id"]), _text(m), _millis(m.get("timestamp")),
                                           names.get(sender, ""), data, _media(m)))
                for s in value.get("statuses") or []:
                    if isinstance(s, dict) and s.get("id") and s.get("status") in ("sent", "delivered", "read",
                                                                                   "failed"):
                        errors = s.get("errors") or []
                        error = ""
                        if errors and isinstance(errors[0], dict):
                            error = f"{errors[0].get('code', '')} {errors[0].get('title', '')}".strip()
                        out.append(Receipt(str(s["id"]), str(s["status"]), _millis(s.get("timestamp")), error))
        return out

    def window(self, account: ChannelAccount, identity: ChannelIdentity, now: Millis) -> Window:
        closes = identity.last_inbound_at + WINDOW_MS
        if now < closes:
            return Window(True, closes)
        if account.config.get("template"):
            return Window(False, closes, fallback="template")
        return Window(False, closes, reason="The customer last wrote more than 24 hours ago: WhatsApp only "
                                            "lets a business answer with an approved template, and none is "
                                            "configured for this account.")

    def payload(self, account: ChannelAccount, identity: ChannelIdentity, body: str, window: Window,
                callback_url: str, buttons: Sequence[Button] = ()) -> dict[str, Any]:
        base: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual",
                                "to": identity.address}
        if window.open and buttons:
            interactive = _interactive(body, buttons)
            if interactive is not None:
                return {**base, "type": "interactive", "interactive": interactive}
        if buttons:
            body = numbered(body, buttons)
        if window.open:
            return {**base, "type": "text", "text": {"body": body, "preview_url": False}}
        return {**base, "type": "template", "template": {
            "name": account.config["template"],
            "language": {"code": account.config.get("template_language") or "en_US"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": body}]}],
        }}

    async def send(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount,
                   delivery: Delivery) -> str:
        return await self._post_message(http, base_url, account, delivery.payload)

    async def send_file(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount,
                        delivery: Delivery, file: OutboundFile) -> str:
        """Upload the file (`POST /{number}/media`, multipart) and send a message naming its media id. A
        retry uploads again: an uploaded file nobody sends expires at Meta after 30 days."""
        auth = {"authorization": f"Bearer {account.secrets.get('access_token', '')}"}
        response = await post(http, f"{base_url}/{account.config['phone_number_id']}/media", headers=auth,
                              data={"messaging_product": "whatsapp", "type": file.content_type},
                              files={"file": (file.name, file.data, file.content_type)})
        uploaded = json_of(response)
        if not response.is_success or not uploaded.get("id"):
            self._refused(response, uploaded)
        kind = "image" if file.is_photo else "document"
        media: dict[str, Any] = {"id": str(uploaded["id"])}
        if kind == "document":
            media["filename"] = file.name
        base = {k: delivery.payload[k] for k in ("messaging_product", "recipient_type", "to")}
        return await self._post_message(http, base_url, account, {**base, "type": kind, kind: media})

    async def _post_message(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount,
                            payload: dict[str, Any]) -> str:
        url = f"{base_url}/{account.config['phone_number_id']}/messages"
        response = await post(http, url, json=payload,
                              headers={"authorization": f"Bearer {account.secrets.get('access_token', '')}"})
        body = json_of(response)
        if response.is_success:
            messages = body.get("messages") or []
            if messages and isinstance(messages[0], dict) and messages[0].get("id"):
                return str(messages[0]["id"])
            raise DeliveryError("the provider accepted the message but gave no id", permanent=True)
        self._refused(response, body)

    @staticmethod
    def _refused(response: httpx.Response, body: dict[str, Any]) -> NoReturn:
        if response.is_success:
            raise DeliveryError("the provider accepted the file but gave no id", permanent=True)
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        code = error.get("code")
        reason = f"{code} {error.get('message', '')}".strip()
        if code in RATE_CODES and response.status_code != 429:
            raise refuse(httpx.Response(429, headers=response.headers), reason)
        raise refuse(response, reason, window_codes=WINDOW_CODES, code=code)

    async def fetch(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount, media: Media,
                    max_bytes: int, guard: Guard) -> bytes:
        # The URL comes from the Graph API named by the operator's configuration, not from a webhook.
        auth = {"authorization": f"Bearer {account.secrets.get('access_token', '')}"}
        info = await get_json(http, f"{base_url}/{media.ref}", headers=auth)
        if not info.get("url"):
            raise DeliveryError("the provider named no URL for the file", permanent=True)
        size = str(info.get("file_size") or "")
        if size.isdigit() and int(size) > max_bytes:
            raise FileRefused(f"the file is over {max_bytes // (1024 * 1024)} MB", ErrorCode.TOO_LARGE)
        return await download(http, str(info["url"]), max_bytes, headers=auth)


def _interactive(body: str, buttons: Sequence[Button]) -> dict[str, Any] | None:
    """The interactive object for the options, or None when they fit neither buttons nor a list."""
    if not body.strip() or len(body) > MAX_INTERACTIVE_BODY:
        return None
    longest = max(len(b.label) for b in buttons)
    if len(buttons) <= MAX_REPLY_BUTTONS and longest <= MAX_BUTTON_TITLE:
        return {"type": "button", "body": {"text": body}, "action": {"buttons": [
            {"type": "reply", "reply": {"id": b.payload, "title": b.label}} for b in buttons]}}
    if len(buttons) <= MAX_LIST_ROWS and longest <= MAX_ROW_TITLE:
        return {"type": "list", "body": {"text": body}, "action": {"button": LIST_BUTTON, "sections": [
            {"rows": [{"id": b.payload, "title": b.label} for b in buttons]}]}}
    return None


def _tap(m: dict[str, Any]) -> str:
    """The payload of a tapped button (an interactive reply's id, a template button's payload), or ""."""
    if m.get("type") == "interactive":
        reply = m.get("interactive") or {}
        chosen = reply.get("button_reply") or reply.get("list_reply") or {}
        return str(chosen.get("id") or "") if isinstance(chosen, dict) else ""
    if m.get("type") == "button":
        return str((m.get("button") or {}).get("payload") or "")
    return ""


def _text(m: dict[str, Any]) -> str:
    kind = str(m.get("type") or "text")
    if kind == "text":
        return str((m.get("text") or {}).get("body") or "")
    if kind == "button":
        return str((m.get("button") or {}).get("text") or "")
    if kind == "interactive":
        reply = (m.get("interactive") or {})
        chosen = reply.get("button_reply") or reply.get("list_reply") or {}
        return str(chosen.get("title") or PLACEHOLDER.format(type=kind))
    caption = (m.get(kind) or {}).get("caption") if isinstance(m.get(kind), dict) else None
    if kind in MEDIA_KINDS:
        return str(caption or "")  # the file itself follows as the message's attachment
    return str(caption or PLACEHOLDER.format(type=kind))


def _media(m: dict[str, Any]) -> list[Media]:
    kind = str(m.get("type") or "")
    item = m.get(kind)
    if kind not in MEDIA_KINDS or not isinstance(item, dict) or not item.get("id"):
        return []
    return [Media(str(item["id"]), kind, str(item.get("filename") or ""), str(item.get("mime_type") or ""))]


def _millis(timestamp: Any) -> Millis:
    try:
        return int(timestamp) * 1000
    except (TypeError, ValueError):
        return 0
