"""`lassodrop run`: drop files into the embedded stack, follow each one to its end, fetch the outputs."""

import argparse
import json
import mimetypes
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from lassodrop.audiolasso import AudioLassoClient
from lassodrop.jobs import JobStore
from lassodrop_local.runner.demo import write_tone
from lassodrop_local.runner.embedded import EmbeddedStack
from lassodrop_local.runner.progress import (
    FileProgress,
    ProviderStatus,
    latest,
    provider_status_reader,
    summary_table,
)
from lassodrop_local.runner.runtime import FunctionStats

_POLL_SECONDS = 0.5
_PROVIDER_POLL_SECONDS = 1.0
_EXIT_INTERRUPTED = 130
DEMO_NAME = "demo-tone.wav"
# The demo input is kept beside its outputs, so target.wav can be compared with what went in.
DEMO_INPUT = "input.wav"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the whole pipeline on this machine",
        description="Start the embedded stack (moto, the AudioLasso emulator unless AUDIOLASSO_API_KEY is "
        "set, the functions from template.yaml), upload FILES, follow them, and download their outputs.",
    )
    parser.add_argument(
        "files",
        nargs="*",
        type=Path,
        help=f"audio or video files (none: a 2 s demo tone, kept as OUT/{DEMO_NAME}/{DEMO_INPUT})",
    )
    parser.add_argument("--prompt", help="stored as each object's `prompt` metadata (else the stack default)")
    parser.add_argument("--out", type=Path, default=Path("out"), help="outputs go to OUT/<file name>/")
    parser.add_argument("--timeout", type=float, default=600.0, help="stop waiting after this many seconds")
    parser.add_argument("--verbose", action="store_true", help="print every function log line")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    files = _input_files(args.files)
    args.out.mkdir(parents=True, exist_ok=True)
    inputs = [(path.name, path) for path in files] or [_demo_input(args.out)]
    log_path = args.out / "lassodrop-run.log"
    with log_path.open("w", encoding="utf-8") as log:
        sink = ConsoleSink(log, verbose=args.verbose)
        try:
            code = _run_stack(inputs, args, sink)
        except KeyboardInterrupt:
            # Leaving the stack's `with` block has already stopped the workers and both servers.
            print("\ninterrupted: the stack is stopped", flush=True)
            return _EXIT_INTERRUPTED
    print(f"outputs under {args.out}/, every function log line in {log_path}", flush=True)
    return code


def _input_files(files: Sequence[Path]) -> list[Path]:
    missing = [str(path) for path in files if not path.is_file()]
    if missing:
        raise SystemExit(f"lassodrop run: not a file: {', '.join(missing)}")
    names = [path.name for path in files]
    if len(set(names)) != len(names):
        raise SystemExit("lassodrop run: two files share a name; their outputs would collide")
    return list(files)


def _demo_input(out: Path) -> tuple[str, Path]:
    path = out / DEMO_NAME / DEMO_INPUT
    path.parent.mkdir(parents=True, exist_ok=True)
    write_tone(path)
    print(f"no files given: uploading a 2 s demo tone as {DEMO_NAME} (a copy is in {path})", flush=True)
    return DEMO_NAME, path


def _run_stack(inputs: list[tuple[str, Path]], args: argparse.Namespace, sink: "ConsoleSink") -> int:
    print("starting the embedded stack ...", flush=True)
    with EmbeddedStack(sink) as stack:
        assert stack.info is not None
        assert stack.provider is not None
        assert stack.runtime is not None
        labels = {config.function_name: config.logical_id for config in stack.info.functions.values()}
        sink.names = labels
        where = "the AudioLasso emulator" if stack.provider.allow_local else stack.provider.base_url
        print(f"stack ready: s3://{stack.info.input_bucket} -> {where}", flush=True)
        width = max(len(name) for name, _ in inputs)
        progress = [_upload(stack, name, path, args.prompt, width) for name, path in inputs]
        _follow(progress, _job_reader(stack), _provider_reader(stack), timeout=args.timeout, width=width)
        for item in progress:
            if item.completed:
                item.outputs = _download(stack, item, args.out / item.name)
    # Counted after the stack stopped, so no invocation is still running.
    print(f"\n{invocation_counts(stack.runtime.stats, labels)}")
    print(f"\n{summary_table(progress)}\n", flush=True)
    return 0 if all(item.completed for item in progress) else 1


def invocation_counts(stats: Mapping[str, FunctionStats], labels: Mapping[str, str]) -> str:
    """One line: how often each function ran, and how many of those runs failed."""
    parts = [f"{labels.get(name, name)} {n.invocations} ({n.errors} failed)" for name, n in stats.items()]
    return "invocations: " + ", ".join(parts)


def _upload(stack: EmbeddedStack, name: str, path: Path, prompt: str | None, width: int) -> FileProgress:
    assert stack.info is not None
    key = stack.info.parameters["InputPrefix"] + name
    extra: dict[str, Any] = {"ContentType": mimetypes.guess_type(name)[0] or "application/octet-stream"}
    if prompt:
        extra["Metadata"] = {"prompt": prompt}
    stack.client("s3").upload_file(str(path), stack.info.input_bucket, key, ExtraArgs=extra)
    item = FileProgress(name, key)
    print(item.describe(width), flush=True)
    return item


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
    timeout: float,
    width: int = 0,
) -> None:
    """Print each file's stage as it changes until every file is terminal or `timeout` seconds pass."""
    deadline = time.monotonic() + timeout
    known: dict[str, str | None] = {}
    asked: dict[str, float] = {}
    while time.monotonic() < deadline:
        for item in progress:
            if item.terminal:
                continue
            job = read_job(item)
            request_id = job.request_id if job is not None and job.status == "SUBMITTED" else None
            if request_id and time.monotonic() - asked.get(request_id, 0.0) >= _PROVIDER_POLL_SECONDS:
                asked[request_id] = time.monotonic()
                known[request_id] = provider_status(request_id)
            if item.update(job, known.get(request_id) if request_id else None):
                print(item.describe(width), flush=True)
        if all(item.terminal for item in progress):
            return
        time.sleep(_POLL_SECONDS)
    print(f"gave up waiting after {timeout:.0f} s", flush=True)


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
