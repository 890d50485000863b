"""Where a webhook may be sent: an http(s) URL whose host resolves only to public addresses.

A site owner chooses the URL, and the server then POSTs there from inside the operator's network: a
URL naming 127.0.0.1, 10.0.0.5 or the cloud's metadata address (169.254.169.254) would make Papote a
proxy into places its operator never exposed (server-side request forgery). So the host is resolved and
every address it gives must be global, both when the endpoint is saved and before every attempt (a name
can change what it points to in between). `PAPOTE_WEBHOOK_ALLOW_PRIVATE` lifts the rule for a server
whose receivers live on its own network (and for the tests, whose receiver is on loopback).

Left out on purpose: pinning the resolved address for the connection itself. A name that answers a
public address to our check and a private one to the HTTP client a moment later could still slip
through; an operator worried about that runs Papote behind an egress proxy that enforces the same rule.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from papote.errors import ErrorCode, Forbidden, PapoteError

#: A URL longer than this is refused (the longest real webhook URLs are a few hundred characters).
MAX_URL = 2000


def check_url(url: str) -> str:
    """The URL's host, or `bad_field` when it is not an absolute http(s) URL without credentials."""
    if len(url) > MAX_URL:
        raise PapoteError(f"a webhook URL has at most {MAX_URL} characters", ErrorCode.BAD_FIELD)
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number
    except ValueError:
        raise PapoteError("the webhook URL is not a valid URL", ErrorCode.BAD_FIELD) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PapoteError("a webhook URL must be http:// or https:// with a host", ErrorCode.BAD_FIELD)
    if parts.username is not None or parts.password is not None:
        raise PapoteError("a webhook URL may not carry credentials: the signature authenticates",
                          ErrorCode.BAD_FIELD)
    del port
    return parts.hostname


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def check_target(url: str, *, allow_private: bool) -> None:
    """Refuse a URL that is malformed (`bad_field`), or whose host does not resolve or resolves to any
    address that is not public, unless `allow_private` (`forbidden`: a well-formed URL this server will
    not post to, as push.py refuses a push endpoint outside the browsers' services)."""
    host = check_url(url)
    if allow_private:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # UnicodeError: a name IDNA cannot encode (a label over 63 characters)
        raise Forbidden(f"the webhook host {host[:100]!r} does not resolve") from None
    addresses = {str(info[4][0]) for info in infos}
    private = sorted(a for a in addresses if not is_public(a))
    if not addresses or private:
        raise Forbidden(f"the webhook host {host!r} is a private or loopback address ({', '.join(private)}); "
                        "PAPOTE_WEBHOOK_ALLOW_PRIVATE allows it")
