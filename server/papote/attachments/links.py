"""Signed, expiring links to a sent file, for whoever cannot log in: a provider that fetches a file by
URL (Twilio's MediaUrl), and a mail's reader when the file is too large to attach.

    GET {PAPOTE_PUBLIC_URL}/files/{attachment_id}?e={expires, ms}&s={signature}

The signature is an HMAC-SHA256 of "file:{attachment_id}:{expires}" under a key derived from the
site's identity secret (the current one signs; the previous one, kept during a rotation, still
verifies), cut to 128 bits. A wrong signature, another site's, an expired link, an unsent upload or an
attachment that does not exist all get the same 404. Nothing else is granted: the link opens that one
file, until it expires, and never a thumbnail, a conversation or another file.
"""

from __future__ import annotations

import hashlib
import hmac

from papote.b64url import b64url
from papote.types import Millis

#: The signature's length: 128 bits, as the reply addresses' and links' of mail.
MAC_BYTES = 16
#: How long a link lives. Twilio fetches a MediaUrl within seconds of the send; a mail's reader may open
#: a file days later — long enough for both, short enough that a forwarded mail does not keep it open.
PROVIDER_TTL_MS = 3_600_000
MAIL_TTL_MS = 30 * 86_400_000


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"papote-file-link-v1\x00" + secret.encode()).digest()


def signature(secret: str, attachment_id: str, expires: Millis) -> str:
    mac = hmac.new(_key(secret), f"file:{attachment_id}:{expires}".encode(), hashlib.sha256).digest()
    return b64url(mac[:MAC_BYTES])


def file_link(base_url: str, secret: str, attachment_id: str, expires: Millis) -> str:
    return f"{base_url}/files/{attachment_id}?e={expires}&s={signature(secret, attachment_id, expires)}"


def verify(secrets: list[str], attachment_id: str, expires: str, given: str, now: Millis) -> bool:
    """Whether `given` signs this file until `expires` under one of the site's secrets, and it is not past."""
    if not expires.isdigit() or int(expires) < now or not given:
        return False
    ok = False
    for secret in secrets:  # every secret is tried: the time taken says nothing of which one matched
        ok |= hmac.compare_digest(signature(secret, attachment_id, int(expires)).encode(), given.encode())
    return ok
