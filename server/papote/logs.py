"""Logging with credentials taken out, at every level and from every library.

A log line is read by more people than the database is (support, a log shipper, a pasted bug report), so
what would let its reader act as someone never reaches it: cookies, `Authorization` headers, session,
API-key, invitation and visitor tokens, and 64-hex-digit strings (site secrets, identity hashes).
Libraries log too — the WebSocket library prints every handshake header at `debug` — so the redaction
runs where every record is made (`logging.setLogRecordFactory`), whoever logs it and whatever handler
writes it. Message bodies and passwords are never passed to a logger in the first place.
"""

from __future__ import annotations

import logging
import re
from typing import Any

REDACTED = "[redacted]"

#: A header line or pair whose whole value is a credential: `cookie: …`, `Authorization: Bearer …`.
_HEADER = re.compile(
    r"(?i)\b(cookie|set-cookie|authorization|proxy-authorization|x-api-key)(['\"]?\s*[:=,]\s*['\"]?)"
    r"([^\r\n'\"]*)"
)
#: Our own secrets carry a prefix (ids.new_secret): session, API key, invitation, visitor token.
_SECRET = re.compile(r"\b(ps|papi|inv|vt)_[A-Za-z0-9_-]{16,}")
#: A bearer credential written anywhere else.
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+")
#: Site secrets (token_hex(32)) and HMAC identity hashes.
_HEX64 = re.compile(r"\b[0-9a-fA-F]{64}\b")


def redact(text: str) -> str:
    """`text` with every credential it holds replaced by `[redacted]`."""
    if not text:
        return text
    text = _HEADER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    text = _SECRET.sub(lambda m: m.group(1) + "_" + REDACTED, text)
    text = _BEARER.sub("Bearer " + REDACTED, text)
    return _HEX64.sub(REDACTED, text)


_exceptions = logging.Formatter()
_installed = False


def install_redaction() -> None:
    """Redact every log record from now on (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            # Its formatter unpacks the arguments: redact them one by one instead.
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
            return record
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let the handler report it as it would
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and record.exc_info[1] is not None:
            # Formatters use `exc_text` when it is set: the traceback is redacted once, here.
            record.exc_text = redact(_exceptions.formatException(record.exc_info))
        return record

    logging.setLogRecordFactory(factory)
