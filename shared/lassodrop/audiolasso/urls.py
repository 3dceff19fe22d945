"""Validation of the URLs the service hands back before the client fetches or uploads to them.

A returned URL is only used when it is https and its host is the configured base host, one of its
subdomains, or an explicitly allowed extra host. Plain http and loopback, private or link-local addresses are
accepted only with allow_local=True (the local stack and its emulator). Host names are not resolved: the
allow-list, not DNS, is the defence: a listed name resolving somewhere private is a configuration error.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

from lassodrop.audiolasso.errors import UnsafeUrlError

_FORBIDDEN_CHARS = re.compile(r"[\s\\\x00-\x1f\x7f]")
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})


class UrlPolicy:
    """Decides whether a URL may be fetched; built once from the client's base URL."""

    def __init__(self, base_url: str, *, allow_local: bool = False, extra_hosts: Iterable[str] = ()) -> None:
        self.allow_local = allow_local
        self._hosts = frozenset(
            [_normalise_host(host) for host in extra_hosts] + [_host_of(_split(base_url))]
        )
        self.check(base_url)

    def check(self, url: str) -> str:
        """Return `url` unchanged when it is safe to use, else raise UnsafeUrlError."""
        parts = _split(url)
        if parts.scheme != "https" and not (self.allow_local and parts.scheme == "http"):
            raise UnsafeUrlError(f"refused {parts.scheme or 'scheme-less'} URL (https required)")
        if parts.username is not None or parts.password is not None:
            raise UnsafeUrlError("refused URL carrying credentials")
        host = _host_of(parts)
        if _is_local(host):
            if not self.allow_local:
                raise UnsafeUrlError(f"refused local or private address {host}")
            return url
        if not self._allowed(host):
            raise UnsafeUrlError(f"refused host {host} (not the service's host)")
        return url

    def _allowed(self, host: str) -> bool:
        return any(host == allowed or host.endswith("." + allowed) for allowed in self._hosts)


def _split(url: str) -> SplitResult:
    if _FORBIDDEN_CHARS.search(url):
        raise UnsafeUrlError("refused URL with whitespace, backslash or control characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - urlsplit only validates the port when it is read
    except ValueError as error:
        raise UnsafeUrlError(f"refused malformed URL: {error}") from None
    return parts


def _host_of(parts: SplitResult) -> str:
    if not parts.hostname:
        raise UnsafeUrlError("refused URL without a host")
    return _normalise_host(parts.hostname)


def _normalise_host(host: str) -> str:
    return host.strip().lower().rstrip(".")


def _is_local(host: str) -> bool:
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not address.is_global or address.is_multicast
