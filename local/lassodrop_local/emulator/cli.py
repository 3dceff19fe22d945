"""`lassodrop emulator`: run the AudioLasso emulator until interrupted, printing its base URL first."""

import argparse
import logging
import signal
import threading
from types import FrameType
from typing import Any

from lassodrop_local.emulator.server import EmulatorServer

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "emulator",
        help="run a local AudioLasso API",
        description="Serve a local AudioLasso API. The first line printed is its base URL.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--api-key", action="append", dest="api_keys", required=True, help="accepted key (repeatable)"
    )
    parser.add_argument("--queue-seconds", type=float, default=0.05, help="time a job spends IN_QUEUE")
    parser.add_argument("--run-seconds", type=float, default=0.05, help="time a job spends IN_PROGRESS")
    parser.add_argument("--result-retention-seconds", type=float, default=3600.0)
    parser.add_argument("--upload-url-ttl-seconds", type=float, default=3600.0)
    parser.add_argument("--output-url-ttl-seconds", type=float, default=3600.0)
    parser.add_argument("--log-level", default="WARNING")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Logs go to stderr so the first line of stdout stays the base URL, which callers parse.
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    server = EmulatorServer(
        api_keys=args.api_keys,
        host=args.host,
        port=args.port,
        queue_seconds=args.queue_seconds,
        run_seconds=args.run_seconds,
        result_retention_seconds=args.result_retention_seconds,
        upload_url_ttl_seconds=args.upload_url_ttl_seconds,
        output_url_ttl_seconds=args.output_url_ttl_seconds,
    )
    with server:
        print(server.base_url, flush=True)
        _wait_for_signal()
    return 0


def _wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM; both end the server cleanly with exit code 0."""
    stop = threading.Event()

    def _request_stop(signum: int, frame: FrameType | None) -> None:
        logger.info("stopping on signal %d", signum)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _request_stop)
    # A timeout keeps the main thread waking up, so the signal handler always gets to run.
    while not stop.wait(0.5):
        pass
