"""`lassodrop up`: the embedded stack `lassodrop run` starts, kept running until SIGINT or SIGTERM.

Anything that speaks S3 can then drop files into the input bucket (`aws --endpoint-url`, boto3): the bucket's
notification is set through the S3 API and sent by moto itself, so an object put by any client goes down the
same path as one `run` uploads. The endpoints go to stdout (with --json, as one line and nothing else) and to
the state file, for scripts and the other commands; the notable function lines go to stderr, all of them to
up.log beside the state file.
"""

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from lassodrop_local.runner.cli import ConsoleSink
from lassodrop_local.runner.embedded import (
    EmbeddedStack,
    PortInUseError,
    ProviderConfigError,
    ensure_port_free,
    service_provider,
)
from lassodrop_local.up.state import QUEUE_IDS, AlreadyRunningError, StateFile, UpState, ownership, state_dir

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # as a shell reports a job ended by SIGINT
LOG_NAME = "up.log"
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "up",
        help="run the embedded stack as a local service until Ctrl-C",
        description="Start the embedded stack (moto, the AudioLasso emulator unless AUDIOLASSO_API_KEY is "
        "set, the functions from template.yaml) and keep it running: files put into the input bucket by any "
        "S3 client go through the pipeline. The endpoints are printed and written to "
        "$LASSODROP_STATE_DIR/up.json (default ~/.local/state/lassodrop/up.json) once ready; the file is "
        "removed at stop. SIGTERM stops it with exit code 0, Ctrl-C (SIGINT) with 130.",
    )
    parser.add_argument(
        "--prompt", type=_prompt, help="the stack's DefaultPrompt, for objects without `prompt` metadata"
    )
    parser.add_argument("--port", type=int, default=0, help="moto's (the AWS endpoint's) port; 0 picks one")
    parser.add_argument(
        "--emulator-port", type=int, default=0, help="the AudioLasso emulator's port; 0 picks one"
    )
    parser.add_argument("--json", action="store_true", help="print the endpoints as one JSON line, only that")
    parser.add_argument("--verbose", action="store_true", help="print every function log line (to stderr)")
    parser.set_defaults(handler=up)


def _prompt(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the prompt must not be empty")
    return text


def up(args: argparse.Namespace) -> int:
    out = sys.stdout
    try:
        service_provider(os.environ)
    except ProviderConfigError as exc:
        print(f"lassodrop up: error: {exc}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    with _stop_signals() as stopping:
        try:
            # Refused before anything starts: a second stack would be a second, unrelated set of buckets.
            with ownership() as state_file:
                for port in (args.port, args.emulator_port):
                    if port:
                        ensure_port_free(port)
                log_path = state_dir() / LOG_NAME
                # ConsoleSink prints the notable function lines to stdout, which belongs to the endpoints.
                with log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(sys.stderr):
                    _serve(args, ConsoleSink(log, verbose=args.verbose), state_file, Output(out, log_path))
        except StopSignal:
            # Every `with` above has unwound: state file removed, workers and both servers stopped.
            pass
        except (AlreadyRunningError, PortInUseError) as exc:
            print(f"lassodrop up: error: {exc}", file=sys.stderr, flush=True)
            return EXIT_FAILED
    print("stopped: the stack is down and the state file removed", file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED if stopping.signum == signal.SIGINT else 0


@dataclass(frozen=True)
class Output:
    """Where the endpoints are printed (the real stdout), and the log file they point to."""

    stream: TextIO
    log_path: Path


def _serve(args: argparse.Namespace, sink: ConsoleSink, state_file: StateFile, output: Output) -> None:
    """Start the stack, publish its endpoints, and hold it up until a stop signal unwinds this frame."""
    print("starting the embedded stack ...", flush=True)
    parameters = {"DefaultPrompt": args.prompt} if args.prompt else {}
    stack = EmbeddedStack(sink, parameters=parameters, moto_port=args.port, emulator_port=args.emulator_port)
    with stack:
        assert stack.info is not None
        sink.names = {config.function_name: config.logical_id for config in stack.info.functions.values()}
        state = up_state(stack)
        # Unpublished first on the way out, so no reader is sent to a stack that is going down.
        with state_file.published(state):
            text = state.to_json() + "\n" if args.json else describe(state, state_file.path, output.log_path)
            output.stream.write(text)
            output.stream.flush()
            _wait_for_stop()


def up_state(stack: EmbeddedStack) -> UpState:
    """The endpoints of a started stack, as the state file records them for this process."""
    assert stack.info is not None
    assert stack.provider is not None
    assert stack.clients.endpoint_url is not None
    info = stack.info
    return UpState(
        aws_endpoint_url=stack.clients.endpoint_url,
        region=info.region,
        input_bucket=info.input_bucket,
        output_bucket=info.output_bucket,
        jobs_table=info.jobs_table,
        emulator_url=stack.provider.base_url if stack.provider.allow_local else None,
        stack_name=info.stack_name,
        pid=os.getpid(),
        queues=_queue_urls(stack),
    )


def _queue_urls(stack: EmbeddedStack) -> dict[str, str]:
    """Each queue's URL as moto serves it at the endpoint; the stack's physical ids name AWS's own host."""
    assert stack.info is not None
    sqs = stack.client("sqs")
    names = {logical_id: stack.info.queues[logical_id].url.rsplit("/", 1)[1] for logical_id in QUEUE_IDS}
    return {logical_id: sqs.get_queue_url(QueueName=name)["QueueUrl"] for logical_id, name in names.items()}


def describe(state: UpState, state_path: Path, log_path: Path) -> str:
    """The endpoints for a person, with a command that drops a file in."""
    provider = f"{state.emulator_url} (the emulator)" if state.emulator_url else "the real service"
    rows = [
        ("AWS endpoint", f"{state.aws_endpoint_url} (region {state.region}, any credentials)"),
        ("input bucket", f"s3://{state.input_bucket}  <- drop files here"),
        ("output bucket", f"s3://{state.output_bucket}"),
        ("jobs table", state.jobs_table),
        ("AudioLasso", provider),
        ("state file", str(state_path)),
        ("function logs", str(log_path)),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"  {name:<{width}}  {value}" for name, value in rows]
    example = (
        "AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"aws --endpoint-url {state.aws_endpoint_url} --region {state.region} "
        f"s3 cp song.wav s3://{state.input_bucket}/"
    )
    return "\n".join(["stack ready (Ctrl-C stops it):", *lines, "for example:", f"  {example}", ""])


class StopSignal(BaseException):
    """SIGINT or SIGTERM arrived; a BaseException, like KeyboardInterrupt, so no `except Exception` keeps
    the stack up."""


class _Stopping:
    """Which stop signal arrived, if any."""

    def __init__(self) -> None:
        self.signum: int | None = None


@contextlib.contextmanager
def _stop_signals() -> Iterator[_Stopping]:
    """Turn the first SIGINT or SIGTERM into StopSignal in the main thread, and ignore the ones after it, so
    a second Ctrl-C cannot cut the shutdown short and leave workers or servers behind."""
    stopping = _Stopping()

    def first_signal(signum: int, frame: FrameType | None) -> None:
        for each in _STOP_SIGNALS:
            signal.signal(each, signal.SIG_IGN)
        stopping.signum = signum
        raise StopSignal

    previous = {each: signal.signal(each, first_signal) for each in _STOP_SIGNALS}
    try:
        yield stopping
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


def _wait_for_stop() -> None:
    # Bounded by the signal that ends the service, which is the point of `up`.
    while True:
        signal.pause()
