"""Fetching a feed or calendar over HTTP: only ``http``/``https``, a timeout, a size limit,
conditional requests, redirects followed only to ``http``/``https``.

This module waits on the network and nothing else: it answers with bytes and validators
(:class:`Fetched`), "unchanged" (:data:`NOT_MODIFIED`) or raises :class:`FetchFailed` with a
short reason fit for a log line and a coordinator's notice (never the body). A fetcher made
``public_only`` (for addresses members give) refuses any host that resolves to a private,
loopback or link-local address, checked again at each redirect; the check resolves the name
just before the request, so a name whose answers change between the two (DNS rebinding)
is not fully excluded.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import urljoin, urlsplit

import httpx

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_TIMEOUT",
    "NOT_MODIFIED",
    "FeedFetcher",
    "FetchFailed",
    "Fetched",
    "NotModified",
    "PrivateAddress",
    "private_address",
    "url_problem",
]

DEFAULT_MAX_BYTES: Final = 2 * 1024 * 1024
DEFAULT_TIMEOUT: Final = 20.0
MAX_REDIRECTS: Final = 5
URL_MAX: Final = 2000
USER_AGENT: Final = "Caucus feed reader"
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be fetched as a feed, or ``None`` when it can: an absolute
    ``http``/``https`` URL with a host, no spaces, at most 2000 characters."""
    if len(url) > URL_MAX:
        return "is longer than 2000 characters"
    if any(char.isspace() for char in url) or not url.isprintable():
        return "holds spaces or control characters"
    try:
        parts = urlsplit(url)
    except ValueError:
        return "is not a URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "is not an http or https URL"
    if not parts.hostname:
        return "has no host"
    return None


class FetchFailed(Exception):
    """The feed could not be fetched; ``reason`` says why in a few words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PrivateAddress(FetchFailed):
    """The address (or one it redirects to) is on a private, loopback or link-local network,
    which a member's address may not make the bot reach (the cloud's metadata service, the
    database, the host's own services)."""

    def __init__(self) -> None:
        super().__init__("the address is on a private or local network")


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def private_address(host: str, port: int | None = None) -> bool:
    """Whether ``host`` is, or resolves (DNS) to, any address that is not public: private
    (10/8, 172.16/12, 192.168/16, fc00::/7), loopback (127/8, ::1), link-local (169.254/16,
    fe80::/10, where the cloud's metadata service answers), shared, reserved or multicast.
    A host that does not resolve is left to the fetch to fail."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return any(not _is_public(str(entry[4][0])) for entry in found)


@dataclass(frozen=True, slots=True)
class Fetched:
    """A feed's body, with the validators to send with the next request."""

    body: bytes
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True, slots=True)
class NotModified:
    """The server said the feed has not changed since the validators sent."""


NOT_MODIFIED: Final = NotModified()


def _header(response: httpx.Response, name: str, limit: int) -> str | None:
    value = response.headers.get(name)
    if value is None or len(value) > limit or not value.isprintable():
        return None
    return str(value)


class FeedFetcher:
    """Fetches feeds with a blocking HTTP client (run it off the event loop)."""

    def __init__(
        self,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
        public_only: bool = False,
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.public_only = public_only
        """Refuse (:class:`PrivateAddress`) any address, first or redirected to, that
        resolves to a private, loopback or link-local one (:func:`private_address`)."""

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> Fetched | NotModified:
        """The feed at ``url``; :data:`NOT_MODIFIED` when the validators still hold."""
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip, deflate"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
                return self._follow(client, url, headers)
        except httpx.TimeoutException:
            raise FetchFailed("timed out") from None
        except httpx.HTTPError as error:
            raise FetchFailed(f"connection failed ({type(error).__name__})") from None

    def _follow(
        self, client: httpx.Client, url: str, headers: dict[str, str]
    ) -> Fetched | NotModified:
        # The timeout bounds each wait; this bounds the whole fetch (a server dripping bytes).
        deadline = time.monotonic() + self.timeout
        for _ in range(MAX_REDIRECTS + 1):
            problem = url_problem(url)
            if problem is not None:
                raise FetchFailed(f"the address {problem}")
            parts = urlsplit(url)
            if self.public_only and private_address(str(parts.hostname), parts.port):
                raise PrivateAddress
            with client.stream("GET", url, headers=headers) as response:
                if response.status_code in _REDIRECTS and "Location" in response.headers:
                    location = response.headers.get("Location", "")
                    url = urljoin(url, location)
                    continue
                if response.status_code == 304:
                    return NOT_MODIFIED
                if response.status_code != 200:
                    raise FetchFailed(f"HTTP {response.status_code}")
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > self.max_bytes:
                    raise FetchFailed(f"larger than {self.max_bytes} bytes")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self.max_bytes:
                        raise FetchFailed(f"larger than {self.max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise FetchFailed("timed out")
                return Fetched(
                    bytes(body),
                    _header(response, "ETag", 500),
                    _header(response, "Last-Modified", 100),
                )
        raise FetchFailed("too many redirects")
