"""Validation of the URLs the service hands back before the client fetches or uploads to them.

URLs are split by what they are sent. A URL that gets the API key (status, result, stream) must be https on
the base host or one of its subdomains. A signed URL (upload, output), fetched without credentials, may also
be https on a configured storage host: an exact name ("bucket.s3.amazonaws.com") or a "*.suffix" pattern
("*.r2.cloudflarestorage.com") matching any name ending in ".suffix", however many labels deep, but not the
suffix itself. So a storage host can take uploads but never the key. Plain http and loopback, private or
link-local addresses are accepted only with allow_local=True (the local stack and its emulator), and never for
a storage host. Host names are not resolved: the allow-list, not DNS, is the defence: a listed name resolving
somewhere private is a configuration error.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

from lassodrop.audiolasso.errors import InvalidInputError, UnsafeUrlError

_FORBIDDEN_CHARS = re.compile(r"[\s\\\x00-\x1f\x7f]")
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain"})
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_EXACT_HOST = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
# A wildcard needs at least two labels after it: "*.com" would admit most of the internet.
_WILDCARD_HOST = re.compile(rf"^\*\.({_LABEL}(?:\.{_LABEL})+)$")


class UrlPolicy:
    """Decides whether a returned URL may be fetched, with or without the API key; built from the base URL."""

    def __init__(
        self, base_url: str, *, allow_local: bool = False, signed_url_hosts: Iterable[str] = ()
    ) -> None:
        self.allow_local = allow_local
        self._api_host = _host_of(_split(base_url))
        self._storage = StorageHosts(signed_url_hosts)
        self.check_api(base_url)

    def check_api(self, url: str) -> str:
        """Return `url` when it may get the API key (the service's own host), else raise UnsafeUrlError."""
        host = self._basic_checks(url)[1]
        if not self._accepted_as_local(host) and not _within(host, self._api_host):
            raise UnsafeUrlError(f"refused host {host} for an authenticated call (not the service's host)")
        return url

    def check_signed(self, url: str) -> str:
        """Return `url` when it may be fetched as a signed URL (no credentials), else raise UnsafeUrlError.

        The service's host is accepted as for check_api; a configured storage host only over https.
        """
        parts, host = self._basic_checks(url)
        if self._accepted_as_local(host) or _within(host, self._api_host):
            return url
        if not self._storage.matches(host):
            raise UnsafeUrlError(f"refused host {host} (not the service's host or a configured storage host)")
        if parts.scheme != "https":
            raise UnsafeUrlError(f"refused {parts.scheme} URL on storage host {host} (https required)")
        return url

    def _basic_checks(self, url: str) -> tuple[SplitResult, str]:
        parts = _split(url)
        if parts.scheme != "https" and not (self.allow_local and parts.scheme == "http"):
            raise UnsafeUrlError(f"refused {parts.scheme or 'scheme-less'} URL (https required)")
        if parts.username is not None or parts.password is not None:
            raise UnsafeUrlError("refused URL carrying credentials")
        return parts, _host_of(parts)

    def _accepted_as_local(self, host: str) -> bool:
        """True for a local address the local stack may use; a local address without allow_local raises."""
        if not _is_local(host):
            return False
        if not self.allow_local:
            raise UnsafeUrlError(f"refused local or private address {host}")
        return True


class StorageHosts:
    """Storage host names allowed for signed URLs: exact names, or "*.suffix" for any name under suffix."""

    def __init__(self, patterns: Iterable[str]) -> None:
        if isinstance(patterns, str):
            raise InvalidInputError("signed_url_hosts must be a list of host names, not one string")
        exact: set[str] = set()
        suffixes: set[str] = set()
        for pattern in patterns:
            name = _normalise_host(pattern)
            if wildcard := _WILDCARD_HOST.match(name):
                suffixes.add(wildcard.group(1))
            elif _EXACT_HOST.match(name):
                exact.add(name)
            else:
                raise InvalidInputError(
                    f"signed URL host {pattern!r} is not a host name or a *.domain pattern",
                    param="signed_url_hosts",
                )
        self._exact = frozenset(exact)
        self._suffixes = frozenset(suffixes)

    def matches(self, host: str) -> bool:
        return host in self._exact or any(host.endswith("." + suffix) for suffix in self._suffixes)


def _within(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


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
