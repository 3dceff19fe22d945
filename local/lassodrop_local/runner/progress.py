"""What `lassodrop run` shows: a line per file whenever its stage changes, and a summary table at the end."""

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from lassodrop.jobs import Job, Status

# The provider's own status adds "queued" and "processing" to what the job row knows; once the provider is
# done, the next step is collect's.
_PROVIDER_STAGES = {
    "IN_QUEUE": "queued",
    "IN_PROGRESS": "processing",
    "COMPLETED": "collecting",
    "FAILED": "collecting",
}
_ROW_STAGES = {
    Status.RECEIVED: "uploading",
    Status.UPLOADING: "uploading",
    Status.SUBMITTED: "submitted",
    Status.COLLECTING: "collecting",
    Status.COMPLETED: "done",
}

ProviderStatus = Callable[[str], str | None]
"""Asks the provider for a request's status (e.g. IN_QUEUE); None when it cannot tell."""


def stage_of(job: Job | None, provider_status: str | None = None) -> str:
    """The stage shown for a file: uploaded (no row yet), uploading, submitted, queued, processing,
    collecting, done, or the terminal failure status in lower case."""
    if job is None:
        return "uploaded"
    if job.status == Status.SUBMITTED and provider_status in _PROVIDER_STAGES:
        return _PROVIDER_STAGES[provider_status]
    return _ROW_STAGES.get(job.status, job.status.value.lower().replace("_", " "))


@dataclass
class FileProgress:
    """One input file on its way through the pipeline."""

    name: str
    key: str
    started: float = field(default_factory=time.monotonic)
    job: Job | None = None
    stage: str = "uploaded"
    finished: float | None = None
    outputs: list[str] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.job is not None and self.job.is_terminal

    @property
    def completed(self) -> bool:
        return self.job is not None and self.job.status == Status.COMPLETED

    def update(self, job: Job | None, provider_status: str | None) -> bool:
        """Record the latest row; True when the stage changed."""
        self.job = job
        stage = stage_of(job, provider_status)
        changed, self.stage = stage != self.stage, stage
        if self.terminal and self.finished is None:
            self.finished = time.monotonic()
        return changed

    def describe(self, name_width: int = 0) -> str:
        """A progress line: the stage, with the request id, or the error code once it failed."""
        detail = None
        if self.job is not None:
            error = self.job.error
            detail = error.code if error and self.terminal and not self.completed else None
            detail = detail or self.job.request_id
        return f"{self.name.ljust(name_width)}  {self.stage}" + (f" ({detail})" if detail else "")

    def outcome(self) -> str:
        """The outputs, or why there are none (the row's error code and its most specific message)."""
        if self.completed:
            return ", ".join(self.outputs) or "(no outputs found)"
        if self.job is None:
            return "never picked up by ingest"
        error = self.job.error
        # The error message is the specific one (the service's own words); `reason` may be a generic summary.
        message = (error.message if error else "") or self.job.reason or ""
        code = error.code if error else None
        if code:
            return f"{code}: {message}" if message else str(code)
        return message or f"stopped at {self.job.status.value}"

    def seconds(self) -> float:
        return (self.finished or time.monotonic()) - self.started


def summary_table(files: Iterable[FileProgress]) -> str:
    """One row per file; the free-text column comes last so a long reason only widens its own line."""
    rows = [("file", "status", "time", "request id", "outputs / reason")]
    for item in files:
        status = item.job.status.value if item.job else "NOT STARTED"
        request_id = (item.job.request_id if item.job else None) or "-"
        rows.append((item.name, status, f"{item.seconds():.1f} s", request_id, item.outcome()))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


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
