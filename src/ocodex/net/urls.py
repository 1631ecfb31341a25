"""Pure URL facts the network layer needs: a base URL's server root, and whether a URL is this machine."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def server_root(base_url: str) -> str:
    """The native-API root: `http://h:11434/v1/` -> `http://h:11434` (one trailing `/v1` removed)."""
    root = base_url.strip().rstrip("/")
    if root.endswith("/v1"):
        root = root[: -len("/v1")].rstrip("/")
    return root


def is_loopback(url: str) -> bool:
    """Whether `url` (or a bare host) points at this machine: localhost, 127.0.0.0/8 or ::1."""
    text = url.strip()
    host = urlsplit(text if "://" in text else f"//{text}").hostname
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback
