"""A feed server on 127.0.0.1 for the import tests: real HTTP, in a thread.

It serves whatever bytes a test puts at a path, with an ETag and a Last-Modified that change
with the bytes, and answers 304 to a conditional request that still holds; a path may also
redirect elsewhere. It counts what it answered, so a test can see the 304s.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@dataclass
class _Page:
    body: bytes
    content_type: str
    etag: str
    last_modified: str
    declare_length: bool = True


class FeedServer:
    """Pages by path; :meth:`put` changes one (new validators), :meth:`redirect` moves one."""

    def __init__(self) -> None:
        self._pages: dict[str, _Page] = {}
        self._redirects: dict[str, str] = {}
        self._stalls: dict[str, float] = {}
        self._versions = 0
        self._lock = threading.Lock()
        self.answered: Counter[tuple[str, int]] = Counter()
        self.unsent: Counter[str] = Counter()
        """Bytes a client did not read before closing, by path."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False  # a stalled answer does not hold the test up
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def put(
        self,
        path: str,
        body: bytes,
        content_type: str = "application/rss+xml",
        *,
        declare_length: bool = True,
    ) -> None:
        """Serve ``body`` at ``path`` from now on; ``declare_length=False``: without a
        Content-Length (the body ends when the connection closes)."""
        with self._lock:
            self._versions += 1
            modified = T0 + timedelta(hours=self._versions)
            self._pages[path] = _Page(
                body,
                content_type,
                '"' + hashlib.sha256(body).hexdigest()[:16] + '"',
                format_datetime(modified, usegmt=True),
                declare_length,
            )

    def redirect(self, path: str, location: str) -> None:
        self._redirects[path] = location

    def stall(self, path: str, seconds: float) -> None:
        """Wait ``seconds`` before answering for ``path`` (a server too slow to wait for)."""
        self._stalls[path] = seconds

    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path
        if path in self._stalls:
            time.sleep(self._stalls[path])
        if path in self._redirects:
            self._send(request, path, 302, b"", {"Location": self._redirects[path]})
            return
        with self._lock:
            page = self._pages.get(path)
        if page is None:
            self._send(request, path, 404, b"not found", {})
            return
        validators = {"ETag": page.etag, "Last-Modified": page.last_modified}
        if request.headers.get("If-None-Match") == page.etag or (
            request.headers.get("If-None-Match") is None
            and request.headers.get("If-Modified-Since") == page.last_modified
        ):
            self._send(request, path, 304, b"", validators)
            return
        headers = {**validators, "Content-Type": page.content_type}
        self._send(request, path, 200, page.body, headers, declare_length=page.declare_length)

    def _send(
        self,
        request: BaseHTTPRequestHandler,
        path: str,
        status: int,
        body: bytes,
        headers: dict[str, str],
        *,
        declare_length: bool = True,
    ) -> None:
        self.answered[(path, status)] += 1
        request.send_response(status)
        for name, value in headers.items():
            request.send_header(name, value)
        if status != 304 and declare_length:
            request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        for start in range(0, len(body), 16384):
            try:
                request.wfile.write(body[start : start + 16384])
                request.wfile.flush()
            except OSError:  # the client stopped reading
                self.unsent[path] += len(body) - start
                return

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@contextmanager
def feed_server() -> Iterator[FeedServer]:
    server = FeedServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


def rss(count: int, *, first: int = 1) -> bytes:
    """An RSS 2.0 feed of ``count`` items numbered from ``first`` (newest first), shaped like
    the Business & Human Rights Resource Centre's."""
    items = []
    for number in range(first + count - 1, first - 1, -1):
        day = T0 + timedelta(hours=number)
        items.append(
            f"<item><title>Call for input {number}</title>"
            f"<link>https://example.org/calls/{number}</link>"
            f'<guid isPermaLink="false">call-{number}</guid>'
            f"<pubDate>{format_datetime(day, usegmt=True)}</pubDate>"
            f"<description>&lt;p&gt;Submissions on item {number}&lt;/p&gt;</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Calls</title><link>https://example.org/</link><description>Calls</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


INDICO_ICS = b"""BEGIN:VCALENDAR\r
VERSION:2.0\r
PRODID:-//CERN//INDICO//EN\r
BEGIN:VEVENT\r
SUMMARY:UN Forum on Business and Human Rights\r
DTSTART;TZID=Europe/Zurich:20261125T100000\r
DTEND;TZID=Europe/Zurich:20261127T180000\r
DTSTAMP:20261101T080000Z\r
UID:indico-event-1234@indico.un.org\r
DESCRIPTION:Registration is open until 1 November.\\nBring ID.\r
LOCATION:Palais des Nations\r
URL:https://indico.un.org/event/1234/\r
END:VEVENT\r
BEGIN:VEVENT\r
SUMMARY:Treaty negotiation session (11th)\r
DTSTART:20261020T080000Z\r
DTEND:20261024T160000Z\r
DTSTAMP:20261101T080000Z\r
UID:indico-event-1235@indico.un.org\r
URL:https://indico.un.org/event/1235/\r
END:VEVENT\r
BEGIN:VEVENT\r
SUMMARY:Regional forum deadline\r
DTSTART;VALUE=DATE:20261215\r
DTEND;VALUE=DATE:20261216\r
DTSTAMP:20261101T080000Z\r
UID:indico-event-1236@indico.un.org\r
END:VEVENT\r
END:VCALENDAR\r
"""
"""An iCalendar file shaped like Indico's export: a TZID event, a UTC one, an all-day one."""
