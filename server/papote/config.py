"""One configuration object, read once from ``PAPOTE_*`` environment variables and frozen.

Every setting is listed in the README's configuration table; `Config.from_env` is the only reader of the
environment, so tests build a `Config(...)` directly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Config:
    #: Where the store lives: a file path or `sqlite:///path` (SQLite, one process), or
    #: `postgresql://user@host:port/db` (PostgreSQL, any number of nodes).
    database: str = "./papote.db"
    #: PostgreSQL connections per node: up to 4 (half of them) are the append lanes, each carrying
    #: batches of appends; the others are a pool for reads and other writes (store/postgres/engine.py).
    #: Nodes × pool must stay under the server's max_connections (100 by default).
    database_pool: int = 10
    host: str = "127.0.0.1"
    port: int = 8000
    #: The URL browsers use to reach this server; its origin is the only one allowed on /ws/agent.
    public_url: str = ""
    #: FULL: an acknowledged message survives a power cut. NORMAL survives a process crash only.
    synchronous: str = "FULL"
    #: 64 KiB: a chat frame is a few hundred bytes; the cap bounds what a hostile client can make us buffer.
    max_frame_bytes: int = 65536
    #: 4000 characters: a long support message fits; a pasted log file goes through an attachment.
    max_body_chars: int = 4000
    #: Clients ping every 25 s because NATs commonly drop idle TCP after 60 s.
    heartbeat_secs: int = 25
    #: A socket silent for 60 s (two missed heartbeats plus slack) is reaped.
    idle_timeout_secs: int = 60
    #: Frames queued for one connection before it counts as a slow consumer and is cut off (it resumes later).
    send_queue_frames: int = 512
    #: A gap larger than this is not replayed frame by frame: the client reloads the latest page instead.
    resume_limit: int = 1000
    #: Per-connection frame budget (limits syntax). Generous for typing bursts, fatal for floods.
    rate_per_connection: str = "120/10second"
    #: Per-site budget for frames from all its visitors together.
    rate_per_site: str = "3000/10second"
    #: New anonymous visitors one client address may create. A widget without storage consent creates
    #: one per page view, so an office behind one NAT needs room; a script minting thousands does not.
    rate_new_visitors: str = "120/10minute"
    #: Messages one customer address may send a site through an inbound path (the inbound API, mail,
    #: messaging apps), per channel: a person writes a few a minute, a loop or a flood far more
    #: (inbound_limits.py). They count against `rate_per_site` too.
    rate_inbound_per_address: str = "30/minute"
    #: Where per-site budgets are counted across nodes: `memory` (each node on its own) or
    #: `redis://host:6379/0`. Empty: the bus's Redis when PAPOTE_BUS is Redis, else memory.
    rate_limits: str = ""
    #: Agent sessions end after this long, whatever their activity.
    session_hours: int = 12
    #: Lockout: 10 failures in 15 minutes locks an account for 15 minutes — for every device but those
    #: that signed in to it before, each of which gets its own 10.
    lockout_failures: int = 10
    lockout_window_secs: int = 900
    #: Failures from one client address (any email) before that address is refused for the window: an
    #: office behind one NAT makes a few typos; a guessing script makes thousands.
    lockout_address_failures: int = 30
    #: Who may create sites through the API: "operators" (accounts flagged by `papote operator grant`;
    #: `papote init` flags its own) or "anyone" signed in. The CLI always may.
    site_creation: str = "operators"
    #: How often live console sockets check that their session still holds (ended by the CLI, expired):
    #: the bus closes them at once when the server itself ends a session.
    session_check_secs: int = 10
    #: Threads hashing passwords (argon2id, ~20 ms of CPU each). One leaves the other cores to the chats.
    hash_workers: int = 1
    #: Hashes waiting for a thread beyond those running; more are refused `503 busy` at once. 32 × 20 ms
    #: bounds a sign-in's wait near 0.7 s, so a login flood sheds instead of delaying everyone.
    hash_queue: int = 32
    log_level: str = "info"
    #: Create (or reuse) a demo site and agent at start, for `make run`.
    demo: bool = False
    demo_email: str = "agent@demo.papote"
    demo_password: str = "papote-demo"
    #: How connections on several nodes hear of each other's events: `local` (one process, the default),
    #: `redis://host:6379/0` or `nats://host:4222`.
    bus: str = "local"
    #: Every this many seconds a node compares the conversations it follows with the store and repairs
    #: what the broker lost (it also does after every broker reconnect).
    bus_check_secs: int = 30
    #: Where attachments' bytes are kept: `database` (the store's own table; the default with
    #: PostgreSQL, so every node reads what any wrote), or a folder's path (the default beside a SQLite
    #: file: `papote.db.attachments/`). papote/attachments/storage.py.
    attachments: str = ""
    #: Uploads never sent with a message are deleted after this long: a visitor who picked a file and
    #: left. A day lets a slow composer finish; the cleanup runs every few minutes, on one node.
    attachments_unsent_secs: int = 86400
    #: Web Push alerts to agents' devices (docs/operations.md, "Alerts on the phone"); off: no key is
    #: made, the routes answer and nothing is ever sent.
    push: bool = True
    #: The contact a push service may write to about our pushes (VAPID `sub`): `mailto:…` or `https://…`.
    #: Empty: PAPOTE_PUBLIC_URL when it is https, else mailto:papote@localhost.
    push_subject: str = ""
    #: The push services the server posts to, as origins (`*.` = any subdomain): an agent chooses the
    #: endpoint, so the server must not post wherever one says. These are Chrome's, Firefox's, Edge's
    #: and Safari's.
    push_services: str = (
        "https://fcm.googleapis.com,https://updates.push.services.mozilla.com,https://*.notify.windows.com,"
        "https://web.push.apple.com,https://*.push.apple.com"
    )
    #: Alerts waiting to be sent; beyond, new ones are dropped (and counted): a slow push service must
    #: never hold memory or the chat's hot path hostage.
    push_queue: int = 1000
    #: One push request's limit (connect, send, answer): a push service that hangs costs a slot, not a worker.
    push_timeout_secs: int = 10
    #: Email continuation (docs/channels.md). The relay outbound mail goes to: `smtp://user:pass@host:587`
    #: (STARTTLS when the relay offers it; `?starttls=require` insists), `smtps://…:465` (TLS from the
    #: start); `?verify=off` accepts a relay's self-signed certificate. Empty: no email is ever sent.
    smtp_url: str = ""
    #: The From address of continuation mail (an address of the operator's domain that the relay signs).
    email_from: str = ""
    #: The domain of reply addresses (`reply+…@domain`), whose MX reaches PAPOTE_SMTP_LISTEN or a relay
    #: that forwards to it. Empty: the domain of PAPOTE_EMAIL_FROM.
    email_domain: str = ""
    #: `host:port` of the built-in SMTP listener for replies. Empty: no listener (off by default).
    smtp_listen: str = ""
    #: How often a node looks for digests to send and deliveries that are due.
    email_check_secs: int = 5
    #: One SMTP exchange may take this long; a claimed delivery is leased for twice as long, so a node
    #: that dies mid-send leaves it to another claim soon after.
    smtp_timeout_secs: int = 30
    #: What is stored of a client's address (today: a failed sign-in's, for the lockout; a visitor's
    #: address is never stored): `truncated` keeps an IPv4 /24 or an IPv6 /48, `full` the address (an
    #: IPv6 /64), `none` nothing (the lockout then counts per account and per device only).
    client_addresses: str = "truncated"
    #: How often one node applies the sites' retention (their `retention_*_days` settings).
    retention_every_secs: int = 3600
    #: How often each node ends the snoozes that are over (conversations/snooze.py): how late past its
    #: time a snoozed conversation can come back, and how long a visitor's message can take to wake one
    #: snoozed on another node less than this long ago. One indexed read of the snoozed ones each time.
    snooze_check_secs: int = 5
    #: Postmark's inbound webhook (`POST /api/webhooks/postmark/inbound`, docs/channels.md): the password of
    #: the HTTP Basic credentials put in the webhook's URL at Postmark. Empty: the route answers 404.
    postmark_inbound_secret: str = ""
    #: Mailgun's inbound routes (`POST /api/webhooks/mailgun/inbound`, docs/channels.md): the account's
    #: HTTP webhook signing key, which signs each post. Empty: the route answers 404.
    mailgun_signing_key: str = ""
    #: "A conversation is waiting" is mailed to a site's agents this long after a visitor's text, if by
    #: then no agent is online and none has answered: a visitor whose agent is just reconnecting (a
    #: reload, a network change) is no reason to mail the whole team.
    waiting_mail_secs: int = 60
    #: Messaging channels (docs/channels.md): each provider's API base URL (tests point them at fakes;
    #: an operator behind an egress proxy may too). Meta's Graph API carries WhatsApp, Messenger and
    #: Instagram; its version is part of the URL.
    meta_api_url: str = "https://graph.facebook.com/v21.0"
    telegram_api_url: str = "https://api.telegram.org"
    twilio_api_url: str = "https://api.twilio.com"
    #: How often a node looks for channel deliveries that are due (a reply pokes the worker at once).
    messaging_check_secs: int = 5
    #: One provider request's limit; a claimed delivery is leased for three times as long.
    messaging_timeout_secs: int = 10
    #: Customers' files named by URL in a messaging webhook (Twilio's MediaUrl, Messenger's and Instagram's
    #: attachment URLs). Off (the default), a URL, or a redirect from it, to a non-public address is not
    #: fetched (a note says so): a site owner signs their own webhooks. On: any http(s) host (a test's fake).
    media_allow_private: bool = False
    #: Outgoing webhooks (docs/channels.md, "Webhooks"). Off (the default), an endpoint whose host is or
    #: resolves to a loopback, private, link-local or otherwise non-public address is refused: a site
    #: owner must not make the server post into its operator's network. On: any http(s) host.
    webhook_allow_private: bool = False
    #: The first retry of a failed webhook waits this long, then each wait doubles up to
    #: PAPOTE_WEBHOOK_RETRY_MAX_MS (±20 %); after PAPOTE_WEBHOOK_ATTEMPTS attempts it is given up. The
    #: defaults (30 s doubling to 1 h, 16 attempts) keep trying for about nine hours: a receiver down for a
    #: deploy or a night gets every event afterwards.
    webhook_retry_ms: int = 30_000
    webhook_retry_max_ms: int = 3_600_000
    webhook_attempts: int = 16
    #: One webhook request's limit (connect, send, answer); the receiver should answer 2xx at once and
    #: do its work later.
    webhook_timeout_secs: int = 10
    #: How often a node looks for events not yet queued (after a crash) and deliveries that are due;
    #: events committed on a node are queued at once without waiting for it.
    webhook_check_secs: int = 5
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def push_contact(self) -> str:
        """The VAPID `sub` claim: PAPOTE_PUSH_SUBJECT, or the public https URL, or a local mailto."""
        if self.push_subject:
            return self.push_subject
        return self.base_url if self.base_url.startswith("https://") else "mailto:papote@localhost"

    @property
    def push_service_list(self) -> list[str]:
        return [s.strip() for s in self.push_services.split(",") if s.strip()]

    @property
    def secure_cookies(self) -> bool:
        return self.base_url.startswith("https://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "extra":
                continue
            raw = env.get("PAPOTE_" + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _parse(f.name, raw, type(getattr(cls, f.name, "")))
        values.update({k: v for k, v in overrides.items() if v is not None})
        config = cls(**values)
        config.validate()
        return config

    @property
    def email_enabled(self) -> bool:
        """Whether continuation mail can be sent at all: a relay and a sender are configured."""
        return bool(self.smtp_url and self.email_from)

    @property
    def reply_domain(self) -> str:
        return self.email_domain or self.email_from.rpartition("@")[2]

    @property
    def database_backend(self) -> str:
        """"postgres" or "sqlite", from the form of `database`."""
        return "postgres" if self.database.startswith(("postgresql://", "postgres://")) else "sqlite"

    @property
    def database_path(self) -> str:
        """The SQLite file (`sqlite:///x.db` and `x.db` name the same one)."""
        return self.database[len("sqlite://"):] if self.database.startswith("sqlite://") else self.database

    @property
    def database_shown(self) -> str:
        """`database` as logs may show it: a PostgreSQL URL without its password."""
        parts = urlsplit(self.database)
        if self.database_backend != "postgres" or parts.password is None:
            return self.database
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()

    @property
    def bus_shown(self) -> str:
        """`bus` as logs may show it: without a password."""
        parts = urlsplit(self.bus)
        if parts.password is None:
            return self.bus
        return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@", 1)).geturl()

    def validate(self) -> None:
        if self.bus != "local" and not self.bus.startswith(("redis://", "rediss://", "nats://", "tls://")):
            raise ValueError("PAPOTE_BUS must be local, redis://… or nats://…")
        if self.rate_limits not in ("", "memory") and not self.rate_limits.startswith(("redis://", "rediss://")):
            raise ValueError("PAPOTE_RATE_LIMITS must be memory or redis://…")
        if not 1 <= self.bus_check_secs <= 3600:
            raise ValueError("PAPOTE_BUS_CHECK_SECS must be between 1 and 3600")
        if "://" in self.database and self.database_backend != "postgres" and not self.database.startswith(
            "sqlite:///"
        ):
            raise ValueError("PAPOTE_DATABASE must be a path, sqlite:///path or postgresql://…")
        if not 1 <= self.database_pool <= 500:
            raise ValueError("PAPOTE_DATABASE_POOL must be between 1 and 500")
        if self.synchronous.upper() not in {"FULL", "NORMAL", "EXTRA"}:
            raise ValueError("PAPOTE_SYNCHRONOUS must be FULL, NORMAL or EXTRA")
        if not 1024 <= self.max_frame_bytes <= 16 * 1024 * 1024:
            raise ValueError("PAPOTE_MAX_FRAME_BYTES must be between 1 KiB and 16 MiB")
        if self.site_creation not in {"operators", "anyone"}:
            raise ValueError("PAPOTE_SITE_CREATION must be operators or anyone")
        if not 1 <= self.hash_workers <= 64 or not 0 <= self.hash_queue <= 10000:
            raise ValueError("PAPOTE_HASH_WORKERS must be 1 to 64 and PAPOTE_HASH_QUEUE 0 to 10000")
        if not 60 <= self.attachments_unsent_secs <= 30 * 86400:
            raise ValueError("PAPOTE_ATTACHMENTS_UNSENT_SECS must be between 60 and 2592000")
        if self.push_subject and not self.push_subject.startswith(("mailto:", "https://")):
            raise ValueError("PAPOTE_PUSH_SUBJECT must be mailto:… or https://…")
        if not 1 <= self.push_queue <= 100_000 or not 1 <= self.push_timeout_secs <= 120:
            raise ValueError("PAPOTE_PUSH_QUEUE must be 1 to 100000 and PAPOTE_PUSH_TIMEOUT_SECS 1 to 120")
        if self.heartbeat_secs >= self.idle_timeout_secs:
            raise ValueError("PAPOTE_HEARTBEAT_SECS must be below PAPOTE_IDLE_TIMEOUT_SECS")
        if self.smtp_url and not self.smtp_url.startswith(("smtp://", "smtps://")):
            raise ValueError("PAPOTE_SMTP_URL must be smtp://… or smtps://…")
        if self.smtp_url and "@" not in self.email_from:
            raise ValueError("PAPOTE_EMAIL_FROM must be an email address when PAPOTE_SMTP_URL is set")
        if self.smtp_listen and not re.fullmatch(r"\[?[\w.:-]+\]?:\d{1,5}", self.smtp_listen):
            raise ValueError("PAPOTE_SMTP_LISTEN must be host:port")
        for name in ("meta_api_url", "telegram_api_url", "twilio_api_url"):
            if not getattr(self, name).startswith(("https://", "http://")):
                raise ValueError(f"PAPOTE_{name.upper()} must be an http(s) URL")
        if not 1 <= self.messaging_check_secs <= 3600 or not 1 <= self.messaging_timeout_secs <= 120:
            raise ValueError("PAPOTE_MESSAGING_CHECK_SECS must be 1 to 3600, PAPOTE_MESSAGING_TIMEOUT_SECS 1 to 120")
        if not 1 <= self.email_check_secs <= 3600 or not 1 <= self.smtp_timeout_secs <= 600:
            raise ValueError("PAPOTE_EMAIL_CHECK_SECS must be 1 to 3600 and PAPOTE_SMTP_TIMEOUT_SECS 1 to 600")
        if self.client_addresses not in {"truncated", "full", "none"}:
            raise ValueError("PAPOTE_CLIENT_ADDRESSES must be truncated, full or none")
        if not 1 <= self.retention_every_secs <= 7 * 86400:
            raise ValueError("PAPOTE_RETENTION_EVERY_SECS must be between 1 and 604800")
        if not 1 <= self.snooze_check_secs <= 300:
            raise ValueError("PAPOTE_SNOOZE_CHECK_SECS must be between 1 and 300")
        if not 0 <= self.waiting_mail_secs <= 86400:
            raise ValueError("PAPOTE_WAITING_MAIL_SECS must be 0 to 86400")
        if not 10 <= self.webhook_retry_ms <= self.webhook_retry_max_ms <= 86_400_000:
            raise ValueError("PAPOTE_WEBHOOK_RETRY_MS must be at least 10 and at most PAPOTE_WEBHOOK_RETRY_MAX_MS "
                             "(at most a day)")
        if not 1 <= self.webhook_attempts <= 100 or not 1 <= self.webhook_timeout_secs <= 120:
            raise ValueError("PAPOTE_WEBHOOK_ATTEMPTS must be 1 to 100 and PAPOTE_WEBHOOK_TIMEOUT_SECS 1 to 120")
        if not 1 <= self.webhook_check_secs <= 3600:
            raise ValueError("PAPOTE_WEBHOOK_CHECK_SECS must be 1 to 3600")
        from limits import parse

        for name in ("rate_per_connection", "rate_per_site", "rate_new_visitors", "rate_inbound_per_address"):
            try:
                parse(getattr(self, name))
            except ValueError:
                raise ValueError(f"PAPOTE_{name.upper()} must be a rate such as 120/10second") from None


def _parse(name: str, raw: str, kind: type) -> Any:
    if kind is bool:
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if kind is int:
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"PAPOTE_{name.upper()} must be an integer, got {raw!r}") from None
    return raw
