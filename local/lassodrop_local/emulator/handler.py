"""HTTP mechanics of the emulator: one handler per connection, built on BaseHTTPRequestHandler (HTTP/1.1).

The standard library rather than a framework, because the tests need what frameworks hide: seeing
`Transfer-Encoding: chunked` before any body is read (to answer 411 like a presigned PUT), reading an upload
in fixed chunks straight off the socket (hashing it on the way, never holding it whole), and dropping a
connection part-way through a body. What each route answers lives in routes/; this module only reads
bodies, sends answers (JSON, bytes, files, streams), turns `ApiError` into the error body, records every
call that reached a route, and drops connections when a control asks.
"""

import hashlib
import json
import logging
import socket
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from lassodrop_local.emulator import admin, routes
from lassodrop_local.emulator.errors import ApiError, invalid
from lassodrop_local.emulator.state import RequestRecord

if TYPE_CHECKING:
    from lassodrop_local.emulator.listener import HttpServer
    from lassodrop_local.emulator.server import EmulatorServer

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
_MAX_JSON_BYTES = 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    """Answers one connection's requests; routes read the request and answer through its public methods."""

    protocol_version = "HTTP/1.1"
    server: "HttpServer"
    query: dict[str, str]
    _body_read: bool = False
    _current: routes.Route | None = None
    _recorded: bool = False

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def send_response(self, code: int, message: str | None = None) -> None:
        # Recorded before the answer leaves, so a test that got the answer also sees the record.
        self._record(code)
        super().send_response(code, message)

    @property
    def app(self) -> "EmulatorServer":
        return self.server.app

    def _handle(self) -> None:
        self._body_read, self._current, self._recorded = False, None, False
        parts = urlsplit(self.path)
        self.query = dict(parse_qsl(parts.query))
        if parts.path.startswith("/_emulator/"):
            self._admin(parts.path.removeprefix("/_emulator/"))
            return
        try:
            route, params = routes.find(self.command, parts.path)
        except ApiError as error:
            self._send_error(error)
            return
        self._current = route
        try:
            reply = routes.run(self, route, params)
            if reply is not None:
                self.send_json(reply.status, reply.body, reply.headers)
        except ApiError as error:
            self._send_error(error)
        finally:
            # Still unrecorded here means no answer was sent: the connection was dropped.
            self._record(None)

    def _admin(self, name: str) -> None:
        body: Any = None
        if self.command == "POST":
            try:
                body = self.json_body()
            except ApiError as error:
                self._send_error(error)
                return
        status, payload = admin.handle(self.app, self.command, name, body)
        self.send_json(status, payload)

    # Reading the request.

    def flag(self, name: str) -> bool:
        """A boolean query parameter: `true` or `1`, in any case."""
        return self.query.get(name, "").lower() in ("true", "1")

    def chunked(self) -> bool:
        return "chunked" in self.headers.get("Transfer-Encoding", "").lower()

    def json_body(self) -> Any:
        """The body parsed as JSON (None when empty); a chunked or oversized body is refused unread."""
        if self.chunked():
            raise ApiError(411, "INVALID_REQUEST", "Send the body with a Content-Length.")
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_JSON_BYTES:
            raise invalid("The request body is too large.", "body")
        raw = self.rfile.read(length)
        self._body_read = True
        try:
            return json.loads(raw or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            raise invalid("The body must be JSON.", "body") from exc

    def receive(self, path: Path, size: int, drop_after: int | None) -> str | None:
        """Stream `size` body bytes to `path` in chunks, hashing as it goes; answers the SHA-256.

        Stops after `drop_after` bytes when given and drops the connection unanswered; None then, and
        also when the client ended the body early.
        """
        limit = size if drop_after is None else min(size, drop_after)
        digest, received = hashlib.sha256(), 0
        partial = path.with_suffix(".part")
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as sink:
            while received < limit:
                chunk = self.rfile.read(min(CHUNK_BYTES, limit - received))
                if not chunk:
                    break
                digest.update(chunk)
                sink.write(chunk)
                received += len(chunk)
        self._body_read = received == size
        if received < size:
            logger.info("upload ended early file=%s received=%d of=%d", path.name, received, size)
            self.drop_connection()
            return None
        partial.replace(path)
        return digest.hexdigest()

    def headers_seen(self) -> dict[str, str]:
        """The request headers, lower-cased, with Authorization redacted."""
        seen = {name.lower(): value for name, value in self.headers.items()}
        if "authorization" in seen:
            seen["authorization"] = "<redacted>"
        return seen

    # Answering.

    def send_json(self, status: int, body: object, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.send_bytes(status, json.dumps(body).encode(), (("Content-Type", "application/json"), *headers))

    def send_bytes(self, status: int, payload: bytes, headers: Iterable[tuple[str, str]]) -> None:
        # An unread request body would be parsed as the next request on this connection: close it instead.
        unread = not self._body_read and (
            int(self.headers.get("Content-Length") or 0) > 0 or "Transfer-Encoding" in self.headers
        )
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        # An offline server finishes the answer in hand (the admin call that took it offline), then closes.
        if unread or not self.app.online:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def send_file(self, path: Path, content_type: str, drop_after: int | None) -> None:
        """Stream from disk in chunks; with `drop_after`, cut the body short there and drop the connection."""
        size = path.stat().st_size
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        remaining = size if drop_after is None else min(size, drop_after)
        with path.open("rb") as source:
            while remaining > 0:
                chunk = source.read(min(CHUNK_BYTES, remaining))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)
        if drop_after is not None and drop_after < size:
            self.wfile.flush()
            self.drop_connection()

    def open_stream(self, content_type: str) -> None:
        """Start a 200 answer of unknown length: its end is the end of the connection."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

    def write_now(self, data: bytes) -> None:
        """Write part of a streamed answer and flush it, so the client sees it at once."""
        self.wfile.write(data)
        self.wfile.flush()

    def drop_connection(self) -> None:
        """End the connection without (the rest of) an answer, recording the call as unanswered."""
        self._record(None)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            logger.debug("connection already closed")

    def _send_error(self, error: ApiError) -> None:
        if error.status >= 500:
            logger.info("answering %d %s to %s %s", error.status, error.code, self.command, self.path)
        self.send_json(error.status, error.body(), tuple(error.headers.items()))

    def _record(self, status: int | None) -> None:
        if self._current is None or self._recorded:
            return
        self._recorded = True
        path = urlsplit(self.path).path
        authorization_sent = "Authorization" in self.headers
        self.app.state.record_request(
            RequestRecord(self._current.name, self.command, path, status, authorization_sent)
        )
