"""Client addresses as limits count them (one IPv4 address, or one IPv6 /64), and as they are stored.

An IPv6 host is handed a whole /64 by its provider and may pick any address in it, so counting single
IPv6 addresses would let one machine look like 2^64 clients. Behind a reverse proxy the address is the
one the proxy forwarded (uvicorn trusts `X-Forwarded-For` from `FORWARDED_ALLOW_IPS`, 127.0.0.1 by
default); a socket with no peer (tests, a Unix socket) counts as "local".

What reaches the database (a failed sign-in's address) is cut further, as PAPOTE_CLIENT_ADDRESSES says
(`stored_address`): an IPv4 /24 or an IPv6 /48 by default — the network, not the machine — or nothing.
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


#: Prefixes kept by `truncated`: the customary anonymisation of analytics tools (an IPv4 /24 is one
#: street's worth of subscribers; an IPv6 /48 is one site's allocation).
TRUNCATED_V4 = 24
TRUNCATED_V6 = 48


def stored_address(host: str | None, mode: str) -> str:
    """What may be written to the database of a client address under `mode` (truncated, full, none):
    "" for none."""
    if mode == "none":
        return ""
    key = address_key(host)
    if mode == "full":
        return key
    try:
        network = ipaddress.ip_network(key, strict=False)
    except ValueError:
        return key  # "local", or something that is no address: nothing to cut
    prefix = TRUNCATED_V4 if network.version == 4 else TRUNCATED_V6
    return str(network.supernet(new_prefix=prefix)) if network.prefixlen > prefix else str(network)
