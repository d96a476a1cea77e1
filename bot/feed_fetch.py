"""Fetching a feed or calendar over HTTP: only ``http``/``https``, a timeout, a size limit,
conditional requests, redirects followed only to ``http``/``https``.

This module waits on the network and nothing else: it answers with bytes and validators
(:class:`Fetched`), "unchanged" (:data:`NOT_MODIFIED`) or raises :class:`FetchFailed` with a
short reason fit for a log line and a coordinator's notice (never the body).
"""

from __future__ import annotations

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
        self, *, max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.max_bytes = max_bytes
        self.timeout = timeout

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
