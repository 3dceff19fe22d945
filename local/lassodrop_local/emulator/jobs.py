"""A separation job whose status follows from the clock, so no thread has to move it along."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lassodrop_local.emulator.ids import iso

MODEL = "audio/separate"
FAIL_TRIGGER = "[fail]"
TERMINAL = frozenset({"COMPLETED", "FAILED"})


@dataclass
class Job:
    request_id: str
    created_at: float
    started_at: float
    finished_at: float
    input_path: Path | None
    body: dict[str, Any]
    error: dict[str, str] | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None
    outputs_expired_at: float | None = None

    def status(self, now: float) -> str:
        if now < self.started_at:
            return "IN_QUEUE"
        if now < self.finished_at:
            return "IN_PROGRESS"
        return "FAILED" if self.error else "COMPLETED"

    def logs(self, now: float) -> list[dict[str, str]]:
        """Human-readable progress; only what has already happened by `now`."""
        entries = [(self.created_at, "request queued")]
        if now >= self.started_at:
            entries.append((self.started_at, "separation started"))
        if now >= self.finished_at:
            message = f"separation failed: {self.error['message']}" if self.error else "separation completed"
            entries.append((self.finished_at, message))
        return [{"timestamp": iso(moment), "message": message} for moment, message in entries]

    def result_expired(self, now: float, retention_seconds: float) -> bool:
        return now >= self.finished_at + retention_seconds

    def outputs_expired(self, now: float, retention_seconds: float) -> bool:
        early = self.outputs_expired_at is not None and now >= self.outputs_expired_at
        return early or self.result_expired(now, retention_seconds)


def model_failure(message: str) -> dict[str, str]:
    return {"code": "MODEL_FAILED", "message": message}
