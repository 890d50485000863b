"""Agents' credentials: argon2id passwords, login with lockout, session cookies, API keys.

Hashing and verifying run on a small bounded pool (`HashPool`): each costs ~20 ms of CPU by design, the
event loop carries every chat on this node, and a flood is shed with `503 busy` rather than queued.
Unknown emails are checked against a dummy hash so that "no such user" and "wrong password" take the
same time. The lockout counts failures per account, per client address and per device (see `_standing`
and docs/operations.md, "Security model").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from papote.authz import Principal
from papote.config import Config
from papote.errors import AuthError, Busy, ErrorCode, NotFound, RateLimited
from papote.ids import digest, new_secret, now_ms
from papote.store import Agent, AgentChanges, Store
from papote.types import PrincipalKind, Role

T = TypeVar("T")

#: OWASP's argon2id recommendation (m=19 MiB, t=2, p=1): ~20 ms per check on this class of machine.
HASHER = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, hash_len=32, salt_len=16,
                        type=Type.ID)
#: 8 characters is NIST SP 800-63B's floor for memorised secrets.
MIN_PASSWORD = 8
MAX_PASSWORD = 256
SESSION_COOKIE = "papote_session"
SECURE_SESSION_COOKIE = "__Host-papote_session"
#: A browser that signed in keeps this cookie; it does not authenticate anything, it only tells the
#: lockout "this device has signed in to this account before" (OWASP's device cookies).
DEVICE_COOKIE = "papote_device"
SECURE_DEVICE_COOKIE = "__Host-papote_device"
#: A device unseen for a year is forgotten (and its cookie lives as long: 400 days is browsers' cap).
DEVICE_TTL_MS = 365 * 24 * 3600 * 1000

_DUMMY_HASH = HASHER.hash("papote-timing-equaliser")


def _lower_priority() -> None:
    # Linux schedules threads as tasks: a nice hashing thread yields the core to the event loop, so a
    # burst of sign-ins slows the sign-ins, not every chat on the node.
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


class HashPool:
    """A few threads for argon2, and a bounded line in front of them.

    A job counts from its submission until its thread finishes it — not until its caller stops waiting,
    since a cancelled request (a client that hung up) leaves its hash running. When `workers + queue`
    jobs are counted, the next is refused with `Busy` at once: a flood of sign-ins is shed in
    microseconds instead of queueing for minutes in front of everyone else's.
    """

    def __init__(self, workers: int, queue: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="papote-argon2",
                                            initializer=_lower_priority)
        self.limit = workers + queue
        self._lock = threading.Lock()
        self.pending = 0

    def _done(self, _: object) -> None:
        with self._lock:
            self.pending -= 1

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        with self._lock:
            if self.pending >= self.limit:
                raise Busy("too many sign-ins at once; retry in a moment")
            self.pending += 1
        try:
            job = self._executor.submit(fn, *args)
        except BaseException:
            self._done(None)
            raise
        job.add_done_callback(self._done)
        return await asyncio.wrap_future(job)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def check_password_policy(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise AuthError(
            f"a password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters", ErrorCode.BAD_FIELD
        )


def _verify(stored: str, password: str) -> bool:
    try:
        return HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Attempt:
    """Where a sign-in (or a password check) comes from, as the lockout sees it."""

    #: The client address as it may be stored (addresses.stored_address): "" when none is kept, and
    #: then no address lockout applies.
    address: str
    device: str | None = None  # the device cookie's value, when the browser sent one


@dataclass(frozen=True)
class LoginResult:
    agent: Agent
    session_token: str
    #: The device cookie to (re)set: this browser has now signed in to this account.
    device_token: str


@dataclass(frozen=True)
class _Standing:
    device: str  # the device cookie's digest, or ""
    trusted: bool
    locked: bool


class Accounts:
    def __init__(self, store: Store, config: Config) -> None:
        self.store = store
        self.config = config
        self.hashing = HashPool(config.hash_workers, config.hash_queue)

    async def hash_password(self, password: str) -> str:
        check_password_policy(password)
        return await self.hashing.run(HASHER.hash, password)

    @property
    def cookie_name(self) -> str:
        # `__Host-` demands Secure, so it is only usable when served over https.
        return SECURE_SESSION_COOKIE if self.config.secure_cookies else SESSION_COOKIE

    @property
    def device_cookie_name(self) -> str:
        return SECURE_DEVICE_COOKIE if self.config.secure_cookies else DEVICE_COOKIE

    async def _standing(self, email: str, agent: Agent | None, attempt: Attempt, now: int) -> _Standing:
        """How the lockout judges this attempt; raises `RateLimited` when it may not even be tried.

        A device that signed in to this account before is judged by its own failures only: a flood from
        elsewhere, which locks the account for every other device, does not lock its owner out. Every
        other attempt counts against the account's failures from untrusted devices and, first, against
        its address's: an address that keeps failing is refused before any hashing, whatever it tries.
        """
        device = digest(attempt.device) if attempt.device and len(attempt.device) <= 128 else ""
        trusted = bool(device) and agent is not None and await self.store.trusted_device(
            device, agent.id, now - DEVICE_TTL_MS)
        failures = await self.store.sign_in_failures(
            email, attempt.address, device, now - self.config.lockout_window_secs * 1000)
        if not trusted and attempt.address and failures.address >= self.config.lockout_address_failures:
            raise RateLimited("too many failed sign-ins from your network; try again in 15 minutes")
        counted = failures.device if trusted else failures.account
        return _Standing(device, trusted, counted >= self.config.lockout_failures)

    async def _failed(self, email: str, attempt: Attempt, standing: _Standing, now: int) -> None:
        await self.store.record_sign_in_failure(email, attempt.address, standing.device, standing.trusted, now)

    async def login(self, email: str, password: str, attempt: Attempt) -> LoginResult:
        email = email.strip().lower()
        now = now_ms()
        agent = await self.store.get_agent_by_email(email)
        standing = await self._standing(email, agent, attempt, now)
        # Always pay for one verification, even when locked or unknown: timing reveals nothing.
        ok = await self.hashing.run(_verify, agent.password_hash if agent else _DUMMY_HASH, password)
        if standing.locked:
            raise AuthError("too many failed sign-ins; try again in 15 minutes", ErrorCode.LOCKED)
        if agent is None or not ok or agent.disabled:
            await self._failed(email, attempt, standing, now)
            raise AuthError("wrong email or password")
        await self.store.clear_sign_in_failures(email, attempt.address, standing.device)
        if HASHER.check_needs_rehash(agent.password_hash):
            agent = await self.store.update_agent(
                agent.id, AgentChanges(password_hash=await self.hashing.run(HASHER.hash, password))
            )
        token = new_secret("ps")
        expires = now + self.config.session_hours * 3600 * 1000
        await self.store.create_session(digest(token), agent.id, expires)
        # Expired sessions go at each sign-in: a table that only grows with the sign-ins, and no
        # periodic job to run once across nodes.
        await self.store.delete_sessions(expired_at=now)
        device_token = attempt.device if standing.device else new_secret("pd")
        assert device_token is not None
        await self.store.remember_device(digest(device_token), agent.id, now, now - DEVICE_TTL_MS)
        return LoginResult(agent, token, device_token)

    async def agent_for_session(self, token: str | None) -> Agent | None:
        if not token or len(token) > 128:
            return None
        agent_id = await self.store.get_session(digest(token), now_ms())
        if agent_id is None:
            return None
        agent = await self.store.get_agent(agent_id)
        return agent if agent and not agent.disabled else None

    async def agent(self, agent_id: str) -> Agent | None:
        return await self.store.get_agent(agent_id)

    async def agent_by_email(self, email: str) -> Agent | None:
        return await self.store.get_agent_by_email(email)

    async def principal(self, agent: Agent) -> Principal:
        """The agent as authorization sees them: their role on each site, read fresh."""
        memberships = await self.store.memberships(agent.id)
        return Principal(PrincipalKind.AGENT, agent.id, agent.name,
                         roles={m.site_id: Role(m.role) for m in memberships}, avatar=agent.avatar)

    async def is_operator(self, agent_id: str) -> bool:
        """Operators run the server (granted by the CLI): they may create sites on a shared server."""
        return await self.store.is_operator(agent_id)

    async def update_agent(self, agent_id: str, changes: AgentChanges) -> Agent:
        """An agent's own profile (name, avatar, capacity) or status."""
        return await self.store.update_agent(agent_id, changes)

    async def logout(self, token: str) -> None:
        await self.store.delete_sessions(token_hash=digest(token))

    async def change_password(self, agent: Agent, current: str, new: str, attempt: Attempt,
                              session_token: str) -> None:
        """Check `current` like a sign-in would (a wrong one counts towards the lockout: a stolen
        session must not become an unlimited password oracle), store `new`, and end every session of
        the account but this one."""
        check_password_policy(new)
        now = now_ms()
        standing = await self._standing(agent.email, agent, attempt, now)
        if standing.locked:
            raise AuthError("too many wrong passwords; try again in 15 minutes", ErrorCode.LOCKED)
        if not await self.hashing.run(_verify, agent.password_hash, current):
            await self._failed(agent.email, attempt, standing, now)
            raise AuthError("the current password is wrong")
        await self.store.update_agent(agent.id, AgentChanges(password_hash=await self.hash_password(new)))
        # The other sessions end: a changed password must lock out whoever knew the old one.
        await self.store.delete_other_sessions(agent.id, digest(session_token))

    async def reset_link_live(self, token: str) -> bool:
        return bool(token) and len(token) <= 128 and await self.store.password_reset_live(digest(token), now_ms())

    async def reset_password(self, token: str, new: str) -> str:
        """Set a new password with a reset link's token (channels/email/agent_mail.py mails it): the
        token is used up, and every session of the account ends, in one transaction. `not_found` for a
        token unknown, used or expired. Returns the agent's id (their sockets are closed by the caller)."""
        check_password_policy(new)
        if not token or len(token) > 128:
            raise NotFound("this link is not valid, or has expired")
        password_hash = await self.hash_password(new)
        agent_id = await self.store.reset_password(digest(token), now_ms(), password_hash)
        if agent_id is None:
            raise NotFound("this link is not valid, or has expired")
        return agent_id

    async def create_agent(self, email: str, password: str, name: str = "") -> Agent:
        email = email.strip().lower()
        if "@" not in email or len(email) > 254:
            raise AuthError("an agent needs a valid email", ErrorCode.BAD_FIELD)
        return await self.store.create_agent(
            email, name or email.split("@")[0], await self.hash_password(password)
        )

    async def create_api_key(self, site_id: str, name: str) -> tuple[str, str]:
        secret = new_secret("papi")
        key = await self.store.create_api_key(site_id, digest(secret), name)
        return key.id, secret

    async def site_for_api_key(self, secret: str) -> str | None:
        if not secret or len(secret) > 128:
            return None
        key = await self.store.get_api_key(digest(secret))
        return key.site_id if key else None
