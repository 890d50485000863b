"""Client addresses as limits count them: one IPv4 address, or one IPv6 /64.

An IPv6 host is handed a whole /64 by its provider and may pick any address in it, so counting single
IPv6 addresses would let one machine look like 2^64 clients. Behind a reverse proxy the address is the
one the proxy forwarded (uvicorn trusts `X-Forwarded-For` from `FORWARDED_ALLOW_IPS`, 127.0.0.1 by
default); a socket with no peer (tests, a Unix socket) counts as "local".
"""

from __future__ import annotations

import ipaddress


def address_key(host: str | None) -> str:
    if not host:
        return "local"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
