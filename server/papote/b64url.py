"""Unpadded base64url (RFC 4648 §5 without `=`), the form JWTs, Web Push keys and our signed links use."""

from __future__ import annotations

import base64


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Raises binascii.Error (a ValueError) on a malformed string; the missing padding is restored here."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
