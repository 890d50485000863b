"""Web Push messages, without I/O: the VAPID key pair, the encrypted body and the request's headers.

A push is a POST to the endpoint a browser's push service gave it (RFC 8030), with a body encrypted for
that browser only (RFC 8291, `aes128gcm`: an ephemeral P-256 key agreed with the browser's `p256dh`,
mixed with its `auth` secret) and a VAPID token (RFC 8292) that proves the server is the one the
browser subscribed with: an ES256 JWT naming the push service's origin (`aud`), an expiry (`exp`) and a
contact (`sub`), with our public key. `push.py` sends what this module builds.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

from papote.b64url import b64url, unb64url
from papote.store.push import PushSubscription, VapidKeys

#: A token lives 12 hours: RFC 8292 allows up to 24, and a clock a few minutes off must not void it.
TOKEN_SECS = 12 * 3600
#: A push not delivered within a day is dropped by the service: an alert about an old chat is noise.
TTL_SECS = 24 * 3600


@dataclass(frozen=True, slots=True)
class PushRequest:
    url: str
    headers: dict[str, str]
    body: bytes


def new_keys() -> VapidKeys:
    """A fresh VAPID key pair (P-256), both halves base64url."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return VapidKeys(b64url(private), b64url(public))


def valid_browser_keys(p256dh: str, auth: str) -> bool:
    """Whether a subscription's keys can be encrypted for: a P-256 point and a 16-byte secret."""
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(p256dh))
        return len(unb64url(auth)) == 16
    except (ValueError, TypeError):
        return False


def encrypt(payload: bytes, p256dh: str, auth: str) -> bytes:
    """`payload` as an `aes128gcm` body that only the browser holding `p256dh`'s private key can read."""
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    return bytes(http_ece.encrypt(payload, salt=os.urandom(16), private_key=ephemeral, dh=unb64url(p256dh),
                                  auth_secret=unb64url(auth), version="aes128gcm"))


def audience(endpoint: str) -> str:
    """The push service's origin: the `aud` its token must name."""
    parts = urlsplit(endpoint)
    return f"{parts.scheme}://{parts.netloc}"


def vapid_authorization(keys: VapidKeys, endpoint: str, subject: str, now: float | None = None) -> str:
    """The `Authorization: vapid t=<JWT>, k=<public key>` value for a push to `endpoint`."""
    vapid = Vapid02.from_raw(keys.private_key.encode())
    # Our subject is checked by config (mailto: or https:); the library's own check refuses some valid ones.
    vapid.conf = {"no-strict": True}
    claims = {"aud": audience(endpoint), "exp": int((now or time.time()) + TOKEN_SECS), "sub": subject}
    return str(vapid.sign(claims)["Authorization"])


def build_request(sub: PushSubscription, payload: bytes, keys: VapidKeys, subject: str, *,
                  urgency: str = "high", topic: str | None = None, now: float | None = None) -> PushRequest:
    """The POST that delivers `payload` to `sub`'s browser. `topic` (at most 32 URL-safe characters)
    lets the service replace a push still waiting with a newer one of the same topic."""
    headers = {
        "authorization": vapid_authorization(keys, sub.endpoint, subject, now),
        "content-encoding": "aes128gcm",
        "content-type": "application/octet-stream",
        "ttl": str(TTL_SECS),
        "urgency": urgency,
    }
    if topic:
        headers["topic"] = topic[:32]
    return PushRequest(sub.endpoint, headers, encrypt(payload, sub.p256dh, sub.auth))


def service_allowed(endpoint: str, services: list[str]) -> bool:
    """Whether `endpoint` belongs to one of the push services the server will post to.

    `services` are origins (`https://fcm.googleapis.com`), a leading `*.` matching any subdomain
    (`https://*.push.apple.com`). An agent chooses the endpoint, so without this list the server
    would POST wherever an agent says, its own private network included."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port or (443 if parts.scheme == "https" else 80)  # .port raises on a bad one
    except ValueError:
        return False
    if parts.username or parts.password or not parts.hostname or not parts.hostname.isascii():
        return False
    if any(c.isspace() or not c.isprintable() for c in endpoint):
        return False
    host = parts.hostname.lower()
    for service in services:
        allowed = urlsplit(service.strip())
        if allowed.scheme != parts.scheme or not allowed.hostname:
            continue
        if (allowed.port or (443 if allowed.scheme == "https" else 80)) != port:
            continue
        pattern = allowed.hostname.lower()
        if pattern.startswith("*.") and host.endswith(pattern[1:]) and len(host) > len(pattern) - 1:
            return True
        if host == pattern:
            return True
    return False
