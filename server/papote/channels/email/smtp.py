"""Outbound SMTP: `PAPOTE_SMTP_URL` read into settings, and one mail handed to the relay.

Papote is not an MTA: it hands mail to the operator's relay (submission, STARTTLS, authentication),
which signs DKIM and does the retries of the internet. Answers map onto the outbox's retry rules: a 5xx
is permanent, anything else (4xx, timeouts, a refused connection) is tried again later.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from papote.channels.outbox import DeliveryError


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool  # smtps://: TLS from the first byte
    start_tls: bool | None  # None: when the server offers it; True: required; False: never
    validate_certs: bool


def parse_smtp_url(url: str) -> SmtpSettings:
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    use_tls = parts.scheme == "smtps"
    start_tls: bool | None = {"require": True, "off": False}.get(query.get("starttls", ""), None)
    return SmtpSettings(
        host=parts.hostname or "localhost",
        port=parts.port or (465 if use_tls else 587),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=use_tls,
        start_tls=False if use_tls else start_tls,
        validate_certs=query.get("verify", "on") != "off",
    )


async def send_mail(settings: SmtpSettings, message: EmailMessage, *, envelope_sender: str, recipient: str,
                    timeout: float) -> None:
    """Hand one message to the relay; DeliveryError (permanent or not) when it is not accepted."""
    try:
        await aiosmtplib.send(
            message, sender=envelope_sender, recipients=[recipient], hostname=settings.host, port=settings.port,
            username=settings.username, password=settings.password, use_tls=settings.use_tls,
            start_tls=settings.start_tls, validate_certs=settings.validate_certs, timeout=timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        raise DeliveryError(f"recipient refused: {exc.recipients[0].message if exc.recipients else exc}",
                            permanent=bool(codes) and all(500 <= c < 600 for c in codes)) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise DeliveryError(f"{exc.code} {exc.message}", permanent=500 <= exc.code < 600) from None
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError, TimeoutError) as exc:
        raise DeliveryError(f"relay unreachable: {type(exc).__name__}: {exc}") from None
