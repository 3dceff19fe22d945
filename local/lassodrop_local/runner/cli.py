"""`lassodrop run`: drop files into the embedded stack, follow each one to its end, fetch the outputs.

However the run ends (every file done, `--timeout`, Ctrl-C), the functions are stopped first and the summary
is then read from the jobs table, so it shows where each file really stood.
"""

import argparse
import contextlib
import json
import mimetypes
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from enum import Enum
from pathlib import Path
from typing import Any, TextIO

from lassodrop.audiolasso import AudioLassoClient
from lassodrop.jobs import JobStore, Status
from lassodrop_local.runner.demo import write_tone
from lassodrop_local.runner.embedded import EmbeddedStack, ProviderConfigError, service_provider
from lassodrop_local.runner.inputs import LOG_NAME, Input, UsageError, clear_output_folder, input_files
from lassodrop_local.runner.progress import (
    FileProgress,
    ProviderStatus,
    latest,
    left_running,
    name_width,
    provider_status_reader,
    summary_table,
)
from lassodrop_local.runner.runtime import FunctionStats

_POLL_SECONDS = 0.5
_PROVIDER_POLL_SECONDS = 1.0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 124  # as timeout(1)
EXIT_INTERRUPTED = 130  # as a shell reports a job ended by SIGINT
DEMO_NAME = "demo-tone.wav"
# The demo input is kept beside its outputs, so target.wav can be compared with what went in.
DEMO_INPUT = "input.wav"


class Ending(Enum):
    DONE = "done"
    TIMEOUT = "timeout"
    INTERRUPTED = "interrupted"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the whole pipeline on this machine",
        description="Start the embedded stack (moto, the AudioLasso emulator unless AUDIOLASSO_API_KEY is "
        "set, the functions from template.yaml), upload FILES, follow them, and download their outputs. "
        "The summary table comes at the end however the run stops. Exits 0 when every file completed, 1 when "
        "one did not, 2 for a bad command line, 124 when --timeout ran out first, 130 on Ctrl-C.",
    )
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        help=f"audio or video files (none: a 2 s demo tone, kept as OUT/{DEMO_NAME}/{DEMO_INPUT})",
    )
    parser.add_argument(
        "--file-list",
        metavar="WORDS",
        help="more files, as one string split like shell words (how `make run FILES=...` passes them): "
        "quote a name with spaces in it",
    )
    parser.add_argument("--prompt", help="stored as each object's `prompt` metadata (else the stack default)")
    parser.add_argument(
        "--out", type=Path, default=Path("out"), help="outputs go to OUT/<file name>/, emptied at the start"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="stop waiting after this many seconds")
    parser.add_argument("--verbose", action="store_true", help="print every function log line")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        inputs = input_files(args.files, args.file_list, args.out)
        service_provider(os.environ)
    except (UsageError, ProviderConfigError) as exc:
        print(f"lassodrop run: error: {exc}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    args.out.mkdir(parents=True, exist_ok=True)
    for item in inputs:
        clear_output_folder(args.out, item.name)
    inputs = inputs or [_demo_input(args.out)]
    log_path = args.out / LOG_NAME
    with log_path.open("w", encoding="utf-8") as log:
        sink = ConsoleSink(log, verbose=args.verbose)
        try:
            code = _run_stack(inputs, args, sink)
        except KeyboardInterrupt:
            # Leaving the stack's `with` block has already stopped the workers and both servers.
            print("\ninterrupted: the stack is stopped", flush=True)
            return EXIT_INTERRUPTED
    print(f"outputs under {args.out}/, every function log line in {log_path}", flush=True)
    return code


def _demo_input(out: Path) -> Input:
    clear_output_folder(out, DEMO_NAME)
    path = out / DEMO_NAME / DEMO_INPUT
    path.parent.mkdir(parents=True)
    write_tone(path)
    print(f"no files given: uploading a 2 s demo tone as {DEMO_NAME} (a copy is in {path})", flush=True)
    return Input(DEMO_NAME, path)


def _run_stack(inputs: list[Input], args: argparse.Namespace, sink: "ConsoleSink") -> int:
    print("starting the embedded stack ...", flush=True)
    with EmbeddedStack(sink) as stack:
        assert stack.info is not None
        assert stack.provider is not None
        assert stack.runtime is not None
        labels = {config.function_name: config.logical_id for config in stack.info.functions.values()}
        sink.names = labels
        print(_ready_line(stack), flush=True)
        stop = threading.Event()
        with _ctrl_c_sets(stop):
            progress, ending = _upload_and_follow(stack, inputs, args, stop)
            _say_why_stopping(ending, args.timeout)
            # Stopped before the rows are read for the last time: no function can change them after that.
            stack.runtime.stop()
            _final_read(progress, _job_reader(stack))
            for item in progress:
                if item.completed:
                    item.outputs = _download(stack, item, args.out / item.name)
            real = not stack.provider.allow_local
            _print_summary(progress, stack.runtime.stats, labels, real_provider=real)
    if ending is Ending.INTERRUPTED:
        print("interrupted: the stack is stopped", flush=True)
        return EXIT_INTERRUPTED
    if ending is Ending.TIMEOUT:
        return EXIT_TIMEOUT
    return 0 if all(item.completed for item in progress) else EXIT_FAILED


def _ready_line(stack: EmbeddedStack) -> str:
    assert stack.info is not None
    assert stack.provider is not None
    provider = stack.provider
    where = (
        f"the AudioLasso emulator at {provider.base_url}"
        if provider.allow_local
        else f"AudioLasso at {provider.base_url} (your key: its jobs are paid for)"
    )
    return f"stack ready: s3://{stack.info.input_bucket} -> {where}"


@contextlib.contextmanager
def _ctrl_c_sets(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C asks the run to stop and still print its summary; a second one quits at once.

    The handler only sets the event: printing from a signal handler can interrupt a print in progress.
    """

    def first_press(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first_press)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _upload_and_follow(
    stack: EmbeddedStack, inputs: list[Input], args: argparse.Namespace, stop: threading.Event
) -> tuple[list[FileProgress], Ending]:
    assert stack.info is not None
    prefix = stack.info.parameters["InputPrefix"]
    progress = [FileProgress(item.name, prefix + item.name) for item in inputs]
    width = name_width(item.name for item in inputs)
    for item, source in zip(progress, inputs, strict=True):
        if stop.is_set():
            return progress, Ending.INTERRUPTED
        print(item.describe(width), flush=True)
        _upload(stack, item, source.path, args.prompt)
        print(item.describe(width), flush=True)
    return progress, _follow(
        progress, _job_reader(stack), _provider_reader(stack), stop=stop, timeout=args.timeout, width=width
    )


def _say_why_stopping(ending: Ending, timeout: float) -> None:
    if ending is Ending.TIMEOUT:
        print(f"gave up waiting after {timeout:g} s: stopping the functions", flush=True)
    elif ending is Ending.INTERRUPTED:
        print("\nCtrl-C: stopping the functions (Ctrl-C again quits without the summary)", flush=True)


def _final_read(progress: Sequence[FileProgress], read_job: Callable[[FileProgress], Any]) -> None:
    """Each file's row as the stopped functions left it; the provider's status stays the last one seen."""
    for item in progress:
        if item.uploaded and not item.terminal:
            item.update(read_job(item), item.provider_status)


def _print_summary(
    progress: Sequence[FileProgress],
    stats: Mapping[str, FunctionStats],
    labels: Mapping[str, str],
    *,
    real_provider: bool,
) -> None:
    # Counted once the functions stopped, so no invocation is still running.
    print(f"\n{invocation_counts(stats, labels)}")
    # On a terminal the reason column folds to its width; into a file or a pipe, nothing folds.
    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
    print(f"\n{summary_table(progress, width)}\n", flush=True)
    for line in left_running(progress, real_provider=real_provider):
        print(line, flush=True)


def invocation_counts(stats: Mapping[str, FunctionStats], labels: Mapping[str, str]) -> str:
    """One line: how often each function ran, and how many of those runs failed."""
    parts = [f"{labels.get(name, name)} {n.invocations} ({n.errors} failed)" for name, n in stats.items()]
    return "invocations: " + ", ".join(parts)


def _upload(stack: EmbeddedStack, item: FileProgress, path: Path, prompt: str | None) -> None:
    assert stack.info is not None
    extra: dict[str, Any] = {"ContentType": mimetypes.guess_type(item.name)[0] or "application/octet-stream"}
    if prompt:
        extra["Metadata"] = {"prompt": prompt}
    item.started = time.monotonic()
    stack.client("s3").upload_file(str(path), stack.info.input_bucket, item.key, ExtraArgs=extra)
    item.mark_uploaded()


def _job_reader(stack: EmbeddedStack) -> Callable[[FileProgress], Any]:
    assert stack.info is not None
    store, bucket = JobStore(stack.clients.table(stack.info.jobs_table)), stack.info.input_bucket
    return lambda item: latest(store.find_by_source(bucket, item.key))


def _provider_reader(stack: EmbeddedStack) -> ProviderStatus:
    assert stack.provider is not None
    provider = stack.provider
    # One attempt per read: this only feeds the progress display.
    client = AudioLassoClient(
        provider.api_key, provider.base_url, allow_local=provider.allow_local, max_retries=0, timeout=(2, 5)
    )
    return provider_status_reader(client)


def _follow(
    progress: list[FileProgress],
    read_job: Callable[[FileProgress], Any],
    provider_status: ProviderStatus,
    *,
    stop: threading.Event,
    timeout: float,
    width: int = 0,
) -> Ending:
    """Print each file's line as it changes until every file is terminal, `timeout` seconds pass, or `stop`
    is set."""
    deadline = time.monotonic() + timeout
    asked: dict[str, float] = {}
    while not stop.is_set():
        for item in progress:
            if not item.terminal and not stop.is_set():
                _refresh(item, read_job(item), provider_status, asked, width)
        if all(item.terminal for item in progress):
            return Ending.DONE
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return Ending.TIMEOUT
        stop.wait(min(_POLL_SECONDS, remaining))
    return Ending.INTERRUPTED


def _refresh(
    item: FileProgress, job: Any, provider_status: ProviderStatus, asked: dict[str, float], width: int
) -> None:
    """Take the file's row, ask the provider about its request at most once a second, print a change."""
    request_id = job.request_id if job is not None and job.status == Status.SUBMITTED else None
    status = item.provider_status if request_id else None
    if request_id and time.monotonic() - asked.get(request_id, 0.0) >= _PROVIDER_POLL_SECONDS:
        asked[request_id] = time.monotonic()
        status = provider_status(request_id)
    if item.update(job, status):
        print(item.describe(width), flush=True)


def _download(stack: EmbeddedStack, item: FileProgress, destination: Path) -> list[str]:
    """The stems and result.json the file's row lists into `destination`, each named by its key's last part.

    The row, not a listing, says which objects: the key's output folder holds one subfolder per version.
    """
    s3 = stack.client("s3")
    outputs = item.job.outputs if item.job is not None else None
    destination.mkdir(parents=True, exist_ok=True)
    names = []
    for output in (outputs or {}).values():
        name = str(output["key"]).rsplit("/", 1)[-1]
        s3.download_file(output["bucket"], output["key"], str(destination / name))
        names.append(name)
    return sorted(names)


class ConsoleSink:
    """Every function log line goes to the log file; the console gets REPORT lines and failures (or all)."""

    def __init__(self, log: TextIO, *, verbose: bool) -> None:
        self._log = log
        self._verbose = verbose
        self._lock = threading.Lock()
        self.names: dict[str, str] = {}

    def __call__(self, function: str, line: str) -> None:
        label = self.names.get(function, function)
        with self._lock:
            self._log.write(f"[{label}] {line}\n")
            self._log.flush()
            if self._verbose or _notable(line):
                # Lambda separates REPORT fields with tabs; on a terminal, tab stops make ragged gaps.
                print(f"  [{label}] {line.replace(chr(9), '  ')}", flush=True)


def _notable(line: str) -> bool:
    if line.startswith("REPORT RequestId: ") or "Task timed out after" in line or "Runtime exited" in line:
        return True
    if not line.startswith("{"):
        return False
    try:
        entry = json.loads(line)
    except ValueError:
        return False
    return isinstance(entry, dict) and ("errorType" in entry or entry.get("level") in ("ERROR", "CRITICAL"))
