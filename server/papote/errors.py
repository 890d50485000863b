"""Errors Papote raises, with the codes that reach clients.

Hierarchy::

    PapoteError                 base; carries an ErrorCode, answered as an `error` frame or a JSON error
    ├── ProtocolError           a frame that cannot be understood (bad_frame, unknown_type, bad_field, too_large)
    ├── AuthError               unauthorized, identity_rejected, locked
    ├── NotFound                not_found — also what a principal gets for what it may not see
    ├── Forbidden               forbidden — it may see the thing but not do that
    ├── Conflict                conflict — client_msg_id reused with another body, impossible state change
    ├── RateLimited             rate_limited
    ├── Busy                    busy — a bounded queue is full (password hashing): retry in a moment
    ├── Blocked                 blocked — the visitor is blocked on the site; the message was not stored
    └── Held                    held — the spam filter kept the message for review (stored aside)

Close codes for WebSockets are listed in `CloseCode`; both tables are documented in docs/protocol.md.
"""

from __future__ import annotations

from enum import Enum, IntEnum


class ErrorCode(str, Enum):
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    BAD_FIELD = "bad_field"
    TOO_LARGE = "too_large"
    UNAUTHORIZED = "unauthorized"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    RATE_LIMITED = "rate_limited"
    IDENTITY_REJECTED = "identity_rejected"
    LOCKED = "locked"
    BUSY = "busy"
    UNSUPPORTED_TYPE = "unsupported_type"
    INVALID_FILE = "invalid_file"
    #: The visitor is blocked on this site: the message was not stored (papote/moderation.py).
    BLOCKED = "blocked"
    #: The spam filter held the message for an agent's review: stored aside, not delivered yet.
    HELD = "held"
    #: A reply a messaging channel cannot carry now (WhatsApp's 24-hour window closed, no template).
    WINDOW_CLOSED = "window_closed"
    #: Two contacts an agent asked to merge were both verified by the site, as different users.
    VERIFIED_DIFFERENT = "verified_different"
    #: A tap on quick replies the visitor already answered: one answer per set (quick_replies.py).
    ANSWERED = "answered"
    INTERNAL = "internal"

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self]


_HTTP_STATUS = {
    ErrorCode.BAD_FRAME: 400,
    ErrorCode.UNKNOWN_TYPE: 400,
    ErrorCode.BAD_FIELD: 400,
    ErrorCode.TOO_LARGE: 413,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.CONFLICT: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.IDENTITY_REJECTED: 401,
    ErrorCode.LOCKED: 423,
    ErrorCode.BUSY: 503,
    ErrorCode.UNSUPPORTED_TYPE: 415,
    ErrorCode.INVALID_FILE: 422,
    ErrorCode.BLOCKED: 403,
    # Stored, to be delivered once released: accepted, not refused.
    ErrorCode.HELD: 202,
    ErrorCode.WINDOW_CLOSED: 409,
    ErrorCode.VERIFIED_DIFFERENT: 409,
    ErrorCode.ANSWERED: 409,
    ErrorCode.INTERNAL: 500,
}


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001  # server restart: reconnect and resume
    TOO_BIG = 1009
    BAD_HELLO = 4000
    UNAUTHORIZED = 4001
    ORIGIN_NOT_ALLOWED = 4003
    SITE_NOT_FOUND = 4004
    VERSION_UNSUPPORTED = 4005
    RATE_LIMITED = 4008
    SLOW_CONSUMER = 4009
    SESSION_REVOKED = 4010
    IDLE = 4011
    MEMBERSHIP_CHANGED = 4012  # removed from (or disabled on) a site: reconnect, the welcome lists the rest
    VISITOR_ERASED = 4013  # the site erased this visitor: the widget forgets its token and stays closed


class PapoteError(Exception):
    """Base class: `code` says what went wrong to a machine, the message to a person."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


class ProtocolError(PapoteError):
    """Raised by the protocol core when a frame cannot be decoded or validated."""

    code = ErrorCode.BAD_FRAME


class AuthError(PapoteError):
    """Raised when a credential is missing or wrong (token, session, signature, lockout)."""

    code = ErrorCode.UNAUTHORIZED


class NotFound(PapoteError):
    """Raised when a resource does not exist or the principal may not see it (same answer)."""

    code = ErrorCode.NOT_FOUND

    def __init__(self, message: str = "not found") -> None:
        super().__init__(message)


class Forbidden(PapoteError):
    """Raised when the principal may see the resource but not perform the action."""

    code = ErrorCode.FORBIDDEN


class Conflict(PapoteError):
    """Raised when a write contradicts what is stored (reused client_msg_id, impossible transition)."""

    code = ErrorCode.CONFLICT


class RateLimited(PapoteError):
    """Raised when a connection, a site or an address goes over its rate limit."""

    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str = "slow down", retry_after: int | None = None) -> None:
        super().__init__(message)
        #: Seconds until the budget opens again, when known: HTTP answers say it in `Retry-After`.
        self.retry_after = retry_after


class Busy(PapoteError):
    """Raised when a bounded queue is full: the request is shed at once rather than left to wait."""

    code = ErrorCode.BUSY

    def __init__(self, message: str = "the server is busy; retry in a moment") -> None:
        super().__init__(message)


class Blocked(PapoteError):
    """A blocked visitor's message: refused, not stored (papote/moderation.py)."""

    code = ErrorCode.BLOCKED

    def __init__(self, message: str = "you cannot send messages on this site") -> None:
        super().__init__(message)


class Held(PapoteError):
    """The spam filter held a visitor's message: stored aside until an agent releases or deletes it."""

    code = ErrorCode.HELD

    def __init__(self, message: str = "your message is waiting for review") -> None:
        super().__init__(message)
