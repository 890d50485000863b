"""The vocabulary of messaging channels, and the adapter each provider implements.

An adapter is sans-I/O except for `send`: the webhook route hands it the raw request (`Hook`), and it
says whether the request is genuine (`verify`, on the raw bytes, in constant time), answers a handshake
(`handshake`), and reads what the provider sent (`parse`: messages in, receipts of messages out). The
service (service.py) stores what `parse` returned and only then answers 2xx.

Errors::

    WebhookRefused       a request that is not the provider's (bad or missing signature): 401/403, nothing stored
    FileRefused          a customer's file that will not be kept (over the site's size): a note, no retry
    PapoteError(WINDOW_CLOSED)  a reply the channel cannot carry now (raised before anything is stored)
    DeliveryError        (channels/outbox.py) a send that did not happen; `retry_after_ms` from a 429
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from papote import quick_replies
from papote.channels.outbox import DeliveryError
from papote.errors import ErrorCode, PapoteError
from papote.store.channels import ChannelAccount, ChannelIdentity
from papote.store.outbox import Delivery
from papote.types import Millis

#: WhatsApp's and Messenger's customer-service window: a business may answer freely for 24 hours after
#: the customer's last message; after it only a template (WhatsApp) or a tagged message (Messenger).
WINDOW_MS = 24 * 3_600_000
#: A 429 without a usable Retry-After waits this long (providers' rate windows are about a minute).
DEFAULT_RETRY_AFTER_MS = 30_000


class WebhookRefused(Exception):
    """A webhook request that is not the provider's: answered with `status`, nothing stored."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(slots=True)
class Hook:
    """A webhook request as received: the raw body (signatures are over these exact bytes), headers
    with lower-case names, and the public URL the provider called (Twilio signs it)."""

    method: str
    url: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes


@dataclass(slots=True)
class Answer:
    status: int
    body: str = ""
    media_type: str = "text/plain"


class FileRefused(Exception):
    """A customer's file Papote will not keep, whatever the retries: `code` says why (too_large)."""

    def __init__(self, reason: str, code: ErrorCode) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


@dataclass(slots=True)
class Media:
    """A file a customer's message carries, as the provider names it: `ref` is what the adapter's
    `fetch` needs (WhatsApp's media id, Telegram's file_id, a URL for Twilio and Meta's Messenger),
    `name` and `content_type` the provider's word for them (only hints: the bytes decide), `kind` the
    provider's kind of it (image, document, audio…), shown while it is fetched."""

    ref: str
    kind: str = "file"
    name: str = ""
    content_type: str = ""


@dataclass(slots=True)
class OutboundFile:
    """An agent's file to send: as stored (re-encoded if an image), and a signed link to it for the
    providers that fetch files by URL (papote/attachments/links.py)."""

    name: str
    content_type: str
    data: bytes
    link: str

    @property
    def is_photo(self) -> bool:
        """A JPEG or PNG: what every provider shows as a picture (others go as documents)."""
        return self.content_type in ("image/jpeg", "image/png")


@dataclass(slots=True)
class Inbound:
    """A customer's message: `address` is who wrote (their identity on the account), `provider_id` the
    provider's id of the message (the dedupe key), `at` the provider's time of it."""

    address: str
    provider_id: str
    body: str
    at: Millis
    name: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    #: The files the message carries: fetched after the webhook is answered (channels/messaging/media.py).
    media: list[Media] = field(default_factory=list)


@dataclass(slots=True)
class Receipt:
    """The provider's word on a message we sent: `state` one of sent, delivered, read, failed."""

    provider_id: str
    state: str
    at: Millis
    error: str = ""


@dataclass(slots=True)
class Watermark:
    """A receipt naming a time, not a message (Messenger): every reply to `address` sent at or before
    `at` reached `state`."""

    address: str
    state: str
    at: Millis


@dataclass(slots=True)
class Window:
    """Whether a reply can go now: `open` freely; otherwise `fallback` names what goes instead (a
    template, a tag) or is None (nothing can go: `reason`)."""

    open: bool
    closes_at: Millis | None = None
    fallback: str | None = None
    reason: str | None = None

    @property
    def can_send(self) -> bool:
        return self.open or self.fallback is not None


@dataclass(frozen=True, slots=True)
class Button:
    """A quick reply to draw as the app's own button: its label and what a tap sends back
    (`quick_replies.tap_payload`)."""

    label: str
    payload: str


def buttons_of(options: Sequence[Mapping[str, Any]]) -> list[Button]:
    """The stored quick replies (`[{label, value}]`) as buttons; [] when a tap's payload would not fit
    every app's limit (then the options go as numbered text everywhere)."""
    out = [Button(str(o.get("label", "")), quick_replies.tap_payload(n, str(o.get("value") or o.get("label"))))
           for n, o in enumerate(options, 1)]
    if any(len(b.payload.encode()) > quick_replies.MAX_TAP_BYTES for b in out):
        return []
    return out


def numbered(body: str, buttons: Sequence[Button]) -> str:
    """The text a channel sends when it draws no buttons: the options as lines the customer types back."""
    return quick_replies.as_text(body, [{"label": b.label} for b in buttons])


@dataclass(slots=True)
class Field:
    """A setting a site owner fills in when connecting an account: shown back (`secret=False`) or
    never again (`secret=True`, only its last characters)."""

    name: str
    label: str
    secret: bool = False
    required: bool = True
    pattern: str = r".{1,500}"


class Adapter(Protocol):
    kind: str
    fields: tuple[Field, ...]

    def handshake(self, account: ChannelAccount, hook: Hook) -> Answer | None:
        """The answer to a provider's subscription check (Meta's GET), or None if `hook` is not one."""

    def verify(self, account: ChannelAccount, hook: Hook) -> None:
        """Raise WebhookRefused unless `hook` carries the provider's valid signature for `account`."""

    def parse(self, account: ChannelAccount, hook: Hook) -> list[Inbound | Receipt | Watermark]:
        """What a verified request carries; unknown kinds of event are skipped."""

    def window(self, account: ChannelAccount, identity: ChannelIdentity, now: Millis) -> Window: ...

    def payload(self, account: ChannelAccount, identity: ChannelIdentity, body: str, window: Window,
                callback_url: str, buttons: Sequence[Button] = ()) -> dict[str, Any]:
        """What `send` will post for an agent's or the bot's text (rendered when queued: a retry sends
        the same); `callback_url` is the account's webhook (Twilio's status callbacks go there);
        `buttons` the bot's options, drawn as the app's own buttons where it has them and they fit, else
        as numbered lines (`numbered`)."""

    async def send(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount,
                   delivery: Delivery) -> str:
        """Post the delivery; the provider's message id. Raises DeliveryError."""

    async def send_file(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount,
                        delivery: Delivery, file: OutboundFile) -> str:
        """Send one file of an agent's reply (`delivery.payload["file"]` names it); the provider's id."""

    async def fetch(self, http: httpx.AsyncClient, base_url: str, account: ChannelAccount, media: Media,
                    max_bytes: int, guard: Guard) -> bytes:
        """The bytes of a customer's file, at most `max_bytes` of them (`guard` checks a URL the webhook
        named before it is fetched). Raises DeliveryError (temporary:
        retried; permanent: the provider no longer has it) or FileRefused (over `max_bytes`)."""


def same(expected: str | bytes, given: str | bytes | None) -> bool:
    """Constant-time comparison of a secret with what a request carries (absent: False)."""
    if given is None or not expected:
        return False
    a = expected.encode() if isinstance(expected, str) else expected
    b = given.encode() if isinstance(given, str) else given
    return hmac.compare_digest(a, b)


def window_closed(reason: str) -> PapoteError:
    return PapoteError(reason, ErrorCode.WINDOW_CLOSED)


def retry_after_ms(response: httpx.Response, body_seconds: Any = None) -> int:
    """A 429's wait: the Retry-After header (seconds), else a number the body gives, else a default."""
    for value in (response.headers.get("retry-after"), body_seconds):
        try:
            if value is not None:
                return max(0, int(float(value) * 1000))
        except (TypeError, ValueError):
            continue
    return DEFAULT_RETRY_AFTER_MS


def refuse(response: httpx.Response, reason: str, *, window_codes: tuple[Any, ...] = (),
           code: Any = None, body_retry_after: Any = None) -> DeliveryError:
    """The DeliveryError for a provider's refusal: 429 waits as told, 5xx and 408 retry with backoff,
    another 4xx is for good (the request itself is wrong, or the customer's window is shut)."""
    status = response.status_code
    if status == 429:
        return DeliveryError(f"rate limited: {reason}", retry_after_ms=retry_after_ms(response, body_retry_after))
    if code is not None and code in window_codes:
        return DeliveryError(f"window closed: {reason}", permanent=True)
    if status >= 500 or status == 408:
        return DeliveryError(f"provider error {status}: {reason}")
    return DeliveryError(f"refused ({status}): {reason}", permanent=True)


async def post(http: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    """POST, with a timeout or a lost connection as a temporary failure."""
    try:
        return await http.post(url, **kwargs)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"timeout: {type(exc).__name__}") from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"connection failed: {type(exc).__name__}") from exc


def json_of(response: httpx.Response) -> dict[str, Any]:
    try:
        value = response.json()
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


#: Redirects followed to a file (Twilio's media URL answers one, to its storage).
MAX_REDIRECTS = 5
#: Checks that a URL a webhook named may be fetched (channels/webhooks/targets.py: public hosts only).
Guard = Callable[[str], Awaitable[None]]


async def download(http: httpx.AsyncClient, url: str, max_bytes: int, guard: Guard | None = None,
                   **kwargs: Any) -> bytes:
    """GET a file, reading at most `max_bytes` (a larger one is refused as soon as its length or its
    bytes say so, never held whole). Redirects are followed, each one checked by `guard` first when the
    URL came from a webhook (a site owner signs their own webhooks: their URL must not reach into the
    operator's network), and the credentials are dropped when a redirect leaves the origin. A 429, 5xx,
    408, timeout or lost connection is temporary; another 4xx is for good (the provider no longer has
    the file)."""
    for _ in range(MAX_REDIRECTS + 1):
        if guard is not None:
            try:
                await guard(url)
            except PapoteError as exc:
                raise DeliveryError(f"the file's URL may not be fetched: {exc.message}", permanent=True) from None
        try:
            async with http.stream("GET", url, follow_redirects=False, **kwargs) as response:
                if response.is_redirect and response.headers.get("location"):
                    target = str(response.url.join(response.headers["location"]))
                    moved = httpx.URL(target)
                    if (moved.scheme, moved.netloc) != (response.url.scheme, response.url.netloc):
                        # Another origin (Twilio's storage): the credentials stay with the provider.
                        kwargs = {k: v for k, v in kwargs.items() if k not in ("auth", "headers")}
                    url = target
                    continue
                return await _body(response, max_bytes)
        except httpx.TimeoutException as exc:
            raise DeliveryError(f"timeout: {type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"connection failed: {type(exc).__name__}") from exc
    raise DeliveryError("too many redirects to the file", permanent=True)


async def _body(response: httpx.Response, max_bytes: int) -> bytes:
    """A file's bytes from its answer, at most `max_bytes` (DeliveryError for a refusal, FileRefused past it)."""
    if not response.is_success:
        await response.aread()
        raise refuse(response, f"GET of the file answered {response.status_code}")
    too_large = FileRefused(f"the file is over {max_bytes // (1024 * 1024)} MB", ErrorCode.TOO_LARGE)
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def get_json(http: httpx.AsyncClient, url: str, **kwargs: Any) -> dict[str, Any]:
    """GET a provider's JSON (WhatsApp's media URL, Telegram's getFile); failures as `download`'s."""
    try:
        response = await http.get(url, **kwargs)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"timeout: {type(exc).__name__}") from exc
    except httpx.HTTPError as exc:
        raise DeliveryError(f"connection failed: {type(exc).__name__}") from exc
    body = json_of(response)
    if not response.is_success:
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        raise refuse(response, str(body.get("description") or (error or {}).get("message") or "")
                     or f"answered {response.status_code}")
    return body
