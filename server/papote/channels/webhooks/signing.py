"""Standard Webhooks signing (https://www.standardwebhooks.com), pure: no I/O, no clock of its own.

A request carries `webhook-id` (the event's id: the same on every retry, so a receiver can drop a
duplicate), `webhook-timestamp` (Unix seconds of *this attempt*: receivers refuse stale ones, so a retry
an hour later must not carry the first attempt's time) and `webhook-signature`: `v1,<base64 of
HMAC-SHA256(key, "<id>.<timestamp>.<body>")>`, one per live secret, separated by spaces — two during a
rotation, so a receiver that still has the old secret and one that has the new both verify.

A secret is `whsec_` + base64 of its key bytes (the form the reference libraries take).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
#: 32 random bytes: a key as long as the HMAC-SHA256 output, the most the construction can use.
SECRET_BYTES = 32


class BadSecret(ValueError):
    """A secret that is not `whsec_<base64>` of a non-empty key."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def key_of(secret: str) -> bytes:
    raw = secret[len(SECRET_PREFIX):] if secret.startswith(SECRET_PREFIX) else secret
    try:
        key = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True)
    except ValueError:
        raise BadSecret("a webhook secret is whsec_ followed by base64") from None
    if not key:
        raise BadSecret("a webhook secret may not be empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<base64>` signature of `body` sent as `msg_id` at `timestamp` (Unix seconds)."""
    mac = hmac.new(key_of(secret), f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers (and the JSON content type) for one attempt."""
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, msg_id, timestamp, body) for s in secrets_),
    }

