"""Who a visitor is: an opaque server-minted token, and optionally the site's signed word for it.

* Anonymous: on first contact the server mints a token (256 random bits), stores only its SHA-256 and
  hands it over in the `welcome` frame — never in a URL. A client-chosen token is never accepted.
* Identified: the site's backend vouches for its user with HMAC-SHA256(secret, user_id) (hex) or an HS256
  JWT (`sub`, `exp`, optional `nbf`, `name`, `email`) signed with one of the site's two live secrets. Checks are
  constant-time. A bad signature raises `AuthError(identity_rejected)`: never a silent downgrade.
* Continue on another device: a short-lived single-use link code, stored hashed, that binds a second
  browser to the same visitor.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, AnyStr

from papote.b64url import b64url, unb64url
from papote.errors import AuthError, ErrorCode
from papote.ids import new_secret

#: Link codes live ten minutes: long enough to pick up a phone, short enough to be useless if overheard.
LINK_CODE_TTL_MS = 10 * 60 * 1000
#: JWT clock skew tolerated between the site's server and ours.
JWT_LEEWAY_SECS = 60
#: A JWT may not claim to live longer than this (the site should mint short-lived tokens).
JWT_MAX_LIFETIME_SECS = 24 * 3600


def mint_visitor_token() -> str:
    return new_secret("vt")


def mint_link_code() -> str:
    # 10 characters of an unambiguous alphabet: ~50 bits, single-use, ten minutes, rate-limited.
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(10))


@dataclass(frozen=True)
class VerifiedIdentity:
    user_id: str
    name: str | None = None
    email: str | None = None


def _rejected(why: str) -> AuthError:
    return AuthError(f"identity rejected: {why}", ErrorCode.IDENTITY_REJECTED)


def user_hash(secret: str, user_id: str) -> str:
    """What the site's backend computes: hex HMAC-SHA256 of the user id with the site secret."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def signed_by_any(secrets_: list[str], sign: Callable[[str], AnyStr], given: AnyStr) -> bool:
    """Whether `given` is what `sign` makes under one of the site's live secrets (the current one or the
    previous one, during a rotation). Every secret is compared, without stopping early, so timing says
    nothing. Email's reply addresses and links (channels/email/tokens.py) verify with it too."""
    ok = False
    for secret in secrets_:
        ok |= hmac.compare_digest(sign(secret), given)
    return ok


def verify_hash(secrets_: list[str], user_id: str, given: str) -> VerifiedIdentity:
    if not signed_by_any(secrets_, lambda secret: user_hash(secret, user_id), given.lower()):
        raise _rejected("the hash does not match this user id")
    return VerifiedIdentity(user_id)


def sign_jwt(secret: str, claims: dict[str, Any]) -> str:
    """HS256 signing, for tests and for site owners' examples."""

    def enc(obj: dict[str, Any]) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return b64url(raw)

    head = enc({"alg": "HS256", "typ": "JWT"}) + "." + enc(claims)
    sig = hmac.new(secret.encode(), head.encode(), hashlib.sha256).digest()
    return head + "." + b64url(sig)


def verify_jwt(secrets_: list[str], token: str, now: float | None = None) -> VerifiedIdentity:
    now = time.time() if now is None else now
    try:
        head_b64, claims_b64, sig_b64 = token.split(".")
        header = json.loads(unb64url(head_b64))
        claims = json.loads(unb64url(claims_b64))
        signature = unb64url(sig_b64)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _rejected("malformed JWT") from None
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        # Only HS256: "none" and algorithm confusion are refused outright.
        raise _rejected("the JWT must use HS256")
    signed = f"{head_b64}.{claims_b64}".encode()
    if not signed_by_any(secrets_, lambda secret: hmac.new(secret.encode(), signed, hashlib.sha256).digest(),
                         signature):
        raise _rejected("the JWT signature does not verify")
    if not isinstance(claims, dict):
        raise _rejected("the JWT claims must be an object")
    sub, exp = claims.get("sub"), claims.get("exp")
    if not isinstance(sub, str) or not 0 < len(sub) <= 128:
        raise _rejected("the JWT needs a 'sub' claim")
    if not isinstance(exp, int | float) or exp + JWT_LEEWAY_SECS < now:
        raise _rejected("the JWT has expired or has no 'exp'")
    if exp - now > JWT_MAX_LIFETIME_SECS:
        raise _rejected("the JWT lives too long; mint short-lived tokens")
    nbf = claims.get("nbf")
    if nbf is not None and (isinstance(nbf, bool) or not isinstance(nbf, int | float)
                            or nbf - JWT_LEEWAY_SECS > now):
        # RFC 7519 §4.1.5: not to be accepted before `nbf` (with the same leeway as `exp`).
        raise _rejected("the JWT is not valid yet ('nbf')")
    name, email = claims.get("name"), claims.get("email")
    return VerifiedIdentity(
        sub,
        name if isinstance(name, str) else None,
        email if isinstance(email, str) else None,
    )
