"""Telegram Bot API: updates in through a webhook, messages out through `sendMessage`.

Set-up: `setWebhook(url=<the account's webhook URL>, secret_token=<the account's secret token>)`; every
update then carries `X-Telegram-Bot-Api-Secret-Token`, compared in constant time. The bot token never
appears in our URL. Inbound: `{update_id, message: {message_id, from: {id, first_name, last_name},
chat: {id, type}, date, text | caption}}`; the dedupe key is `<chat id>:<message_id>` (an edit,
`edited_message`, is skipped). Outbound: `POST {base}/bot<token>/sendMessage {chat_id, text}` →
`{ok: true, result: {message_id}}`, errors `{ok: false, error_code, description, parameters:
{retry_after}}`. Telegram reports no delivery or read receipts, and has no reply window.

The bot's options go as an inline keyboard, one button a row (`reply_markup: {inline_keyboard: [[{text,
callback_data}]]}`). A tap is no message but a `callback_query` update: `{update_id, callback_query: {id,
from, message: {message_id, chat, reply_markup}, data}}`. It is stored as the customer's message, its
text the tapped button's label (found in the message's keyboard), its dedupe key `cb:<query id>`, and
answered with `answerCallbackQuery {callback_query_id}` once stored (without it the app shows a spinner
on the button until it gives up). Subscribe the webhook to both: `allowed_updates=["message",
"callback_query"]`.

Media in: `photo` (the sizes of one picture, smallest first: the largest is kept), `document`
`{file_id, file_name, mime_type, file_size}`, `video`, `audio`, `voice`, `animation`, `sticker`, each with
an optional `caption`. Fetched after the webhook is answered: `GET {base}/bot<token>/getFile?file_id=` →
`{ok, result: {file_path, file_size}}`, then `GET {base}/file/bot<token>/<file_path>`. Bots may download
files up to 20 MB.

Media out: `sendPhoto` (JPEG, PNG) or `sendDocument` (anything else), multipart with `chat_id` and the
file; the answer is `sendMessage`'s.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from papote.channels.messaging.base import (
    Answer,
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
    WebhookRefused,
    Window,
    download,
    get_json,
    json_of,
    post,
    refuse,
    same,
)
from papote.channels.outbox import DeliveryError
from papote.errors import ErrorCode
from papote.store.channels import ChannelAccount, ChannelIdentity
from papote.store.outbox import Delivery
from papote.types import Millis

#: Telegram's own limit on one message's text.
MAX_TEXT = 4096
#: The message fields that carry one file (besides `photo`, a list of sizes of one picture).
FILE_KINDS = ("document", "video", "audio", "voice", "animation", "sticker", "video_note")


class Telegram:
    kind = "telegram"
    fields: tuple[Field, ...] = (
        Field("bot_token", "Bot token (from @BotFather)", secret=True, pattern=r"[0-9]{3,20}:[A-Za-z0-9_-]{20,100}"),
        Field("secret_token", "Webhook secret token (1-256 of A-Z a-z 0-9 _ -)", secret=True,
              pattern=r"[A-Za-z0-9_-]{1,256}"),
    )

    def handshake(self, account: ChannelAccount, hook: Hook) -> Answer | None:
        return None

    def verify(self, account: ChannelAccount, hook: Hook) -> None:
        given = hook.headers.get("x-telegram-bot-api-secret-token")
        if given is None:
            raise WebhookRefused(401, "missing X-Telegram-Bot-Api-Secret-Token")
        if not same(account.secrets.get("secret_token", ""), given):
            raise WebhookRefused(403, "bad X-Telegram-Bot-Api-Secret-Token")

    def parse(self, account: ChannelAccount, hook: Hook) -> list[Inbound | Receipt | Watermark]:
        update = json.loads(hook.body)
        query = update.get("callback_query") if isinstance(update, dict) else None
        if isinstance(query, dict):
            return _tap(query)
        message = update.get("message") if isinstance(update, dict) else None
        if not isinstance(message, dict) or not isinstance(message.get("chat"), dict):
            return []
        chat = str(message["chat"].get("id"))
        sender = message.get("from") or {}
        name = " ".join(str(sender.get(k) or "") for k in ("first_name", "last_name")).strip()
        media = _media(message)
        text = message.get("text") or message.get("caption") or ("" if media else "[attachment]")
        return [Inbound(chat, f"{chat}:{message.get('message_id')}", str(text),
                        int(message.get("date") or 0) * 1000, name or str(sender.get("username") or ""),
                        media=media)]

    def window(self, account: ChannelAccount, identity: ChannelIdentity, now: Millis) -> Window:
        return Window(True)

    def payload(self, account: ChannelAccount, identity: ChannelIdentity, body: str, window: Window,
                callback_url: str, buttons: Sequence[Button] = ()) -> dict[str, Any]:
        out: dict[str, Any] = {"chat_id": identity.address, "text": body[:MAX_TEXT]}
        if buttons:
            out["reply_markup"] = {"inline_keyboard": [[{"text": b.label, "callback_data": b.payload}]
                                                       for b in buttons]}
        return out

    async def acknowledge(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount,
                          inbound: Inbound) -> None:
        """Tell the app a tap was taken (its spinner stops). Best effort: a failure loses nothing."""
        query = inbound.data.get("callback_query")
        if not query:
            return
        url = f"{base_url}/bot{account.secrets.get('bot_token', '')}/answerCallbackQuery"
        try:
            await http.post(url, json={"callback_query_id": query})
        except httpx.HTTPError:
            pass

    async def send(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount,
                   delivery: Delivery) -> str:
        url = f"{base_url}/bot{account.secrets.get('bot_token', '')}/sendMessage"
        return self._answer(delivery, await post(http, url, json=delivery.payload))

    async def send_file(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount,
                        delivery: Delivery, file: OutboundFile) -> str:
        method, field = ("sendPhoto", "photo") if file.is_photo else ("sendDocument", "document")
        url = f"{base_url}/bot{account.secrets.get('bot_token', '')}/{method}"
        response = await post(http, url, data={"chat_id": delivery.payload["chat_id"]},
                              files={field: (file.name, file.data, file.content_type)})
        return self._answer(delivery, response)

    @staticmethod
    def _answer(delivery: Delivery, response: httpx.Response) -> str:
        body = json_of(response)
        if response.is_success and body.get("ok"):
            result = body.get("result") or {}
            return f"{delivery.payload['chat_id']}:{result.get('message_id')}"
        if response.is_success:
            raise DeliveryError("the provider answered without ok", permanent=True)
        retry = (body.get("parameters") or {}).get("retry_after")
        raise refuse(response, str(body.get("description") or ""), body_retry_after=retry)

    async def fetch(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount, media: Media,
                    max_bytes: int, guard: Guard) -> bytes:
        # The file path names a file of the Bot API the operator configured: no guard needed.
        token = account.secrets.get("bot_token", "")
        found = await get_json(http, f"{base_url}/bot{token}/getFile", params={"file_id": media.ref})
        result = found.get("result") if isinstance(found.get("result"), dict) else None
        if not found.get("ok") or result is None or not result.get("file_path"):
            raise DeliveryError("the provider named no file path", permanent=True)
        size = result.get("file_size")
        if isinstance(size, int) and size > max_bytes:
            raise FileRefused(f"the file is over {max_bytes // (1024 * 1024)} MB", ErrorCode.TOO_LARGE)
        return await download(http, f"{base_url}/file/bot{token}/{result['file_path']}", max_bytes)


def _tap(query: dict[str, Any]) -> list[Inbound | Receipt | Watermark]:
    """A tap on an inline button: the customer's message, its text the button's label."""
    message = query.get("message") or {}
    chat = (message.get("chat") or {}).get("id") if isinstance(message, dict) else None
    data = query.get("data")
    if chat is None or not query.get("id") or not isinstance(data, str):
        return []  # a tap on an inline-mode message (no chat of ours), or a game button
    sender = query.get("from") or {}
    name = " ".join(str(sender.get(k) or "") for k in ("first_name", "last_name")).strip()
    label = data
    for row in ((message.get("reply_markup") or {}).get("inline_keyboard") or []):
        for button in row if isinstance(row, list) else []:
            if isinstance(button, dict) and button.get("callback_data") == data:
                label = str(button.get("text") or data)
    return [Inbound(str(chat), f"cb:{query['id']}", label, 0, name or str(sender.get("username") or ""),
                    {"type": "callback_query", "tap": data, "callback_query": str(query["id"])})]


def _media(message: dict[str, Any]) -> list[Media]:
    photo = message.get("photo")
    if isinstance(photo, list) and photo and isinstance(photo[-1], dict) and photo[-1].get("file_id"):
        return [Media(str(photo[-1]["file_id"]), "image", "", "image/jpeg")]
    for kind in FILE_KINDS:
        item = message.get(kind)
        if isinstance(item, dict) and item.get("file_id"):
            return [Media(str(item["file_id"]), kind, str(item.get("file_name") or ""),
                          str(item.get("mime_type") or ""))]
    return []
