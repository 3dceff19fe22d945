"""A warm Lambda execution environment: one worker process per sandbox, started on first use.

Each worker is a fresh interpreter started with `subprocess` (not `multiprocessing`): it gets exactly the
function's environment and nothing of ours (no inherited credentials, no re-import of our `__main__`), its
output is a pipe we can prefix and order, and killing its process group on a timeout also ends anything the
handler started.
"""

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from lassodrop_local.runner import bootstrap
from lassodrop_local.runner.spec import FunctionSpec, SandboxSettings

LogSink = Callable[[str, str], None]
"""Receives every log line of a function: (function name, line without newline)."""

_BOOTSTRAP = Path(bootstrap.__file__)
_REPORT_WAIT = 2.0
_STOP_WAIT = 2.0
_SHUTDOWN_GRACE = 0.5
_print_lock = threading.Lock()
STOPPED_ERROR = "Runtime.Stopped"


def print_sink(function: str, line: str) -> None:
    with _print_lock:
        print(f"[{function}] {line}", flush=True)


@dataclass(frozen=True)
class Invocation:
    """The outcome of one invocation. `payload` is the handler's result, or Lambda's error document."""

    request_id: str
    ok: bool
    payload: Any
    duration_ms: float
    cold: bool
    timed_out: bool = False

    @property
    def error_type(self) -> str | None:
        return None if self.ok else str(self.payload.get("errorType"))


def sandbox_environment(spec: FunctionSpec, settings: SandboxSettings) -> dict[str, str]:
    """The worker's whole environment. Lambda's reserved variables win over the function's own."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        # No profile from the machine can leak in.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        # What `sam local` sets; Powertools reads it to keep the tracer off outside Lambda.
        "AWS_SAM_LOCAL": "true",
        **settings.extra_environment,
        **spec.environment,
    }
    if settings.endpoint_url:
        env["AWS_ENDPOINT_URL"] = settings.endpoint_url
    stream = f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"
    env.update(
        {
            "AWS_REGION": settings.region,
            "AWS_DEFAULT_REGION": settings.region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": stream,
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "_HANDLER": spec.handler,
        }
    )
    return env


def function_arn(spec: FunctionSpec, settings: SandboxSettings) -> str:
    return f"arn:aws:lambda:{settings.region}:{settings.account_id}:function:{spec.name}"


class _Worker:
    """One running worker process and the two threads that read its pipes."""

    def __init__(self, spec: FunctionSpec, settings: SandboxSettings, sink: LogSink) -> None:
        self.spec = spec
        self._sink = sink
        self.messages: queue.Queue[dict | None] = queue.Queue()
        self._reported: set[str] = set()
        self._report_seen = threading.Condition()
        request_r, self._request_w = os.pipe()
        response_r, response_w = os.pipe()
        self.spawned_at = time.time()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-u", str(_BOOTSTRAP), str(request_r), str(response_w)],
                pass_fds=(request_r, response_w),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=sandbox_environment(spec, settings),
                cwd=spec.code_dir,
                # Own process group: Ctrl-C reaches only us, and a kill reaches the handler's children too.
                start_new_session=True,
            )
        finally:
            os.close(request_r)
            os.close(response_w)
        self._requests = open(self._request_w, "w", encoding="utf-8")  # noqa: SIM115 - closed in kill()
        self._threads = [
            threading.Thread(target=self._read_responses, args=(response_r,), daemon=True),
            threading.Thread(target=self._read_logs, args=(self.process.stdout,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def send(self, message: dict) -> bool:
        try:
            self._requests.write(json.dumps(message) + "\n")
            self._requests.flush()
        except (BrokenPipeError, ValueError):
            return False
        return True

    def wait_for_report(self, request_id: str) -> None:
        """Wait (bounded) until the REPORT line is forwarded, so it is logged before the caller moves on."""
        with self._report_seen:
            self._report_seen.wait_for(lambda: request_id in self._reported, timeout=_REPORT_WAIT)
            self._reported.discard(request_id)

    def kill(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=_STOP_WAIT)
        self._close()

    def shutdown(self) -> None:
        """End of input lets an idle worker exit by itself; a busy one is killed after a short grace."""
        with contextlib.suppress(BrokenPipeError):
            self._requests.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=_SHUTDOWN_GRACE)
        self.kill()

    def _close(self) -> None:
        with contextlib.suppress(BrokenPipeError):
            self._requests.close()
        for thread in self._threads:
            thread.join(timeout=_STOP_WAIT)

    def _read_responses(self, fd: int) -> None:
        with open(fd, encoding="utf-8") as responses:
            for line in responses:
                self.messages.put(json.loads(line))
        self.messages.put(None)

    def _read_logs(self, stream: IO[bytes] | None) -> None:
        assert stream is not None
        with stream:
            for raw in stream:
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                self._sink(self.spec.name, line)
                if line.startswith("REPORT RequestId: "):
                    with self._report_seen:
                        self._reported.add(line.split()[2])
                        self._report_seen.notify_all()


class Sandbox:
    """One execution environment of a function: serial invocations; cold at first and after a crash.

    Thread-safe for one invoking thread plus `stop()` from another.
    """

    def __init__(self, spec: FunctionSpec, settings: SandboxSettings, sink: LogSink = print_sink) -> None:
        self.spec = spec
        self._settings = settings
        self._sink = sink
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._init_ms: float | None = None
        self._stopped = False

    @property
    def pid(self) -> int | None:
        worker = self._worker
        return worker.process.pid if worker and worker.process.poll() is None else None

    def invoke(self, event: Any, request_id: str | None = None) -> Invocation:
        request_id = request_id or str(uuid.uuid4())
        worker, cold, failure = self._warm_worker(request_id)
        if failure is not None:
            return failure
        assert worker is not None
        started = time.monotonic()
        deadline_ms = int(time.time() * 1000 + self.spec.timeout * 1000)
        arn = function_arn(self.spec, self._settings)
        message = {
            "type": "invoke",
            "request_id": request_id,
            "event": event,
            "deadline_ms": deadline_ms,
            "invoked_function_arn": arn,
        }
        if not worker.send(message):
            return self._exited(worker, request_id, started, cold)
        try:
            reply = worker.messages.get(timeout=self.spec.timeout)
        except queue.Empty:
            return self._timed_out(worker, request_id, started, cold)
        if reply is None:
            return self._exited(worker, request_id, started, cold)
        worker.wait_for_report(request_id)
        return Invocation(request_id, reply["ok"], reply["payload"], reply["duration_ms"], cold)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.shutdown()

    def _warm_worker(self, request_id: str) -> tuple[_Worker | None, bool, Invocation | None]:
        with self._lock:
            if self._stopped:
                return (
                    None,
                    False,
                    self._failure(request_id, STOPPED_ERROR, "the local runtime is stopping"),
                )
            if self._worker is not None and self._worker.process.poll() is None:
                return self._worker, False, None
            self._worker = worker = _Worker(self.spec, self._settings, self._sink)
        failure = self._init(worker, request_id)
        return worker, True, failure

    def _init(self, worker: _Worker, request_id: str) -> Invocation | None:
        path = [str(self.spec.code_dir), *(str(layer) for layer in self.spec.layers)]
        started = time.monotonic()
        worker.send(
            {"type": "init", "handler": self.spec.handler, "path": path, "spawned_at": worker.spawned_at}
        )
        try:
            reply = worker.messages.get(timeout=self._settings.init_timeout)
        except queue.Empty:
            reply = {
                "type": "init_error",
                "error": {
                    "errorType": "Runtime.InitTimeout",
                    "errorMessage": "the handler did not load in time",
                },
            }
        if reply is not None and reply["type"] == "ready":
            self._init_ms = reply["init_ms"]
            return None
        memory = bootstrap.peak_rss_mb(f"/proc/{worker.process.pid}/status") or 0
        self._discard(worker)
        error = (
            reply["error"]
            if reply
            else {"errorType": "Runtime.ExitError", "errorMessage": "exited during init"}
        )
        duration_ms = (time.monotonic() - started) * 1000
        self._sink(self.spec.name, json.dumps(error))
        self._report_failed_init(request_id, duration_ms, memory, str(error.get("errorType")))
        return Invocation(request_id, False, error, duration_ms, cold=True)

    def _report_failed_init(self, request_id: str, duration_ms: float, memory: int, error_type: str) -> None:
        # Lambda still frames an invocation whose init failed, and its REPORT names the error.
        self._sink(self.spec.name, f"START RequestId: {request_id} Version: $LATEST")
        self._sink(self.spec.name, f"END RequestId: {request_id}")
        report = bootstrap.report_line(
            request_id, duration_ms, self.spec.memory_size, memory, None, error_type=error_type
        )
        self._sink(self.spec.name, report)

    def _timed_out(self, worker: _Worker, request_id: str, started: float, cold: bool) -> Invocation:
        duration_ms = (time.monotonic() - started) * 1000
        # Read before the kill: a dead process has no /proc entry to read its peak from.
        memory = bootstrap.peak_rss_mb(f"/proc/{worker.process.pid}/status") or 0
        self._discard(worker)
        init_ms = self._init_ms if cold else None
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self._sink(self.spec.name, f"END RequestId: {request_id}")
        self._sink(
            self.spec.name,
            bootstrap.report_line(request_id, duration_ms, self.spec.memory_size, memory, init_ms),
        )
        self._sink(
            self.spec.name, f"{stamp} {request_id} Task timed out after {self.spec.timeout:.2f} seconds"
        )
        error = {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"Task timed out after {self.spec.timeout:.2f} seconds",
            "requestId": request_id,
        }
        return Invocation(request_id, False, error, duration_ms, cold, timed_out=True)

    def _exited(self, worker: _Worker, request_id: str, started: float, cold: bool) -> Invocation:
        duration_ms = (time.monotonic() - started) * 1000
        self._discard(worker)
        code = worker.process.returncode
        message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {code}"
        self._sink(self.spec.name, message)
        self._sink(self.spec.name, f"END RequestId: {request_id}")
        # The process is gone, and its peak memory with it.
        init_ms = self._init_ms if cold else None
        report = bootstrap.report_line(
            request_id, duration_ms, self.spec.memory_size, 0, init_ms, error_type="Runtime.ExitError"
        )
        self._sink(self.spec.name, report)
        error = {"errorType": "Runtime.ExitError", "errorMessage": message}
        return Invocation(request_id, False, error, duration_ms, cold)

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            if self._worker is worker:
                self._worker = None

    def _failure(self, request_id: str, error_type: str, message: str) -> Invocation:
        return Invocation(
            request_id, False, {"errorType": error_type, "errorMessage": message}, 0.0, cold=False
        )
