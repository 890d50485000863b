"""Email continuation: when the visitor has left, agents' replies follow them by email, and their email
replies come back to the same conversation (docs/channels.md)."""

from papote.channels.email.service import EmailContinuation

__all__ = ["EmailContinuation"]
