"""Fake messaging providers: one small Starlette app served by uvicorn on a free loopback port, in a
thread of its own (so a module's server fixture can be given its URL before it starts).

* Their send APIs, as the real ones answer: Meta Graph (`/meta/{id}/messages`, WhatsApp and Messenger,
  JSON or Messenger's multipart upload; WhatsApp's `/meta/{id}/media` upload), Telegram
  (`/telegram/bot{token}/sendMessage`, `sendPhoto`, `sendDocument`), Twilio
  (`/twilio/2010-04-01/Accounts/{sid}/Messages.json`).
  Each records what it received, and answers from a script when one is set (`script(kind, ...)`): "429"
  (with a Retry-After), "500", "timeout" (answers after the client gave up), "window" (WhatsApp's 131047).
* Their media, as the real ones serve it: files a test puts there (`add_file`) are named in webhooks
  and fetched by Papote — WhatsApp's `GET /meta/{media id}` (Bearer) → a URL, then `GET` that URL with
  the Bearer; Telegram's `getFile` → `file_path`, then `/telegram/file/bot{token}/{path}`; Twilio's media
  URL (Basic auth) redirecting to storage without credentials; Messenger's CDN URL (no credentials).
  Every file GET is recorded (`fetches`) and answers from the script "media" first ("500", "404").
* The webhook side, toward Papote: signers exactly like the providers' (`meta_signature`,
  `twilio_signature`), and payload builders; tests post them (and re-post, and shuffle them).
* Buttons: the send APIs check interactive messages, inline keyboards and quick replies against the
  providers' limits and refuse what the real ones refuse (`invalid()`), and `whatsapp_tap`,
  `telegram_tap`, `messenger_tap` build the webhook a customer's tap on a sent button makes, in the
  provider's own shape. Telegram's `answerCallbackQuery` is recorded like a send.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.harness import free_port


def meta_signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    data = url + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def meta_body(doc: dict[str, Any]) -> bytes:
    """JSON as Meta sends it: non-ASCII escaped as \\uXXXX (the signature is over these bytes)."""
    return json.dumps(doc, ensure_ascii=True).encode()


def whatsapp_message(phone_number_id: str, sender: str, wamid: str, text: str, name: str = "Ann",
                     at: int | None = None) -> dict[str, Any]:
    return _change(phone_number_id, {
        "contacts": [{"profile": {"name": name}, "wa_id": sender}],
        "messages": [{"from": sender, "id": wamid, "timestamp": str(at if at is not None else int(time.time())),
                      "type": "text", "text": {"body": text}}],
    })


def whatsapp_status(phone_number_id: str, wamid: str, status: str, recipient: str,
                    error_code: int | None = None) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": wamid, "status": status, "timestamp": str(int(time.time())),
                             "recipient_id": recipient}
    if error_code is not None:
        entry["errors"] = [{"code": error_code, "title": "Re-engagement message"}]
    return _change(phone_number_id, {"statuses": [entry]})


def _change(phone_number_id: str, value: dict[str, Any]) -> dict[str, Any]:
    """One WhatsApp webhook change for the number, in the envelope Meta posts."""
    value = {"messaging_product": "whatsapp",
             "metadata": {"display_phone_number": "15550001111", "phone_number_id": phone_number_id}, **value}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": "WABA1", "changes": [{"field": "messages", "value": value}]}]}


def whatsapp_tap(phone_number_id: str, sent: Sent, index: int, wamid: str, name: str = "Ann") -> dict[str, Any]:
    """The webhook of a tap on the `index`-th button (or list row) of an interactive message we sent."""
    body = sent.body
    interactive = body["interactive"]
    if interactive["type"] == "button":
        reply = dict(interactive["action"]["buttons"][index]["reply"])
        chosen: dict[str, Any] = {"type": "button_reply", "button_reply": reply}
    else:
        rows = [row for section in interactive["action"]["sections"] for row in section["rows"]]
        row = rows[index]
        chosen = {"type": "list_reply", "list_reply": {"id": row["id"], "title": row["title"],
                                                       **({"description": row["description"]}
                                                          if "description" in row else {})}}
    return _change(phone_number_id, {
        "contacts": [{"profile": {"name": name}, "wa_id": body["to"]}],
        "messages": [{"context": {"from": "15550001111", "id": sent.provider_id}, "from": body["to"], "id": wamid,
                      "timestamp": str(int(time.time())), "type": "interactive", "interactive": chosen}],
    })


def telegram_tap(sent: Sent, index: int, update_id: int, query_id: str, first_name: str = "Tess") -> dict[str, Any]:
    """The `callback_query` update of a tap on the `index`-th inline button of a message we sent."""
    body = sent.body
    keyboard = body["reply_markup"]["inline_keyboard"]
    buttons = [button for row in keyboard for button in row]
    chat = int(body["chat_id"])
    return {"update_id": update_id, "callback_query": {
        "id": query_id, "chat_instance": "-77123",
        "from": {"id": chat, "is_bot": False, "first_name": first_name},
        "message": {"message_id": int(sent.provider_id.split(":")[1]), "date": int(time.time()),
                    "from": {"id": 123456, "is_bot": True, "first_name": "Shop bot"},
                    "chat": {"id": chat, "type": "private"}, "text": body["text"],
                    "reply_markup": body["reply_markup"]},
        "data": buttons[index]["callback_data"]}}


def messenger_tap(page_id: str, sent: Sent, index: int, mid: str, kind: str = "page") -> dict[str, Any]:
    """The webhook of a tap on the `index`-th quick reply of a message we sent (Messenger or Instagram)."""
    reply = sent.body["message"]["quick_replies"][index]
    at = int(time.time() * 1000)
    return {"object": kind, "entry": [{"id": page_id, "time": at, "messaging": [
        {"sender": {"id": sent.body["recipient"]["id"]}, "recipient": {"id": page_id}, "timestamp": at,
         "message": {"mid": mid, "text": reply["title"], "quick_reply": {"payload": reply["payload"]}}}]}]}


def invalid(kind: str, body: Any) -> str | None:
    """What the real provider would refuse in a send's buttons (its limits), or None."""
    if kind == "meta" and isinstance(body, dict) and body.get("type") == "interactive":
        interactive = body["interactive"]
        if not interactive.get("body", {}).get("text") or len(interactive["body"]["text"]) > 1024:
            return "interactive body must be 1 to 1024 characters"
        if interactive["type"] == "button":
            buttons = interactive["action"]["buttons"]
            if not 1 <= len(buttons) <= 3 or any(len(b["reply"]["title"]) > 20 or len(b["reply"]["id"]) > 256
                                                 for b in buttons):
                return "reply buttons: 1 to 3, titles of 20 characters, ids of 256"
        elif interactive["type"] == "list":
            rows = [row for section in interactive["action"]["sections"] for row in section["rows"]]
            if (not 1 <= len(rows) <= 10 or len(interactive["action"]["button"]) > 20
                    or any(len(r["title"]) > 24 or len(r["id"]) > 200 for r in rows)):
                return "list: 1 to 10 rows, titles of 24 characters, ids of 200, a button of 20"
        else:
            return f"unknown interactive type {interactive['type']}"
    if kind == "meta" and isinstance(body, dict) and isinstance(body.get("message"), dict):
        replies = body["message"].get("quick_replies")
        if replies is not None and (not 1 <= len(replies) <= 13 or any(
                r.get("content_type") != "text" or not r.get("title") or len(r.get("payload", "")) > 1000
                for r in replies)):
            return "quick replies: 1 to 13 text ones with a title, payloads of 1000"
    if kind == "telegram" and isinstance(body, dict) and "reply_markup" in body:
        for row in body["reply_markup"]["inline_keyboard"]:
            for button in row:
                if not button.get("text") or not 1 <= len(button.get("callback_data", "").encode()) <= 64:
                    return "Bad Request: BUTTON_DATA_INVALID"
    return None


@dataclass
class Sent:
    kind: str
    path: str
    body: Any
    headers: dict[str, str]
    at: float
    #: The provider's id for it, when it was accepted.
    provider_id: str = ""


@dataclass
class FakeProviders:
    port: int = field(default_factory=free_port)
    sent: list[Sent] = field(default_factory=list)
    #: Per kind ("meta", "telegram", "twilio"): scripted answers, used up in order before normal ones.
    scripts: dict[str, list[str]] = field(default_factory=dict)
    retry_after: int = 2
    #: Set when a "hang" answer took a request: the provider has it, and Papote waits for an answer.
    hung: threading.Event = field(default_factory=threading.Event)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    #: Files served to Papote: key → (bytes, content type).
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    #: Every GET of a file's bytes: (path, authorization header or "").
    fetches: list[tuple[str, str]] = field(default_factory=list)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def script(self, kind: str, *answers: str) -> None:
        with self._lock:
            self.scripts.setdefault(kind, []).extend(answers)

    def sends(self, kind: str) -> list[Sent]:
        with self._lock:
            return [s for s in self.sent if s.kind == kind]

    def _next(self, kind: str) -> str | None:
        with self._lock:
            queue = self.scripts.get(kind) or []
            return queue.pop(0) if queue else None

    async def _fault(self, kind: str, answer: str | None) -> Response | None:
        if answer is None:
            return None
        if answer == "429":
            if kind == "telegram":
                return JSONResponse({"ok": False, "error_code": 429, "description": "Too Many Requests: retry later",
                                     "parameters": {"retry_after": self.retry_after}}, status_code=429)
            return JSONResponse({"error": {"message": "rate limit", "code": 130429}}, status_code=429,
                                headers={"retry-after": str(self.retry_after)})
        if answer == "500":
            return JSONResponse({"error": {"message": "internal", "code": 1}}, status_code=500)
        if answer == "timeout":
            await asyncio.sleep(5)
            return JSONResponse({"error": {"message": "late", "code": 2}}, status_code=500)
        if answer == "hang":  # accepted, then no answer: the caller dies or gives up first
            self.hung.set()
            await asyncio.sleep(30)
            return JSONResponse({"error": {"message": "late", "code": 2}}, status_code=500)
        if answer == "window":
            return JSONResponse({"error": {"message": "Re-engagement message", "code": 131047}}, status_code=400)
        raise AssertionError(f"unknown scripted answer {answer}")

    async def _record(self, kind: str, request: Request) -> tuple[Response | None, Sent]:
        raw = await request.body()
        kind_of_body = request.headers.get("content-type", "")
        body: Any
        if kind_of_body.startswith("multipart/form-data"):
            # An upload: its text fields as they are, each file as {filename, content_type, data}.
            body = {}
            async with request.form() as form:  # closes the uploads' spooled files
                for key, value in form.multi_items():
                    if isinstance(value, str):
                        body[key] = value
                    else:
                        body[key] = {"filename": value.filename, "content_type": value.content_type,
                                     "data": await value.read()}
        else:
            body = json.loads(raw) if raw and "json" in kind_of_body else dict(parse_qsl(raw.decode()))
        answer = self._next(kind)
        sent = Sent(kind, request.url.path, body, dict(request.headers), time.monotonic())
        with self._lock:
            self.sent.append(sent)
        wrong = invalid(kind, body)
        if wrong is not None and answer is None:
            if kind == "telegram":
                return JSONResponse({"ok": False, "error_code": 400, "description": wrong}, status_code=400), sent
            return JSONResponse({"error": {"message": wrong, "code": 100}}, status_code=400), sent
        return await self._fault(kind, answer), sent

    async def meta(self, request: Request) -> Response:
        fault, sent = await self._record("meta", request)
        if fault is not None:
            return fault
        body = sent.body
        if body.get("messaging_product") == "whatsapp":
            sent.provider_id = f"wamid.fake{next(self._ids)}"
            return JSONResponse({"messaging_product": "whatsapp",
                                 "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                                 "messages": [{"id": sent.provider_id}]})
        sent.provider_id = f"m_fake{next(self._ids)}"
        recipient = json.loads(body["recipient"]) if isinstance(body["recipient"], str) else body["recipient"]
        return JSONResponse({"recipient_id": recipient["id"], "message_id": sent.provider_id})

    async def meta_upload(self, request: Request) -> Response:
        """WhatsApp's media upload: a multipart file in, a media id out (sends then name it)."""
        fault, sent = await self._record("meta-upload", request)
        if fault is not None:
            return fault
        if sent.body.get("messaging_product") != "whatsapp" or not isinstance(sent.body.get("file"), dict):
            return JSONResponse({"error": {"message": "missing file", "code": 100}}, status_code=400)
        sent.provider_id = f"{next(self._ids) + 900000}"
        return JSONResponse({"id": sent.provider_id})

    async def telegram(self, request: Request) -> Response:
        fault, sent = await self._record("telegram", request)
        if fault is not None:
            return fault
        n = next(self._ids)
        sent.provider_id = f"{sent.body['chat_id']}:{n}"
        return JSONResponse({"ok": True, "result": {"message_id": n, "chat": {"id": sent.body["chat_id"]},
                                                    "text": sent.body.get("text", "")}})

    async def telegram_answer(self, request: Request) -> Response:
        """answerCallbackQuery: recorded (kind "telegram-answer"), answered `true` like the real one."""
        raw = await request.body()
        with self._lock:
            self.sent.append(Sent("telegram-answer", request.url.path, json.loads(raw), dict(request.headers),
                                  time.monotonic()))
        return JSONResponse({"ok": True, "result": True})

    async def twilio(self, request: Request) -> Response:
        fault, sent = await self._record("twilio", request)
        if fault is not None:
            return fault
        sent.provider_id = f"SM{next(self._ids):032x}"
        return JSONResponse({"sid": sent.provider_id, "status": "queued"}, status_code=201)

    # -- media ----------------------------------------------------------------------------------------
    def add_file(self, data: bytes, content_type: str) -> str:
        """Keep a file to serve; its key is the provider's id for it (a WhatsApp media id, a Telegram
        file_id) and the last segment of its URLs."""
        key = f"7{next(self._ids):09d}"  # digits, like a WhatsApp media id
        with self._lock:
            self.files[key] = (data, content_type)
        return key

    def file_url(self, kind: str, key: str) -> str:
        """Where the provider says a file is: Twilio's media URL, Messenger's CDN URL."""
        return f"{self.url}/twilio/media/{key}" if kind == "twilio" else f"{self.url}/cdn/{key}"

    def fetched(self, key: str) -> int:
        with self._lock:
            return sum(1 for path, _ in self.fetches if path.rsplit("/", 1)[-1].split(".")[0] == key)

    async def _serve(self, request: Request, key: str, auth: str | None) -> Response:
        """A file's bytes, if `auth` (when given) is the Authorization the provider expects."""
        with self._lock:
            self.fetches.append((request.url.path, request.headers.get("authorization", "")))
        answer = self._next("media")
        if answer == "500":
            return JSONResponse({"error": {"message": "internal", "code": 1}}, status_code=500)
        if answer == "404":
            return Response("gone", status_code=404)
        if auth is not None and request.headers.get("authorization") != auth:
            return Response("unauthorized", status_code=401)
        found = self.files.get(key)
        if found is None:
            return Response("no such file", status_code=404)
        return Response(found[0], media_type=found[1])

    async def whatsapp_media(self, request: Request) -> Response:
        key = str(request.path_params["media"])
        found = self.files.get(key)
        if found is None or not request.headers.get("authorization", "").startswith("Bearer "):
            return JSONResponse({"error": {"message": "Unsupported get request", "code": 100}}, status_code=400)
        return JSONResponse({"messaging_product": "whatsapp", "url": f"{self.url}/meta-files/{key}",
                             "mime_type": found[1], "sha256": hashlib.sha256(found[0]).hexdigest(),
                             "file_size": str(len(found[0])), "id": key})

    async def whatsapp_file(self, request: Request) -> Response:
        return await self._serve(request, request.path_params["key"], "Bearer EAAG-access-token-xyz")

    async def telegram_get_file(self, request: Request) -> Response:
        key = request.query_params.get("file_id", "")
        found = self.files.get(key)
        if found is None:
            return JSONResponse({"ok": False, "error_code": 400, "description": "Bad Request: invalid file_id"},
                                status_code=400)
        return JSONResponse({"ok": True, "result": {"file_id": key, "file_unique_id": "u" + key,
                                                    "file_size": len(found[0]), "file_path": f"photos/{key}.jpg"}})

    async def telegram_file(self, request: Request) -> Response:
        return await self._serve(request, request.path_params["path"].rsplit("/", 1)[-1].split(".")[0], None)

    async def twilio_media(self, request: Request) -> Response:
        # Twilio answers the media URL with a redirect to its storage (which needs no credentials).
        sid_token = base64.b64decode(request.headers.get("authorization", "Basic ")[6:] or b"").decode()
        if not sid_token.startswith("AC"):
            return Response("unauthorized", status_code=401)
        key = request.path_params["key"]
        return Response(status_code=307, headers={"location": f"{self.url}/storage/{key}"})

    async def storage(self, request: Request) -> Response:
        return await self._serve(request, request.path_params["key"], None)

    async def cdn(self, request: Request) -> Response:
        return await self._serve(request, request.path_params["key"], None)

    def app(self) -> Starlette:
        return Starlette(routes=[
            Route("/meta/{media:int}", self.whatsapp_media, methods=["GET"]),
            Route("/meta-files/{key}", self.whatsapp_file, methods=["GET"]),
            Route("/telegram/{bot}/getFile", self.telegram_get_file, methods=["GET"]),
            Route("/telegram/file/{bot}/{path:path}", self.telegram_file, methods=["GET"]),
            Route("/twilio/media/{key}", self.twilio_media, methods=["GET"]),
            Route("/storage/{key}", self.storage, methods=["GET"]),
            Route("/cdn/{key}", self.cdn, methods=["GET"]),
            Route("/meta/{node}/messages", self.meta, methods=["POST"]),
            Route("/meta/{node}/media", self.meta_upload, methods=["POST"]),
            Route("/telegram/{bot}/sendPhoto", self.telegram, methods=["POST"]),
            Route("/telegram/{bot}/sendDocument", self.telegram, methods=["POST"]),
            Route("/telegram/{bot}/sendMessage", self.telegram, methods=["POST"]),
            Route("/telegram/{bot}/answerCallbackQuery", self.telegram_answer, methods=["POST"]),
            Route("/twilio/2010-04-01/Accounts/{sid}/Messages.json", self.twilio, methods=["POST"]),
        ])

    def start(self) -> FakeProviders:
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-providers", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake providers did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(10)

    def env(self) -> dict[str, str]:
        """What points a Papote server at these fakes."""
        return {"PAPOTE_META_API_URL": f"{self.url}/meta", "PAPOTE_TELEGRAM_API_URL": f"{self.url}/telegram",
                "PAPOTE_TWILIO_API_URL": f"{self.url}/twilio", "PAPOTE_MESSAGING_CHECK_SECS": "1",
                "PAPOTE_MESSAGING_TIMEOUT_SECS": "2", "PAPOTE_MEDIA_ALLOW_PRIVATE": "1"}


def serve_on_backend(request: Any, tmp_path_factory: Any, name: str, env: dict[str, str]) -> Any:
    """A module-scoped server fixture's body, parametrized over BACKENDS: skipped for a backend
    `--backend` leaves out, else a server in its own directory with `env` (the fake providers' URLs
    and whatever the module adds)."""
    import pytest

    from tests.conftest import selected_backends
    from tests.harness import PapoteServer, serve

    if request.param not in selected_backends(request.config):
        pytest.skip(f"--backend leaves {request.param} out")
    papote = PapoteServer(tmp_path_factory.mktemp(f"{name}-{request.param}"), backend=request.param, env_extra=env)
    yield from serve(papote, request)
