"""The emulator as a real HTTP server on loopback.

Built on the standard library's ThreadingHTTPServer and BaseHTTPRequestHandler (HTTP/1.1) rather than a
framework, because the tests need what frameworks hide: seeing `Transfer-Encoding: chunked` before any body
is read (to answer 411 like a presigned PUT), reading an upload in fixed chunks straight off the socket
(hashing it on the way, never holding it whole), and dropping a connection part-way through a body.
"""

import hashlib
import json
import logging
import re
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from lassodrop_local.emulator import admin, wav
from lassodrop_local.emulator.api import Api, Reply
from lassodrop_local.emulator.errors import ApiError, expired, invalid, not_found
from lassodrop_local.emulator.jobs import TERMINAL
from lassodrop_local.emulator.openapi import DOCUMENT
from lassodrop_local.emulator.signing import UrlSigner, Verdict
from lassodrop_local.emulator.state import (
    ALL_SCOPES,
    EmulatorState,
    InjectedFailure,
    RequestRecord,
    Timings,
    UploadRecord,
)
from lassodrop_local.emulator.webhooks import WebhookDispatcher

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1024 * 1024
_MAX_JSON_BYTES = 1024 * 1024
_ID = r"([A-Za-z0-9_-]+)"


@dataclass(frozen=True)
class _Route:
    name: str
    method: str
    pattern: re.Pattern[str]
    scope: str | None
    auth: bool = True


_ROUTES = (
    _Route("openapi", "GET", re.compile(r"/v1/openapi\.json"), None, auth=False),
    _Route("models", "GET", re.compile(r"/v1/models"), "models:read"),
    _Route("create_file", "POST", re.compile(r"/v1/files"), "files:write"),
    _Route("get_file", "GET", re.compile(rf"/v1/files/{_ID}"), "files:read"),
    _Route("submit", "POST", re.compile(r"/v1/queue/audio/separate"), "audio:separate"),
    _Route("status", "GET", re.compile(rf"/v1/queue/requests/{_ID}/status"), "audio:separate"),
    _Route("stream", "GET", re.compile(rf"/v1/queue/requests/{_ID}/status/stream"), "audio:separate"),
    _Route("result", "GET", re.compile(rf"/v1/queue/requests/{_ID}/result"), "audio:separate"),
    # Signed URLs carry their own signature; an Authorization header there is ignored (but recorded).
    _Route("upload", "PUT", re.compile(rf"/uploads/{_ID}"), None, auth=False),
    _Route("output", "GET", re.compile(rf"/outputs/{_ID}/(target|residual)\.wav"), None, auth=False),
)


def _find_route(method: str, path: str) -> tuple[_Route, tuple[str, ...]]:
    allowed = False
    for route in _ROUTES:
        match = route.pattern.fullmatch(path)
        if match and route.method == method:
            return route, match.groups()
        allowed = allowed or bool(match)
    if allowed:
        raise ApiError(405, "INVALID_REQUEST", f"{method} is not allowed here.")
    raise not_found("Route")


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    # Many test clients connect at once; the default backlog of 5 refuses some under load.
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], app: "EmulatorServer") -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)
        self.app = app


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HttpServer
    query: dict[str, str]
    _body_read: bool = False
    _current: _Route | None = None
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
            route, params = _find_route(self.command, parts.path)
        except ApiError as error:
            self._send_error(error)
            return
        self._current = route
        try:
            self._run(route, params)
        except ApiError as error:
            self._send_error(error)
        finally:
            # Still unrecorded here means no answer was sent: the connection was dropped.
            self._record(None)

    def _run(self, route: _Route, params: tuple[str, ...]) -> None:
        state = self.app.state
        delay = state.latency_for(route.name)
        if delay > 0:
            time.sleep(delay)
        failure = state.take_failure(route.name)
        if failure and not failure.process:
            raise _injected(failure)
        if route.auth:
            self._authorize(route.scope)
        reply = self._route(route.name, params)
        # A streamed answer is already on the wire: `process` failures only replace JSON answers.
        if failure and reply is not None:
            raise _injected(failure)
        if reply is not None:
            self._send_json(reply.status, reply.body, reply.headers)

    def _route(self, name: str, params: tuple[str, ...]) -> Reply | None:
        api = self.app.api
        json_routes: dict[str, Callable[[], Reply]] = {
            "openapi": lambda: Reply(200, self.app.openapi),
            "models": api.models,
            "create_file": lambda: api.create_file(self._json_body()),
            "get_file": lambda: api.get_file(params[0]),
            "submit": lambda: self._submit(),
            "status": lambda: api.status(params[0], self._flag("logs")),
            "result": lambda: api.result(params[0]),
        }
        if name in json_routes:
            return json_routes[name]()
        streams: dict[str, Callable[[], None]] = {
            "stream": lambda: self._stream(params[0]),
            "upload": lambda: self._upload(params[0]),
            "output": lambda: self._output(params[0], params[1]),
        }
        streams[name]()
        return None

    def _submit(self) -> Reply:
        reply = self.app.api.submit(self._json_body())
        self.app.schedule_webhook(str(reply.body["request_id"]))
        return reply

    def _authorize(self, scope: str | None) -> None:
        header = self.headers.get("Authorization", "")
        key = header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""
        scopes = self.app.state.scopes_of(key) if key else None
        if scopes is None:
            raise ApiError(401, "UNAUTHENTICATED", "Missing or invalid API key.")
        if scope is not None and scope not in scopes:
            raise ApiError(403, "PERMISSION_DENIED", f"This API key lacks the {scope} scope.")

    def _flag(self, name: str) -> bool:
        return self.query.get(name, "").lower() in ("true", "1")

    def _json_body(self) -> Any:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
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

    def _upload(self, file_id: str) -> None:
        record = self.app.state.get_file(file_id)
        verdict = self.app.signer.verify("PUT", f"/uploads/{file_id}", self.query)
        if verdict is Verdict.BAD_SIGNATURE:
            raise ApiError(403, "PERMISSION_DENIED", "The upload URL signature does not match.")
        if record is None:
            raise not_found("File")
        if verdict is Verdict.EXPIRED or time.time() >= record.upload_expires_at:
            raise expired("The upload URL has expired; create a new upload.")
        size = self._upload_length(record.content_type, record.file_size)
        received = self._receive(self.app.storage_dir / "uploads" / file_id, size)
        if received is None:
            return
        path, digest = received
        self.app.state.record_upload(
            UploadRecord(
                file_id=file_id,
                size=size,
                sha256=digest,
                content_type=self.headers.get("Content-Type", ""),
                headers=self._headers_seen(),
                authorization_sent="Authorization" in self.headers,
            ),
            path,
        )
        self._send_bytes(200, b"", (("ETag", f'"{digest}"'),))

    def _upload_length(self, content_type: str, file_size: int) -> int:
        """What a presigned PUT checks before reading a byte: length known, type as signed, size declared."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise ApiError(411, "INVALID_REQUEST", "Chunked uploads are refused; send a Content-Length.")
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            raise ApiError(411, "INVALID_REQUEST", "Content-Length is required.")
        sent_type = self.headers.get("Content-Type", "")
        if sent_type.strip().lower() != content_type.strip().lower():
            raise ApiError(403, "PERMISSION_DENIED", f"content-type must be {content_type!r}, as signed.")
        if int(length) != file_size:
            raise invalid(f"The body must be exactly file_size ({file_size}) bytes.", "content-length")
        return int(length)

    def _receive(self, path: Path, size: int) -> tuple[Path, str] | None:
        """Stream the body to disk in chunks, hashing as it goes; None if the connection ended early."""
        drop_after = self.app.state.take_upload_drop()
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
            self._drop_connection()
            return None
        partial.replace(path)
        return path, digest.hexdigest()

    def _drop_connection(self) -> None:
        self._record(None)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            logger.debug("connection already closed")

    def _output(self, request_id: str, name: str) -> None:
        verdict = self.app.signer.verify("GET", f"/outputs/{request_id}/{name}.wav", self.query)
        if verdict is Verdict.BAD_SIGNATURE:
            raise ApiError(403, "PERMISSION_DENIED", "The output URL signature does not match.")
        job = self.app.api.job(request_id)
        now = time.time()
        if job.status(now) != "COMPLETED":
            raise not_found("Output")
        retention = self.app.state.timings.result_retention_seconds
        if verdict is Verdict.EXPIRED or job.outputs_expired(now, retention):
            raise expired("The output URL has expired.")
        outputs = self.app.outputs_for(request_id, job.input_path)
        self._send_file(outputs.target if name == "target" else outputs.residual)

    def _send_file(self, path: Path) -> None:
        """Stream from disk in chunks; a drop control cuts the body short and closes the connection."""
        size = path.stat().st_size
        drop_after = self.app.state.take_output_drop()
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
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
            self._drop_connection()

    def _stream(self, request_id: str) -> None:
        """Server-sent events: one `status` event per change, closed at a terminal status (or the bound)."""
        api, job, logs = self.app.api, self.app.api.job(request_id), self._flag("logs")
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        # No length is known up front: the end of the stream is the end of the connection.
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        deadline, last = time.time() + self.app.state.timings.stream_max_seconds, None
        while True:
            now = time.time()
            body = api.status_body(job, now, logs)
            if body["status"] != last:
                self.wfile.write(f"event: status\ndata: {json.dumps(body)}\n\n".encode())
                self.wfile.flush()
                last = body["status"]
            if last in TERMINAL or now >= deadline:
                return
            next_change = job.started_at if last == "IN_QUEUE" else job.finished_at
            if self.app.stopping.wait(max(0.005, min(next_change, deadline) - now)):
                return

    def _admin(self, name: str) -> None:
        body: Any = None
        if self.command == "POST":
            try:
                body = self._json_body()
            except ApiError as error:
                self._send_error(error)
                return
        status, payload = admin.handle(self.app.state, self.command, name, body)
        self._send_json(status, payload)

    def _send_error(self, error: ApiError) -> None:
        if error.status >= 500:
            logger.info("answering %d %s to %s %s", error.status, error.code, self.command, self.path)
        self._send_json(error.status, error.body(), tuple(error.headers.items()))

    def _send_json(self, status: int, body: object, headers: Iterable[tuple[str, str]] = ()) -> None:
        self._send_bytes(status, json.dumps(body).encode(), (("Content-Type", "application/json"), *headers))

    def _send_bytes(self, status: int, payload: bytes, headers: Iterable[tuple[str, str]]) -> None:
        # An unread request body would be parsed as the next request on this connection: close it instead.
        unread = not self._body_read and (
            int(self.headers.get("Content-Length") or 0) > 0 or "Transfer-Encoding" in self.headers
        )
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        if unread:
            self.close_connection = True
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def _headers_seen(self) -> dict[str, str]:
        seen = {name.lower(): value for name, value in self.headers.items()}
        if "authorization" in seen:
            seen["authorization"] = "<redacted>"
        return seen

    def _record(self, status: int | None) -> None:
        if self._current is None or self._recorded:
            return
        self._recorded = True
        path = urlsplit(self.path).path
        authorization_sent = "Authorization" in self.headers
        self.app.state.record_request(
            RequestRecord(self._current.name, self.command, path, status, authorization_sent)
        )


def _injected(failure: InjectedFailure) -> ApiError:
    headers = {} if failure.retry_after is None else {"Retry-After": str(int(failure.retry_after))}
    return ApiError(failure.status, failure.code, failure.message, headers=headers)


class EmulatorServer:
    """A local AudioLasso: the documented routes, signed upload/output URLs, timed jobs, webhooks.

    `api_keys` get all four scopes; `key_scopes` adds keys with only some. `timings` are `Timings` fields
    (queue_seconds, run_seconds, result_retention_seconds, upload_url_ttl_seconds, output_url_ttl_seconds,
    stream_max_seconds, webhook_attempts, webhook_retry_seconds). Uploads and outputs are stored under
    `storage_dir` (a temporary directory, removed on stop, when not given). Controls and inspection: `.state`.
    """

    def __init__(
        self,
        api_keys: Iterable[str] = ("al_test_key",),
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        key_scopes: Mapping[str, Iterable[str]] | None = None,
        storage_dir: Path | None = None,
        allow_remote_webhooks: bool = False,
        **timings: Any,
    ) -> None:
        keys = {key: ALL_SCOPES for key in api_keys}
        keys.update({key: frozenset(scopes) for key, scopes in (key_scopes or {}).items()})
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        if storage_dir is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="audiolasso-emulator-")
            storage_dir = Path(self._tempdir.name)
        self.storage_dir = storage_dir
        self.state = EmulatorState(keys, Timings(**timings), storage_dir)
        self.signer = UrlSigner()
        self.stopping = threading.Event()
        self._httpd = _HttpServer((host, port), self)
        self.api = Api(self.state, self.signer, self.base_url)
        self.openapi = DOCUMENT
        self._webhooks = WebhookDispatcher(self.state, self.api.webhook_event, allow_remote_webhooks)
        # A short poll interval keeps stop() quick; tests start and stop a server each.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="emulator-http", daemon=True
        )
        self._output_lock = threading.Lock()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        host = str(self._httpd.server_address[0])
        # A wildcard bind is still reached through loopback.
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> "EmulatorServer":
        self._webhooks.start()
        self._thread.start()
        logger.info("emulator listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._webhooks.stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def schedule_webhook(self, request_id: str) -> None:
        job = self.state.get_job(request_id)
        if job is not None and job.webhook_url:
            self._webhooks.schedule(job)

    def outputs_for(self, request_id: str, input_path: Path | None) -> wav.Outputs:
        # Built on first download, once: a long input's residual takes a while to write.
        with self._output_lock:
            return wav.build_outputs(input_path, self.storage_dir / "outputs" / request_id)
