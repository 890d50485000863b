"""Unguessable identifiers and secrets, and how they are kept.

Ids carry 128 random bits: enumerating conversations or visitors is hopeless, so a leaked id alone grants
nothing (every access is still checked by `authz`). Secrets (visitor tokens, session cookies, API keys,
link codes) are stored only as SHA-256 digests: a copy of the database does not let anyone log in.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time

#: 16 bytes = 128 bits, the OWASP floor for session identifiers.
ID_BYTES = 16


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(ID_BYTES)}"


def first_conversation_id(visitor_id: str) -> str:
    """The id of the first conversation of a customer who writes from another channel (a messaging app,
    mail to a support address): derived from their visitor's id, so that their first messages arriving
    at once, on several nodes, all name the same conversation and the store creates it once
    (`NewMessage.new_conversation_id`). As unguessable as the visitor's id it is derived from."""
    raw = hashlib.sha256(f"papote-first-conversation\x00{visitor_id}".encode()).digest()[:ID_BYTES]
    return "c_" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def new_secret(prefix: str, nbytes: int = 32) -> str:
    return f"{prefix}_{secrets.token_urlsafe(nbytes)}"


def digest(secret: str) -> str:
    """Fast hash for high-entropy secrets (tokens, keys); passwords use argon2 in `accounts`."""
    return hashlib.sha256(secret.encode()).hexdigest()


def now_ms() -> int:
    return time.time_ns() // 1_000_000
