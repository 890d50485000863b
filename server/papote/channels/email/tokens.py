"""Signed email tokens: the reply address, and the confirmation and unsubscribe links. Pure functions.

Everything is signed with a key derived from the site's identity-verification secrets (the current one
signs; the current and the previous one verify, so mail survives one rotation). The derivation is a hash,
not an HMAC under the secret: the site's backend computes HMAC(secret, user_id) for its users, and a
user id chosen to equal one of our messages must not yield one of our signatures.

Reply address: `reply+<conversation>.<mac>@<PAPOTE_EMAIL_DOMAIN>`. The conversation id's 128 random bits
are written in base32 and the MAC is 80 bits of base32, both lowercase: some mail systems lowercase local
parts, and base32 survives that. 6 + 26 + 1 + 16 = 49 characters, under the 64 a local part may have.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

from papote.b64url import b64url, unb64url
from papote.identity import signed_by_any
from papote.types import Millis

#: 80 bits: a forged address is refused at RCPT, one guess per SMTP command, so this is far beyond reach.
REPLY_MAC_CHARS = 16
#: 128 bits for links (they are longer-lived in inboxes, and cost nothing in a URL).
LINK_MAC_BYTES = 16
#: A confirmation link works for a week: long enough for someone back from a weekend.
CONFIRM_TTL_MS = 7 * 86_400_000
#: An NPS survey's link works for a month: answers after that say little about the conversation.
NPS_TTL_MS = 30 * 86_400_000

_REPLY = re.compile(r"reply\+([a-z2-7]{26})\.([a-z2-7]{16})", re.IGNORECASE)


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"papote-email-v1\x00" + secret.encode()).digest()


def _mac(secret: str, message: str) -> bytes:
    return hmac.new(_key(secret), message.encode(), hashlib.sha256).digest()


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw).decode().rstrip("=").lower()


def conversation_code(conversation_id: str) -> str:
    """`c_<22 base64url chars>` → 26 lowercase base32 characters (the same 16 bytes)."""
    if not conversation_id.startswith("c_") or len(conversation_id) != 24:
        raise ValueError(f"not a conversation id: {conversation_id!r}")
    raw = unb64url(conversation_id[2:])
    return _b32(raw)


def conversation_of_code(code: str) -> str | None:
    try:
        raw = base64.b32decode(code.upper() + "======")
    except (binascii.Error, ValueError):
        return None
    if len(raw) != 16:
        return None
    return "c_" + b64url(raw)


def reply_mac(secret: str, conversation_id: str) -> str:
    return _b32(_mac(secret, "reply:" + conversation_id))[:REPLY_MAC_CHARS]


def reply_address(secret: str, conversation_id: str, domain: str) -> str:
    return f"reply+{conversation_code(conversation_id)}.{reply_mac(secret, conversation_id)}@{domain}"


@dataclass(frozen=True, slots=True)
class ReplyToken:
    conversation_id: str
    mac: str


def parse_reply_address(address: str, domain: str) -> ReplyToken | None:
    """The token of `reply+…@domain` (any case), or None when the address is not one of ours in form."""
    local, _, host = address.strip().strip("<>").rpartition("@")
    if host.lower() != domain.lower():
        return None
    m = _REPLY.fullmatch(local)
    if m is None:
        return None
    cid = conversation_of_code(m.group(1).lower())
    return ReplyToken(cid, m.group(2).lower()) if cid else None


def verify_reply(secrets: list[str], token: ReplyToken) -> bool:
    return signed_by_any(secrets, lambda secret: reply_mac(secret, token.conversation_id), token.mac)


# -- links -------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LinkClaim:
    """What a confirmation, unsubscribe or NPS link says: for whom, on which site, until when (0: no end),
    and for an NPS link the survey it answers."""

    purpose: str  # "confirm", "unsubscribe" or "nps"
    site_id: str
    email: str
    visitor_id: str = ""
    expires_at: Millis = 0
    survey: str = ""


def _payload(claim: LinkClaim) -> str:
    parts = [claim.purpose, claim.site_id, claim.email, claim.visitor_id, str(claim.expires_at)]
    # Only NPS links carry a sixth part: the links already in inboxes keep their exact bytes.
    return "\n".join([*parts, claim.survey] if claim.survey else parts)


def sign_link(secret: str, claim: LinkClaim) -> str:
    payload = _payload(claim)
    return b64url(payload.encode()) + "." + b64url(_mac(secret, "link:" + payload)[:LINK_MAC_BYTES])


def read_link(token: str) -> LinkClaim | None:
    """The claim a link states, *unverified*: the caller finds the site, then calls `verify_link`."""
    try:
        body, _, _sig = token.partition(".")
        parts = unb64url(body).decode().split("\n")
        if len(parts) == 6:
            purpose, site_id, email, visitor_id, expires, survey = parts
            return LinkClaim(purpose, site_id, email, visitor_id, int(expires), survey)
        purpose, site_id, email, visitor_id, expires = parts
        return LinkClaim(purpose, site_id, email, visitor_id, int(expires))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None


def verify_link(secrets: list[str], token: str, purpose: str, now: Millis) -> LinkClaim | None:
    """The claim of a genuine, unexpired link for `purpose`, or None."""
    claim = read_link(token)
    if claim is None or claim.purpose != purpose:
        return None
    body, _, sig = token.partition(".")
    payload = unb64url(body).decode()
    ok = signed_by_any(secrets, lambda secret: b64url(_mac(secret, "link:" + payload)[:LINK_MAC_BYTES]), sig)
    if not ok or (claim.expires_at and claim.expires_at < now):
        return None
    return claim
