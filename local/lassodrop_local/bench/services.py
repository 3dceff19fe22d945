"""moto's S3 server and the AudioLasso emulator, each in a process of its own, on 127.0.0.1 and a free port.

They run outside the measured processes, so their memory (moto keeps every object) never counts against a
variant.
"""

from __future__ import annotations

import selectors
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO

START_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 10.0
_LOOPBACK_ANY_PORT = ("--host", "127.0.0.1", "--port", "0")


class ServiceError(RuntimeError):
    """A helper process did not start, or did not say where it listens."""


def moto_command() -> list[str]:
    return [sys.executable, "-m", "lassodrop_local.bench.moto_process"]


def emulator_command(api_key: str) -> list[str]:
    # The same as `lassodrop emulator ...`, without depending on the console script being on PATH.
    launcher = "from lassodrop_local.cli import main; raise SystemExit(main())"
    return [sys.executable, "-c", launcher, "emulator", *_LOOPBACK_ANY_PORT, "--api-key", api_key]


@contextmanager
def service(name: str, command: Sequence[str]) -> Iterator[str]:
    """Run `command` until the block ends; yields the URL the process prints on its first line."""
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        try:
            yield _first_line(name, process, stderr)
        finally:
            _stop(process)


def _first_line(name: str, process: subprocess.Popen[str], stderr: IO[bytes]) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        ready = selector.select(timeout=START_TIMEOUT_SECONDS)
    line = process.stdout.readline().strip() if ready else ""
    if not line.startswith("http://"):
        stderr.seek(0)
        tail = stderr.read()[-2000:].decode(errors="replace")
        raise ServiceError(
            f"{name} did not print its URL within {START_TIMEOUT_SECONDS:.0f}s: {line!r}\n{tail}"
        )
    # Whatever it prints later must still be read, or a full pipe would stall it mid-benchmark.
    threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
    return line.split()[0]


def _drain(stream: IO[str]) -> None:
    for _ in stream:
        pass


def _stop(process: subprocess.Popen[str]) -> None:
    if process.stdin is not None:
        process.stdin.close()
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
