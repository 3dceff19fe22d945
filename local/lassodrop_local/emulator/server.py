"""The emulator as a real HTTP server on loopback: `EmulatorServer` starts, stops and wires its parts.

The listening socket (and going offline) lives in listener.py, HTTP mechanics in handler.py, the route
table and each group of routes in routes/, what the JSON routes answer in api.py, records and controls in
state.py, and the /_emulator/ admin routes in admin.py.
"""

import logging
import tempfile
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from lassodrop_local.emulator import wav
from lassodrop_local.emulator.api import Api
from lassodrop_local.emulator.listener import Listener
from lassodrop_local.emulator.openapi import DOCUMENT
from lassodrop_local.emulator.signing import UrlSigner
from lassodrop_local.emulator.state import ALL_SCOPES, EmulatorState, Timings
from lassodrop_local.emulator.webhooks import WebhookDispatcher

logger = logging.getLogger(__name__)


class EmulatorServer:
    """A local AudioLasso: the documented routes, signed upload/output URLs, timed jobs, webhooks.

    `api_keys` get all four scopes; `key_scopes` adds keys with only some. `timings` are `Timings` fields
    (queue_seconds, run_seconds, result_retention_seconds, upload_url_ttl_seconds, output_url_ttl_seconds,
    stream_max_seconds, webhook_attempts, webhook_retry_seconds). Uploads and outputs are stored under
    `storage_dir` (a temporary directory, removed on stop, when not given). Controls and inspection: `.state`
    (failures, latency, credits, keys, timings, records); being unreachable: `go_offline` / `go_online`.
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
        self.state: EmulatorState = EmulatorState(keys, Timings(**timings), storage_dir)
        self.signer = UrlSigner()
        self.stopping = threading.Event()
        self._listener = Listener((host, port), self)
        self.api = Api(self.state, self.signer, self.base_url)
        self.openapi = DOCUMENT
        self._webhooks = WebhookDispatcher(self.state, self.api.webhook_event, allow_remote_webhooks)
        self._output_lock = threading.Lock()

    @property
    def port(self) -> int:
        return self._listener.address[1]

    @property
    def base_url(self) -> str:
        host = self._listener.address[0]
        # A wildcard bind is still reached through loopback.
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1"
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def start(self) -> "EmulatorServer":
        self._webhooks.start()
        self._listener.start()
        logger.info("emulator listening on %s", self.base_url)
        return self

    def stop(self) -> None:
        """Stop serving for good (offline or not) and remove a temporary storage directory."""
        self.stopping.set()
        self._listener.end()
        self._webhooks.stop()
        if self._tempdir is not None:
            self._tempdir.cleanup()

    @property
    def online(self) -> bool:
        return self._listener.online

    def go_offline(self, seconds: float | None = None) -> None:
        """Refuse connections, as a server that is down: connecting fails, open connections end.

        The base URL, the state and the jobs' clocks are kept. With `seconds`, the server comes back by
        itself after that long (the form POST /_emulator/offline offers, since nothing reaches an offline
        server); without, it stays offline until `go_online` (or `stop`).
        """
        self._listener.go_offline(seconds)
        logger.info("emulator offline url=%s seconds=%s", self.base_url, seconds)

    def go_online(self) -> None:
        """Listen again on the same host and port; cancels a timed comeback still pending."""
        self._listener.go_online()
        logger.info("emulator online url=%s", self.base_url)

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
