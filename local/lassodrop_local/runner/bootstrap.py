"""The worker side of a sandbox: a tiny Lambda runtime interface, run as a script in its own interpreter.

The parent starts `python -u bootstrap.py REQUEST_FD RESPONSE_FD` with the function's environment.
Requests and responses are JSON lines on those two pipes, so the handler's own stdout and stderr stay free
for its logs, as in Lambda. This file imports only the standard library: it runs beside the function's code,
and must not put local tooling on the function's import path.
"""

import importlib
import json
import math
import os
import resource
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, TextIO

Handler = Callable[[Any, Any], Any]


def report_line(
    request_id: str,
    duration_ms: float,
    memory_size: int,
    max_memory_mb: int,
    init_ms: float | None,
    error_type: str | None = None,
) -> str:
    """The REPORT line Lambda writes after every invocation; Init Duration appears on a cold start only,
    the status and error type only when the runtime itself failed (it exited mid-invocation)."""
    line = (
        f"REPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\t"
        f"Billed Duration: {math.ceil(duration_ms)} ms\tMemory Size: {memory_size} MB\t"
        f"Max Memory Used: {max_memory_mb} MB"
    )
    if init_ms is not None:
        line += f"\tInit Duration: {init_ms:.2f} ms"
    return line if error_type is None else f"{line}\tStatus: error\tError Type: {error_type}"


def error_object(exc: BaseException, error_type: str | None = None, request_id: str | None = None) -> dict:
    """The error document Lambda returns (and logs) for a failed invocation."""
    error: dict[str, Any] = {"errorMessage": str(exc), "errorType": error_type or type(exc).__name__}
    if request_id:
        error["requestId"] = request_id
    error["stackTrace"] = traceback.format_list(traceback.extract_tb(exc.__traceback__))
    return error


class LambdaContext:
    """The context object the Python runtime passes to handlers; attribute types match (memory is a str)."""

    def __init__(self, request_id: str, invoked_function_arn: str, deadline_ms: int) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(self._deadline_ms - int(time.time() * 1000), 0)


def peak_rss_mb(status_file: str = "/proc/self/status") -> int | None:
    """Peak resident memory (VmHWM) of a process, in MB; None where /proc is not available."""
    try:
        with open(status_file, encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return math.ceil(int(line.split()[1]) / 1024)
    except OSError:
        pass
    return None


def max_memory_used_mb() -> int:
    """Peak resident memory of this worker, in MB.

    Linux keeps ru_maxrss across fork and exec, so getrusage alone would report the parent's peak (a runner
    that loaded moto shows ~300 MB for every function); VmHWM belongs to this process's own address space.
    """
    peak = peak_rss_mb()
    # ru_maxrss is in KiB on Linux; without /proc it is the best there is.
    return peak if peak is not None else math.ceil(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def isolate_import_path(paths: list[str]) -> None:
    """Put the function's code and layers first, and drop the editable install of this project.

    In Lambda only the deployment package, the layers and the runtime's packages are importable; hiding the
    editable finder makes an accidental import of local tooling fail here as it would there.
    """
    sys.path[:1] = paths
    sys.path[:] = [entry for entry in sys.path if not entry.startswith("__editable__")]
    # setuptools installs the finder class itself (not an instance), so ask the object for its module.
    sys.meta_path[:] = [
        f for f in sys.meta_path if not str(getattr(f, "__module__", "")).startswith("__editable__")
    ]


def load_handler(handler: str) -> Handler:
    module_name, _, func_name = handler.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RuntimeInitError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    except SyntaxError as exc:
        raise RuntimeInitError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        ) from exc
    func = getattr(module, func_name, None)
    if not callable(func):
        raise RuntimeInitError(
            "Runtime.HandlerNotFound", f"Handler '{func_name}' missing on module '{module_name}'"
        )
    return func


class RuntimeInitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class Bootstrap:
    def __init__(self, requests: TextIO, responses: TextIO) -> None:
        self._requests = requests
        self._responses = responses
        self._memory_size = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self._init_ms: float | None = None
        self._handler: Handler | None = None

    def send(self, message: dict) -> None:
        self._responses.write(json.dumps(message) + "\n")
        self._responses.flush()

    def init(self, message: dict) -> bool:
        isolate_import_path(message["path"])
        try:
            self._handler = load_handler(message["handler"])
        except Exception as exc:
            error_type = exc.error_type if isinstance(exc, RuntimeInitError) else None
            error = error_object(exc, error_type)
            print(json.dumps(error), flush=True)
            self.send({"type": "init_error", "error": error})
            return False
        # Measured from the parent's spawn, so interpreter start-up counts, as Lambda's runtime init does.
        self._init_ms = (time.time() - message["spawned_at"]) * 1000
        self.send({"type": "ready", "init_ms": self._init_ms})
        return True

    def invoke(self, message: dict) -> None:
        assert self._handler is not None
        request_id = message["request_id"]
        context = LambdaContext(request_id, message["invoked_function_arn"], message["deadline_ms"])
        print(f"START RequestId: {request_id} Version: $LATEST", flush=True)
        started = time.perf_counter()
        try:
            result = self._handler(message["event"], context)
        except Exception as exc:
            duration_ms = (time.perf_counter() - started) * 1000
            self.finish(request_id, False, error_object(exc, request_id=request_id), duration_ms)
            return
        duration_ms = (time.perf_counter() - started) * 1000
        try:
            payload = json.loads(json.dumps(result))
        except (TypeError, ValueError) as exc:
            self.finish(request_id, False, error_object(exc, "Runtime.MarshalError", request_id), duration_ms)
            return
        self.finish(request_id, True, payload, duration_ms)

    def finish(self, request_id: str, ok: bool, payload: Any, duration_ms: float) -> None:
        if not ok:
            print(json.dumps(payload), flush=True)
        sys.stderr.flush()
        memory = max_memory_used_mb()
        print(f"END RequestId: {request_id}", flush=True)
        print(report_line(request_id, duration_ms, self._memory_size, memory, self._init_ms), flush=True)
        self._init_ms = None
        self.send(
            {
                "type": "result",
                "request_id": request_id,
                "ok": ok,
                "payload": payload,
                "duration_ms": duration_ms,
                "max_memory_mb": memory,
            }
        )

    def serve(self) -> None:
        for line in self._requests:
            message = json.loads(line)
            if message["type"] == "init" and not self.init(message):
                return
            if message["type"] == "invoke":
                self.invoke(message)
        # End of the request pipe: the parent has gone, so this sandbox goes too.


def main(argv: list[str]) -> None:
    request_fd, response_fd = int(argv[1]), int(argv[2])
    with (
        open(request_fd, encoding="utf-8") as requests,
        open(response_fd, "w", encoding="utf-8") as responses,
    ):
        Bootstrap(requests, responses).serve()


if __name__ == "__main__":
    main(sys.argv)
