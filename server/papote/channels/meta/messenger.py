"""Messenger and Instagram Direct (Meta Graph, the same Send API and webhooks; signed as meta/graph.py).

Inbound: `{object: "page" | "instagram", entry: [{id, time, messaging: [{sender: {id}, recipient: {id},
timestamp, message: {mid, text, is_echo?}} | {delivery: {mids?, watermark}} | {read: {watermark}}]}]}`.
Messages dedupe on `mid`; echoes (our own sends) are skipped. Deliveries name their `mids` when Meta gives
them; a delivery without them, and every read, carries a watermark ("everything sent before this time"),
applied to the customer's replies sent before it.

Outbound: `POST {base}/{page id}/messages {recipient: {id}, messaging_type: "RESPONSE", message: {text}}`
→ `{recipient_id, message_id}`. The window is 24 hours from the customer's last message; after it, when
the site enabled it (the app holds the permission), `messaging_type: "MESSAGE_TAG", tag: "HUMAN_AGENT"`
for up to 7 days. Errors 613 and 4 are rate limits; 10, 551 and 10903 refuse the send for good.

The bot's options go as quick replies (`message.quick_replies: [{content_type: "text", title, payload}]`,
13 at most, titles cut at 20 characters as the apps would). A tap comes back as a message whose `text`
is the title and `quick_reply: {payload}` the payload.

Media in: `message.attachments: [{type: image | video | audio | file, payload: {url}}]` (a sticker is an
image with `payload.sticker_id`); the URL is Meta's CDN, fetched without credentials after the webhook is
answered. Other kinds (a location, a shared post: `fallback`, `template`) carry no file and are skipped.

Media out: the same endpoint, multipart: `recipient`, `messaging_type` (and `tag`) as the text's, `message`
= `{attachment: {type: image | file, payload: {is_reusable: false}}}`, the bytes as `filedata`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from papote.channels.messaging.base import (
    WINDOW_MS,
    Button,
    Field,
    Guard,
    Hook,
    Inbound,
    Media,
    OutboundFile,
    Receipt,
    Watermark,
    Window,
    download,
    json_of,
    numbered,
    post,
    refuse,
)
from papote.channels.meta import graph
from papote.channels.outbox import DeliveryError
from papote.store.channels import ChannelAccount, ChannelIdentity
from papote.store.outbox import Delivery
from papote.types import Millis

#: How long the human-agent tag may answer after the customer's last message.
HUMAN_AGENT_MS = 7 * 24 * 3_600_000
RATE_CODES = (613, 4)
WINDOW_CODES = (10, 551, 10903)
MAX_TEXT = 2000
#: Meta's limits on quick replies: 13 of them, 20 characters of title (longer ones are cut by the apps;
#: cutting them here makes the label that comes back the one we sent).
MAX_QUICK_REPLIES = 13
MAX_QUICK_REPLY_TITLE = 20
#: Attachment types that carry a file at `payload.url`.
MEDIA_TYPES = ("image", "video", "audio", "file")


class Messenger(graph.GraphWebhooks):
    kind = "messenger"
    webhook_object = "page"
    fields: tuple[Field, ...] = (
        Field("page_id", "Page ID", pattern=r"[0-9]{5,30}"),
        Field("human_agent", "Answer up to 7 days with the HUMAN_AGENT tag (yes/no)", required=False,
              pattern=r"yes|no"),
        *graph.secret_fields("Page access token"),
    )

    def parse(self, account: ChannelAccount, hook: Hook) -> list[Inbound | Receipt | Watermark]:
        doc = json.loads(hook.body)
        out: list[Inbound | Receipt | Watermark] = []
        if not isinstance(doc, dict) or doc.get("object") != self.webhook_object:
            return out
        for entry in doc.get("entry") or []:
            for event in (entry or {}).get("messaging") or []:
                if not isinstance(event, dict):
                    continue
                sender = str((event.get("sender") or {}).get("id") or "")
                message = event.get("message")
                if isinstance(message, dict) and message.get("mid") and not message.get("is_echo") and sender:
                    media = _media(message)
                    text = message.get("text") or ("" if media else "[attachment]")
                    reply = message.get("quick_reply")
                    tap = reply.get("payload") if isinstance(reply, dict) else None
                    out.append(Inbound(sender, str(message["mid"]), str(text), int(event.get("timestamp") or 0),
                                       data={"tap": str(tap)} if tap else {}, media=media))
                delivery = event.get("delivery")
                if isinstance(delivery, dict):
                    at = int(delivery.get("watermark") or 0)
                    mids = delivery.get("mids") or []
                    out.extend(Receipt(str(mid), "delivered", at) for mid in mids)
                    if not mids and at and sender:
                        out.append(Watermark(sender, "delivered", at))
                read = event.get("read")
                if isinstance(read, dict) and read.get("watermark") and sender:
                    out.append(Watermark(sender, "read", int(read["watermark"])))
        return out

    def window(self, account: ChannelAccount, identity: ChannelIdentity, now: Millis) -> Window:
        closes = identity.last_inbound_at + WINDOW_MS
        if now < closes:
            return Window(True, closes)
        if account.config.get("human_agent") == "yes" and now < identity.last_inbound_at + HUMAN_AGENT_MS:
            return Window(False, closes, fallback="human_agent")
        return Window(False, closes, reason="The customer last wrote more than 24 hours ago (7 days with the "
                                            "human-agent tag): Meta no longer lets the page answer.")

    def payload(self, account: ChannelAccount, identity: ChannelIdentity, body: str, window: Window,
                callback_url: str, buttons: Sequence[Button] = ()) -> dict[str, Any]:
        message: dict[str, Any] = {"text": body[:MAX_TEXT]}
        if buttons and len(buttons) <= MAX_QUICK_REPLIES and body.strip():
            message["quick_replies"] = [{"content_type": "text", "title": _title(b.label), "payload": b.payload}
                                        for b in buttons]
        elif buttons:
            message["text"] = numbered(body, buttons)[:MAX_TEXT]
        out: dict[str, Any] = {"recipient": {"id": identity.address}, "messaging_type": "RESPONSE",
                               "message": message}
        if not window.open:
            out.update(messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
        return out

    async def send(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount,
                   delivery: Delivery) -> str:
        url = f"{base_url}/{account.config['page_id']}/messages"
        response = await post(http, url, json=delivery.payload,
                              headers={"authorization": f"Bearer {account.secrets.get('access_token', '')}"})
        return self._answer(response)

    async def send_file(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount,
                        delivery: Delivery, file: OutboundFile) -> str:
        """The Send API's attachment upload: multipart, `recipient` and `message` as JSON text and the
        bytes as `filedata`."""
        kind = "image" if file.is_photo else "file"
        form = {k: v if isinstance(v, str) else json.dumps(v) for k, v in delivery.payload.items()
                if k not in ("file", "message")}
        form["message"] = json.dumps({"attachment": {"type": kind, "payload": {"is_reusable": False}}})
        response = await post(http, f"{base_url}/{account.config['page_id']}/messages", data=form,
                              files={"filedata": (file.name, file.data, file.content_type)},
                              headers={"authorization": f"Bearer {account.secrets.get('access_token', '')}"})
        return self._answer(response)

    @staticmethod
    def _answer(response: httpx.Response) -> str:
        body = json_of(response)
        if response.is_success:
            if body.get("message_id"):
                return str(body["message_id"])
            raise DeliveryError("the provider accepted the message but gave no id", permanent=True)
        found = body.get("error")
        error: dict[str, Any] = found if isinstance(found, dict) else {}
        code = error.get("code")
        reason = f"{code} {error.get('message', '')}".strip()
        if code in RATE_CODES and response.status_code != 429:
            raise refuse(httpx.Response(429, headers=response.headers), reason)
        raise refuse(response, reason, window_codes=WINDOW_CODES, code=code)

    async def fetch(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount, media: Media,
                    max_bytes: int, guard: Guard) -> bytes:
        return await download(http, media.ref, max_bytes, guard)


def _title(label: str) -> str:
    return label if len(label) <= MAX_QUICK_REPLY_TITLE else label[:MAX_QUICK_REPLY_TITLE - 1] + "…"


def _media(message: dict[str, Any]) -> list[Media]:
    out = []
    for item in message.get("attachments") or []:
        if not isinstance(item, dict) or item.get("type") not in MEDIA_TYPES:
            continue
        payload = item.get("payload")
        url = payload.get("url") if isinstance(payload, dict) else None
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            out.append(Media(url, str(item["type"])))
    return out


class Instagram(Messenger):
    """Instagram Direct: Messenger's API and webhooks, with `object: "instagram"` and the account's id."""

    kind = "instagram"
    webhook_object = "instagram"
