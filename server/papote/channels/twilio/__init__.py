"""Twilio Programmable Messaging (SMS): messages and status callbacks in, messages out.

Inbound auth: `X-Twilio-Signature = base64(HMAC-SHA1(auth token, URL + every POST parameter's name and
value, sorted by name))`, where the URL is exactly the one Twilio called — the account's webhook URL
built from PAPOTE_PUBLIC_URL, so a proxy in front must not change it. Inbound messages are forms with
`MessageSid, From, To, Body`; status callbacks (to the same URL, given as `StatusCallback` on each send)
carry `MessageSid, MessageStatus` (queued, sending, sent, delivered, undelivered, failed, read) and
`ErrorCode`. The answer is an empty TwiML `<Response/>`: no automatic reply.

Outbound: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json` (Basic sid:token), form `To, From,
Body, StatusCallback` → 201 `{sid}`. SMS has no reply window.

Media in (MMS): `NumMedia`, and for each i below it `MediaUrl{i}` and `MediaContentType{i}`. Fetched after
the webhook is answered, with the account's SID and auth token (Twilio may require HTTP Basic auth on
media URLs); the URL redirects to Twilio's storage, where httpx sends no credentials.

Media out (MMS): the same `Messages.json` form with `MediaUrl` = a signed link to the file served by
Papote (`/files/{id}?e=&s=`, papote/attachments/links.py, valid an hour): Twilio fetches it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

import httpx

from papote.channels.messaging.base import (
    Answer,
    Button,
    Field,
    Guard,
    Hook,
    Inbound,
    Media,
    OutboundFile,
    Receipt,
    Watermark,
    WebhookRefused,
    Window,
    download,
    json_of,
    numbered,
    post,
    refuse,
    same,
)
from papote.channels.outbox import DeliveryError
from papote.store.channels import ChannelAccount, ChannelIdentity
from papote.store.outbox import Delivery
from papote.types import Millis

#: Twilio's status words as ours; the ones before the carrier has it (queued, sending) say nothing new.
STATES = {"sent": "sent", "delivered": "delivered", "read": "read", "undelivered": "failed", "failed": "failed"}
#: SMS bodies longer than this are refused by Twilio.
MAX_TEXT = 1600
#: Files one MMS carries at most (Twilio's own bound).
MAX_MEDIA = 10


def signature(auth_token: str, url: str, params: list[tuple[str, str]]) -> str:
    data = url + "".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class Twilio:
    kind = "twilio"
    ok = Answer(200, "<Response></Response>", "text/xml")
    fields: tuple[Field, ...] = (
        Field("account_sid", "Account SID", pattern=r"AC[0-9a-f]{32}"),
        Field("from_number", "Twilio phone number (E.164, e.g. +15551234567)", pattern=r"\+[1-9][0-9]{6,14}"),
        Field("auth_token", "Auth token", secret=True, pattern=r"[0-9a-zA-Z]{16,64}"),
    )

    def handshake(self, account: ChannelAccount, hook: Hook) -> Answer | None:
        return None

    def verify(self, account: ChannelAccount, hook: Hook) -> None:
        given = hook.headers.get("x-twilio-signature")
        if given is None:
            raise WebhookRefused(401, "missing X-Twilio-Signature")
        params = parse_qsl(hook.body.decode("utf-8", "replace"), keep_blank_values=True)
        if not same(signature(account.secrets.get("auth_token", ""), hook.url, params), given):
            raise WebhookRefused(403, "bad X-Twilio-Signature")

    def parse(self, account: ChannelAccount, hook: Hook) -> list[Inbound | Receipt | Watermark]:
        form = dict(parse_qsl(hook.body.decode("utf-8", "replace"), keep_blank_values=True))
        sid = form.get("MessageSid") or form.get("SmsSid")
        if not sid or form.get("AccountSid", account.config.get("account_sid")) != account.config.get("account_sid"):
            return []
        status = form.get("MessageStatus") or form.get("SmsStatus") or "received"
        if status != "received":  # a status callback of a message we sent
            state = STATES.get(status)
            return [Receipt(sid, state, 0, form.get("ErrorCode", ""))] if state else []
        if not form.get("From"):
            return []
        count = form.get("NumMedia", "0")
        media = [Media(form[f"MediaUrl{i}"], _kind(form.get(f"MediaContentType{i}", "")), "",
                       form.get(f"MediaContentType{i}", ""))
                 for i in range(min(int(count) if count.isdigit() else 0, MAX_MEDIA)) if form.get(f"MediaUrl{i}")]
        return [Inbound(form["From"], sid, form.get("Body", ""), 0, "", media=media)]

    def window(self, account: ChannelAccount, identity: ChannelIdentity, now: Millis) -> Window:
        return Window(True)

    def payload(self, account: ChannelAccount, identity: ChannelIdentity, body: str, window: Window,
                callback_url: str, buttons: Sequence[Button] = ()) -> dict[str, Any]:
        if buttons:  # SMS has no buttons: the options are lines the customer types back
            body = numbered(body, buttons)
        return {"To": identity.address, "From": account.config["from_number"], "Body": body[:MAX_TEXT],
                "StatusCallback": callback_url}

    async def send(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount,
                   delivery: Delivery) -> str:
        sid = account.config["account_sid"]
        url = f"{base_url}/2010-04-01/Accounts/{sid}/Messages.json"
        response = await post(http, url, data=delivery.payload, auth=(sid, account.secrets.get("auth_token", "")))
        body = json_of(response)
        if response.is_success:
            if body.get("sid"):
                return str(body["sid"])
            raise DeliveryError("the provider accepted the message but gave no sid", permanent=True)
        raise refuse(response, f"{body.get('code', '')} {body.get('message', '')}".strip())

    async def send_file(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount,
                        delivery: Delivery, file: OutboundFile) -> str:
        """An MMS: Twilio fetches `MediaUrl` itself, so it is our signed link (PAPOTE_PUBLIC_URL must be
        reachable from Twilio), signed afresh at each attempt."""
        return await self.send(http, base_url, account, Delivery(
            delivery.id, delivery.site_id, delivery.conversation_id, delivery.visitor_id, delivery.channel,
            delivery.kind, delivery.target,
            {k: v for k, v in delivery.payload.items() if k != "file"} | {"MediaUrl": file.link}))

    async def fetch(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount, media: Media,
                    max_bytes: int, guard: Guard) -> bytes:
        return await download(http, media.ref, max_bytes, guard,
                              auth=(account.config["account_sid"], account.secrets.get("auth_token", "")))


def _kind(content_type: str) -> str:
    """What the MMS says a file is (image, video, audio; else a file): only how the inbox names it."""
    major = content_type.split("/", 1)[0].lower()
    return major if major in ("image", "video", "audio") else "file"
