"""The listening socket and its accept thread, which can go offline and come back on the same address.

Offline means down, not erroring: the accept loop stops, the listening socket is closed (so connecting is
refused) and every open connection is ended, except the caller's own: an admin call that takes the server
offline still gets its answer (with `Connection: close`), so a client holding that answer knows the server
already refuses. Coming back binds the same host and port again. Nothing else is touched: the state, the
jobs' clocks and the webhook deliveries carry on, as the service behind a failed front door would.
"""

import errno
import logging
import math
import socket
import sys
import threading
import time
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from lassodrop_local.emulator.handler import Handler

if TYPE_CHECKING:
    from lassodrop_local.emulator.server import EmulatorServer

logger = logging.getLogger(__name__)

# How long a reopen waits for the old port to be free (another socket may hold it a moment).
_BIND_ATTEMPTS = 40
_BIND_RETRY_SECONDS = 0.05
# A short poll interval keeps going offline and stop() quick; tests start and stop a server each.
_POLL_SECONDS = 0.05


class HttpServer(ThreadingHTTPServer):
    """Accepts connections for `app`, answering each on its own thread; knows its open connections."""

    daemon_threads = True
    # Many test clients connect at once; the default backlog of 5 refuses some under load.
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], app: "EmulatorServer") -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        # Each open connection, with the ident of the thread answering it once that thread runs.
        self._open: dict[Any, int | None] = {}
        self._open_lock = threading.Lock()
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open[request] = None
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open[request] = threading.get_ident()
        super().process_request_thread(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A connection that ended under an answer (the client left, the server went offline) is no fault.
        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.debug("connection from %s ended under an answer", client_address)
            return
        super().handle_error(request, client_address)

    def end_connections(self) -> None:
        """End every open connection but the caller's own, which finishes its answer and then closes."""
        caller = threading.get_ident()
        with self._open_lock:
            others = [connection for connection, owner in self._open.items() if owner != caller]
        for connection in others:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                logger.debug("connection already closed")


class Listener:
    """Serves `app` on one address; `go_offline` and `go_online` close and reopen it, `end` for good."""

    def __init__(self, address: tuple[str, int], app: "EmulatorServer") -> None:
        self._app = app
        self._lock = threading.RLock()
        self._httpd: HttpServer | None = HttpServer(address, app)
        host, port = self._httpd.server_address[:2]
        # The port actually bound (when 0 asked for a free one), so a reopen gets the same base URL.
        self.address = (str(host), int(port))
        self._thread: threading.Thread | None = None
        self._comeback: threading.Timer | None = None
        # Bumped by every change, so a timed comeback overtaken by a later call does nothing.
        self._generation = 0
        self._started = self._ended = False

    @property
    def online(self) -> bool:
        with self._lock:
            return self._httpd is not None

    def start(self) -> None:
        with self._lock:
            self._started = True
            self._serve()

    def go_offline(self, seconds: float | None = None) -> None:
        """Refuse connections; with `seconds`, come back by itself after that long."""
        if seconds is not None and not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"seconds must be a positive number, not {seconds!r}")
        with self._lock:
            self._generation += 1
            self._cancel_comeback()
            self._close()
            if seconds is not None and not self._ended:
                comeback = threading.Timer(seconds, self._come_back, (self._generation,))
                comeback.name, comeback.daemon = f"emulator-comeback-{self.address[1]}", True
                comeback.start()
                self._comeback = comeback

    def go_online(self) -> None:
        """Listen again on the same address (nothing happens when already online or ended)."""
        with self._lock:
            self._generation += 1
            self._cancel_comeback()
            self._reopen()

    def end(self) -> None:
        """Close for good: a pending comeback is cancelled and nothing reopens afterwards."""
        with self._lock:
            self._ended = True
            self._generation += 1
            comeback = self._cancel_comeback()
            self._close()
        if comeback is not None:
            comeback.join(timeout=5)

    def _come_back(self, generation: int) -> None:
        with self._lock:
            if generation != self._generation:
                return
            self._comeback = None
            try:
                self._reopen()
            except OSError:
                logger.exception("could not listen again on %s", self.address)

    def _cancel_comeback(self) -> threading.Timer | None:
        comeback, self._comeback = self._comeback, None
        if comeback is not None:
            comeback.cancel()
        return comeback

    def _serve(self) -> None:
        if self._httpd is None or self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(_POLL_SECONDS,), name="emulator-http", daemon=True
        )
        self._thread.start()

    def _close(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd, self._thread = None, None
        if httpd is None:
            return
        # shutdown() waits for serve_forever to return, so it is only asked of a loop that runs.
        if thread is not None:
            httpd.shutdown()
            thread.join(timeout=5)
        httpd.server_close()
        httpd.end_connections()

    def _reopen(self) -> None:
        if self._ended or self._httpd is not None:
            return
        self._httpd = self._bind()
        if self._started:
            self._serve()

    def _bind(self) -> HttpServer:
        attempts_left = _BIND_ATTEMPTS
        while True:
            try:
                return HttpServer(self.address, self._app)
            except OSError as exc:
                attempts_left -= 1
                if exc.errno != errno.EADDRINUSE or attempts_left == 0:
                    raise
            time.sleep(_BIND_RETRY_SECONDS)
