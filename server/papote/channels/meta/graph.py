"""What Meta's platforms (WhatsApp Cloud API, Messenger, Instagram) share: the subscription handshake
and the `X-Hub-Signature-256` check.

* Handshake: `GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C` → 200 with body C when T is the
  account's verify token, else 403. The GET carries no signature (checking one would make registration
  impossible).
* Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`. Meta signs the bytes
  it sends (with non-ASCII escaped as \\uXXXX), so the check runs on the raw body, never re-serialised JSON.
"""

from __future__ import annotations

import hashlib
import hmac

from papote.channels.messaging.base import Answer, Field, Hook, WebhookRefused, same
from papote.store.channels import ChannelAccount


def handshake(account: ChannelAccount, hook: Hook) -> Answer | None:
    if hook.method != "GET":
        return None
    if hook.query.get("hub.mode") == "subscribe" and same(account.secrets.get("verify_token", ""),
                                                           hook.query.get("hub.verify_token")):
        return Answer(200, hook.query.get("hub.challenge", ""))
    return Answer(403, "forbidden")


def signature(app_secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify(account: ChannelAccount, hook: Hook) -> None:
    given = hook.headers.get("x-hub-signature-256")
    if given is None:
        raise WebhookRefused(401, "missing X-Hub-Signature-256")
    if not same(signature(account.secrets.get("app_secret", ""), hook.body), given.strip().lower()):
        raise WebhookRefused(403, "bad X-Hub-Signature-256")


def secret_fields(token_label: str) -> tuple[Field, ...]:
    """The credentials every Meta account has: its access token (a page's or a business number's), the
    app secret that signs webhooks, and the verify token the owner chooses for the handshake."""
    return (
        Field("access_token", token_label, secret=True, pattern=r"[\x21-\x7e]{8,1000}"),
        Field("app_secret", "App secret", secret=True, pattern=r"[\x21-\x7e]{8,200}"),
        Field("verify_token", "Verify token (you choose it)", secret=True, pattern=r"[\x21-\x7e]{8,200}"),
    )


class GraphWebhooks:
    """The handshake and the signature check, for the adapters of Meta's platforms."""

    def handshake(self, account: ChannelAccount, hook: Hook) -> Answer | None:
        return handshake(account, hook)

    def verify(self, account: ChannelAccount, hook: Hook) -> None:
        verify(account, hook)
