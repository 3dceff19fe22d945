"""The state file of a running `lassodrop up`: where other commands find its endpoints.

`$LASSODROP_STATE_DIR/up.json` (default ~/.local/state/lassodrop/up.json) is written once the stack is ready
and removed when it stops. Ownership is an exclusive flock on `up.lock` beside it, held for the life of the
process: the kernel drops it however the process ends, so a file left by a killed `up` is told apart from a
live one without trusting a pid that may have been reused.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

STATE_DIR_VARIABLE = "LASSODROP_STATE_DIR"
STATE_NAME = "up.json"
LOCK_NAME = "up.lock"
# The four queues of the stack, by their template logical ids.
QUEUE_IDS = ("IngestQueue", "IngestDLQ", "CheckQueue", "CheckDLQ")


@dataclass(frozen=True)
class UpState:
    """What up.json holds: every field is a key of the file, and the file has no other."""

    aws_endpoint_url: str
    region: str
    input_bucket: str
    output_bucket: str
    jobs_table: str
    emulator_url: str | None
    stack_name: str
    pid: int
    queues: Mapping[str, str]

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "queues": dict(self.queues)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> UpState:
        data: dict[str, Any] = json.loads(text)
        return cls(**data)


class AlreadyRunningError(RuntimeError):
    """Another live `lassodrop up` owns the state file."""

    def __init__(self, pid: int | None, path: Path) -> None:
        who = f"pid {pid}" if pid else "another process"
        kill = f", or kill {pid}" if pid else ""
        super().__init__(
            f"another lassodrop up is already running ({who}) and owns {path}; "
            f"stop it first (Ctrl-C where it runs{kill})"
        )
        self.pid = pid


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    configured = env.get(STATE_DIR_VARIABLE, "").strip()
    return Path(configured) if configured else Path.home() / ".local" / "state" / "lassodrop"


def state_path(env: Mapping[str, str] | None = None) -> Path:
    return state_dir(env) / STATE_NAME


def read_state(env: Mapping[str, str] | None = None) -> UpState | None:
    """The endpoints of the live `lassodrop up`, or None when none is running (a file left by one that was
    killed is ignored)."""
    directory = state_dir(env)
    if not _owned(directory / LOCK_NAME):
        return None
    try:
        return UpState.from_json((directory / STATE_NAME).read_text(encoding="utf-8"))
    except FileNotFoundError:  # running, but not ready yet
        return None


def _owned(lock_path: Path) -> bool:
    try:
        lock = lock_path.open("r", encoding="utf-8")
    except FileNotFoundError:
        return False
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        return False


@contextlib.contextmanager
def ownership(env: Mapping[str, str] | None = None) -> Iterator[StateFile]:
    """Own the state file for the block, or raise AlreadyRunningError; the file is removed on leaving."""
    directory = state_dir(env)
    directory.mkdir(parents=True, exist_ok=True)
    # Opened without truncating: the pid of a live owner must survive a refused second start reading it.
    with (directory / LOCK_NAME).open("a+", encoding="utf-8") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunningError(_owner_pid(lock), directory / STATE_NAME) from None
        _record_pid(lock)
        state = StateFile(directory / STATE_NAME)
        # A file left by an `up` that was killed is stale: nothing owned it until now.
        state.remove()
        try:
            yield state
        finally:
            state.remove()


def _owner_pid(lock: IO[str]) -> int | None:
    lock.seek(0)
    text = lock.read().strip()
    return int(text) if text.isdigit() else None


def _record_pid(lock: IO[str]) -> None:
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()


class StateFile:
    """up.json, written whole or not at all: a reader never sees half a file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextlib.contextmanager
    def published(self, state: UpState) -> Iterator[None]:
        """The file holds `state` for the block and is gone after it."""
        self.write(state)
        try:
            yield
        finally:
            self.remove()

    def write(self, state: UpState) -> None:
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=self.path.parent, prefix=".up-", suffix=".json", delete=False
        ) as temporary:
            try:
                temporary.write(state.to_json() + "\n")
                temporary.flush()
                os.fsync(temporary.fileno())
            except BaseException:
                os.unlink(temporary.name)
                raise
        os.replace(temporary.name, self.path)

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
