"""The local Lambda service: sandboxes for each function and pollers for each SQS event source mapping."""

import functools
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from lassodrop_local.runner.sandbox import STOPPED_ERROR, Invocation, LogSink, Sandbox, print_sink
from lassodrop_local.runner.spec import FunctionSpec, SandboxSettings, SqsMapping
from lassodrop_local.runner.sqs import SqsPoller

_JOIN_WAIT = 5.0
SqsClientFactory = Callable[[], Any]


@dataclass
class FunctionStats:
    invocations: int = 0
    errors: int = 0
    timeouts: int = 0
    messages_deleted: int = 0
    messages_kept: int = 0


class Runtime:
    """Runs functions as the template declares them until `stop()` (also on leaving a `with` block).

    Each mapping gets MaximumConcurrency pollers (or `default_concurrency`), each with its own sandbox, so at
    most that many invocations of the function run at once.
    A function without a mapping is only invoked directly.
    """

    def __init__(
        self,
        functions: Sequence[tuple[FunctionSpec, SqsMapping | None]],
        settings: SandboxSettings,
        *,
        sink: LogSink = print_sink,
        default_concurrency: int = 2,
        sqs_client_factory: SqsClientFactory | None = None,
    ) -> None:
        names = [spec.name for spec, _ in functions]
        if len(set(names)) != len(names):
            raise ValueError(f"function names must be unique: {names}")
        self._functions = list(functions)
        self._settings = settings
        self._sink = sink
        self._default_concurrency = default_concurrency
        self._sqs_client_factory = sqs_client_factory or self._default_sqs_client
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._sandboxes: list[Sandbox] = []
        self._direct: dict[str, Sandbox] = {}
        self._threads: list[threading.Thread] = []
        self.stats = {spec.name: FunctionStats() for spec, _ in functions}

    def __enter__(self) -> "Runtime":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        for spec, mapping in self._functions:
            self._direct[spec.name] = self._sandbox(spec)
            if mapping is not None:
                self._start_pollers(spec, mapping)

    def invoke(self, name: str, event: Any) -> Invocation:
        """A synchronous (RequestResponse) invocation, in a sandbox of its own."""
        invocation = self._direct[name].invoke(event)
        self._count(name, invocation)
        return invocation

    def worker_pids(self) -> list[int]:
        return [pid for sandbox in self._sandboxes if (pid := sandbox.pid) is not None]

    def stop(self) -> None:
        """Stop polling and end every worker; in-flight invocations fail, their messages come back later."""
        self._stop.set()
        for sandbox in self._sandboxes:
            sandbox.stop()
        for thread in self._threads:
            thread.join(timeout=_JOIN_WAIT)

    def _start_pollers(self, spec: FunctionSpec, mapping: SqsMapping) -> None:
        sqs = self._sqs_client_factory()
        queue_arn = (
            mapping.queue_arn
            or sqs.get_queue_attributes(QueueUrl=mapping.queue_url, AttributeNames=["QueueArn"])[
                "Attributes"
            ]["QueueArn"]
        )
        for slot in range(mapping.maximum_concurrency or self._default_concurrency):
            poller = SqsPoller(
                self._sqs_client_factory(),
                mapping,
                queue_arn,
                self._settings.region,
                self._sandbox(spec),
                self._stop,
                self._sink,
                on_batch=functools.partial(self._count, spec.name),
            )
            thread = threading.Thread(target=poller.run, name=f"{spec.name}-poller-{slot}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _sandbox(self, spec: FunctionSpec) -> Sandbox:
        sandbox = Sandbox(spec, self._settings, self._sink)
        self._sandboxes.append(sandbox)
        return sandbox

    def _count(self, name: str, invocation: Invocation, received: int = 0, deleted: int = 0) -> None:
        if invocation.error_type == STOPPED_ERROR:
            return  # refused before it reached a worker: no START, no REPORT, not an invocation
        with self._lock:
            stats = self.stats[name]
            stats.invocations += 1
            stats.errors += not invocation.ok
            stats.timeouts += invocation.timed_out
            stats.messages_deleted += deleted
            stats.messages_kept += received - deleted

    def _default_sqs_client(self) -> Any:
        return boto3.client(
            "sqs",
            region_name=self._settings.region,
            endpoint_url=self._settings.endpoint_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto's fake credentials
            config=Config(
                retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2, read_timeout=10
            ),
        )
