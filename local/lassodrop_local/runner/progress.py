"""What `lassodrop run` shows: a line per file whenever its state changes, and a summary table at the end.

The summary is the truth of the jobs table at the end of the run, whether every file finished, the run gave up
waiting, or Ctrl-C stopped it: each file's last row, its request id, and what became of it.
"""

import io
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lassodrop.jobs import Job, Status

# The provider's own status adds "queued" and "processing" to what the job row knows; once the provider is
# done, the next step is collect's.
_PROVIDER_STAGES = {
    "IN_QUEUE": "queued",
    "IN_PROGRESS": "processing",
    "COMPLETED": "collecting",
    "FAILED": "collecting",
}
# In the order a file goes through them; "uploading" and "uploaded" are the run's own upload into S3, before
# ingest has a row for the file.
_ROW_STAGES = {
    Status.RECEIVED: "received",
    Status.UPLOADING: "sending to AudioLasso",
    Status.SUBMITTED: "submitted",
    Status.COLLECTING: "collecting",
    Status.COMPLETED: "done",
}
# A very long name would push every other file's stage far to the right; it only widens its own line.
_MAX_NAME_CELLS = 40
_COLUMNS = ("file", "status", "time", "request id", "outputs / reason")

ProviderStatus = Callable[[str], str | None]
"""Asks the provider for a request's status (e.g. IN_QUEUE); None when it cannot tell."""


def stage_of(job: Job | None, provider_status: str | None = None) -> str:
    """The stage shown for a file once it is in S3: uploaded (no row yet), received, sending to AudioLasso,
    waiting for ..., submitted, queued, processing, collecting, done, or the terminal status in lower case."""
    if job is None:
        return "uploaded"
    waiting = waiting_for(job)
    if waiting:
        return f"waiting for {waiting}"
    if job.status == Status.SUBMITTED and provider_status in _PROVIDER_STAGES:
        return _PROVIDER_STAGES[provider_status]
    return _ROW_STAGES.get(job.status, job.status.value.lower().replace("_", " "))


def waiting_for(job: Job) -> str | None:
    """What a waiting row waits for (`api key`, `credits`, `permission`); None for any other row."""
    if job.status is not Status.WAITING or job.waiting_for is None:
        return None
    return str(job.waiting_for)


def last_cause(job: Job | None) -> str | None:
    """Why the row's last attempt did not go through, in a few words (`AudioLasso unreachable: ...`)."""
    return job.last_cause if job is not None else None


def pad(text: str, cells: int) -> str:
    """`text` padded to `cells` terminal cells: a CJK character takes two, so `str.ljust` misaligns it."""
    return text + " " * max(cells - cell_len(text), 0)


def name_width(names: Iterable[str]) -> int:
    """How many cells the name column of the progress lines takes."""
    return min(max((cell_len(name) for name in names), default=0), _MAX_NAME_CELLS)


@dataclass
class FileProgress:
    """One input file on its way through the pipeline."""

    name: str
    key: str
    started: float = field(default_factory=time.monotonic)
    uploaded: bool = False
    job: Job | None = None
    provider_status: str | None = None
    stage: str = "uploading"
    finished: float | None = None
    outputs: list[str] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.job is not None and self.job.is_terminal

    @property
    def completed(self) -> bool:
        return self.job is not None and self.job.status == Status.COMPLETED

    @property
    def submitted(self) -> bool:
        """A job exists at the provider and the run has not seen it end."""
        return self.job is not None and not self.terminal and bool(self.job.request_id)

    @property
    def maybe_submitted(self) -> bool:
        """The submit had started but no request id was recorded: a job may exist at the provider."""
        job = self.job
        return job is not None and job.status == Status.UPLOADING and bool(job.submit_started_at)

    def mark_uploaded(self) -> None:
        self.uploaded, self.stage = True, stage_of(None)

    def update(self, job: Job | None, provider_status: str | None) -> bool:
        """Record the latest row (and the provider's status, if known); True when the file's line changed."""
        before = self.describe()
        self.job, self.provider_status = job, provider_status
        self.stage = stage_of(job, provider_status)
        if self.terminal and self.finished is None:
            self.finished = time.monotonic()
        return self.describe() != before

    def describe(self, width: int = 0) -> str:
        """A progress line: the stage, with the request id or the error code, and the last cause if any."""
        detail = None
        if self.job is not None:
            error = self.job.error
            detail = error.code if error and self.terminal and not self.completed else None
            detail = detail or self.job.request_id
        line = f"{pad(self.name, width)}  {self.stage}" + (f" ({detail})" if detail else "")
        cause = last_cause(self.job)
        return f"{line}  last cause: {cause}" if cause else line

    def status(self) -> str:
        """The status column: the row's status, WAITING for account trouble, or how far the run got."""
        if not self.uploaded:
            return "NOT UPLOADED"
        if self.job is None:
            return "NOT STARTED"
        return "WAITING" if waiting_for(self.job) else self.job.status.value

    def outcome(self) -> str:
        """The outputs, or why there are none: the error, or where the file stood when the run stopped."""
        if self.completed:
            return ", ".join(self.outputs) or "(no outputs found)"
        if not self.uploaded:
            return "the run stopped before uploading it"
        if self.job is None:
            return "ingest had not picked it up when the run stopped"
        if self.terminal:
            return self._failure()
        where = f"{self.stage} when the run stopped"
        if self.maybe_submitted:
            where += " (its submit had started: a job may exist at AudioLasso)"
        cause = last_cause(self.job)
        return f"{where}; last cause: {cause}" if cause else where

    def _failure(self) -> str:
        assert self.job is not None
        error = self.job.error
        # The error message is the specific one (the service's own words); `reason` may be a generic summary.
        message = (error.message if error else "") or self.job.reason or ""
        code = error.code if error else None
        if code:
            return f"{code}: {message}" if message else str(code)
        return message or f"stopped at {self.job.status.value}"

    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


def summary_table(files: Iterable[FileProgress], width: int | None = None) -> str:
    """One row per file, aligned in terminal cells (wide characters count twice). The free-text column comes
    last and is the one that folds when `width` (a terminal's) is too narrow; None: never fold."""
    rows = [(item.name, item.status(), _time(item), _request_id(item), item.outcome()) for item in files]
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0))
    for index, title in enumerate(_COLUMNS):
        # Status, time and request id are short and never fold; the name and the reason may.
        fixed = index in (1, 2, 3)
        cells = max((cell_len(row[index]) for row in rows), default=0)
        table.add_column(
            title, no_wrap=fixed, min_width=max(cells, len(title)) if fixed else None, overflow="fold"
        )
    for row in rows:
        # Text, not str: a name like "[b].wav" is a file name, not console markup.
        table.add_row(*(Text(cell) for cell in row))
    # Room for every cell unfolded (the separators and padding take two cells a column); the table takes only
    # what it needs of it.
    natural = sum(
        max([len(title), *(cell_len(row[n]) for row in rows)]) + 2 for n, title in enumerate(_COLUMNS)
    )
    out = io.StringIO()
    console = Console(
        file=out, width=width or natural, color_system=None, highlight=False, emoji=False, markup=False
    )
    console.print(table)
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())


def _time(item: FileProgress) -> str:
    """From the start of its upload to its end (or to the end of the run); none for a file never uploaded."""
    return f"{item.seconds():.1f} s" if item.uploaded else "-"


def _request_id(item: FileProgress) -> str:
    return (item.job.request_id if item.job else None) or "-"


def left_running(files: Iterable[FileProgress], *, real_provider: bool) -> list[str]:
    """Lines after the summary for jobs the run leaves behind: they do not stop when the run does."""
    files = list(files)
    submitted = [f"{item.name} ({item.job.request_id})" for item in files if item.submitted and item.job]
    maybe = [item.name for item in files if item.maybe_submitted]
    lines = []
    if submitted:
        jobs = "1 submitted job" if len(submitted) == 1 else f"{len(submitted)} submitted jobs"
        lines.append(f"{jobs} not collected by this run: {', '.join(submitted)}.")
    if maybe:
        lines.append(f"Submit started, no request id recorded (a job may exist): {', '.join(maybe)}.")
    if lines:
        lines.append(
            "Submitted jobs go on at AudioLasso after the run stops, and are paid for."
            if real_provider
            else "With the emulator, such jobs stop with the stack; with a real key, they go on at "
            "AudioLasso after the run stops, and are paid for."
        )
    return lines


def latest(jobs: list[Job]) -> Job | None:
    """The newest row for a source (a re-upload of the same key makes a new row)."""
    return max(jobs, key=lambda job: job.created_at or "", default=None)


def provider_status_reader(client: Any) -> ProviderStatus:
    """Reads a request's status with the AudioLasso client; progress display only, so errors show nothing."""
    from lassodrop.audiolasso import AudioLassoError

    def read(request_id: str) -> str | None:
        try:
            return str(client.status(request_id).status)
        except AudioLassoError:
            return None

    return read
