"""What the emulator remembers (files, uploads, jobs, deliveries) and the misbehaviour tests ask of it.

Every method is thread-safe: the HTTP server answers each connection on its own thread and webhooks are
delivered from another.
"""

import dataclasses
import shutil
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lassodrop_local.emulator.jobs import Job

ALL_SCOPES = frozenset({"audio:separate", "files:write", "files:read", "models:read"})
ROUTES = frozenset(
    {"openapi", "models", "create_file", "get_file", "upload", "submit"}
    | {"status", "stream", "result", "output"}
)
_DEFAULT_CODES = {
    400: "INVALID_REQUEST",
    401: "UNAUTHENTICATED",
    402: "INSUFFICIENT_CREDITS",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "REQUEST_NOT_READY",
    410: "EXPIRED",
    413: "FILE_TOO_LARGE",
    429: "RATE_LIMITED",
    500: "INTERNAL_ERROR",
    502: "UPSTREAM_FAILED",
    503: "SERVICE_UNAVAILABLE",
}


@dataclass
class Timings:
    """Seconds. Job phases are short by default so tests finish fast; the CLI can slow them down."""

    queue_seconds: float = 0.05
    run_seconds: float = 0.05
    result_retention_seconds: float = 3600.0
    upload_url_ttl_seconds: float = 3600.0
    output_url_ttl_seconds: float = 3600.0
    stream_max_seconds: float = 60.0
    webhook_attempts: int = 3
    webhook_retry_seconds: float = 0.05


@dataclass
class FileRecord:
    file_id: str
    file_name: str
    content_type: str
    file_size: int
    purpose: str
    created_at: float
    upload_expires_at: float
    delete_after: float
    status: str = "pending_upload"
    path: Path | None = None


@dataclass(frozen=True)
class UploadRecord:
    file_id: str
    size: int
    sha256: str
    content_type: str
    headers: dict[str, str]
    authorization_sent: bool


@dataclass(frozen=True)
class RequestRecord:
    route: str
    method: str
    path: str
    status: int | None
    authorization_sent: bool


@dataclass(frozen=True)
class WebhookDelivery:
    request_id: str
    url: str
    attempt: int
    headers: dict[str, str]
    body: str
    status: int | None
    error: str | None


@dataclass(frozen=True)
class InjectedFailure:
    status: int
    code: str
    message: str
    retry_after: float | None = None
    process: bool = False


@dataclass
class _Controls:
    failures: dict[str, deque[InjectedFailure]] = field(default_factory=dict)
    upload_drops: deque[int] = field(default_factory=deque)
    output_drops: deque[int] = field(default_factory=deque)
    latency: dict[str | None, float] = field(default_factory=dict)
    failing_jobs: int = 0
    credits: int | None = None


class EmulatorState:
    """Records and controls. Inspection methods return copies, so callers can hold them safely."""

    def __init__(self, keys: dict[str, frozenset[str]], timings: Timings, storage_dir: Path) -> None:
        self._lock = threading.RLock()
        self._initial_keys, self._initial_timings = dict(keys), dataclasses.replace(timings)
        self.storage_dir = storage_dir
        self._clear()

    def _clear(self) -> None:
        self.keys: dict[str, frozenset[str]] = dict(self._initial_keys)
        self._revoked: dict[str, frozenset[str]] = {}
        self.timings = dataclasses.replace(self._initial_timings)
        self.files: dict[str, FileRecord] = {}
        self.jobs: dict[str, Job] = {}
        self._uploads: list[UploadRecord] = []
        self._submissions: list[dict[str, Any]] = []
        self._deliveries: list[WebhookDelivery] = []
        self._requests: list[RequestRecord] = []
        self._controls = _Controls()

    def reset(self) -> None:
        """Forget everything and undo every control, as if freshly started with the same options."""
        with self._lock:
            self._clear()
            for child in ("uploads", "outputs"):
                shutil.rmtree(self.storage_dir / child, ignore_errors=True)

    # Keys and timings.

    def add_key(self, key: str, scopes: frozenset[str] | set[str] = ALL_SCOPES) -> None:
        """Accept `key` with `scopes` (a revoked key is accepted again, with these scopes)."""
        checked = _scopes(scopes)
        with self._lock:
            self._revoked.pop(key, None)
            self.keys[key] = checked

    def revoke_key(self, key: str) -> None:
        """Answer 401 to `key` from now on, remembering its scopes for `restore_key`."""
        with self._lock:
            if key in self.keys:
                self._revoked[key] = self.keys.pop(key)

    def restore_key(self, key: str) -> None:
        """Accept a revoked key again, with the scopes it had; a key in use stays as it is."""
        with self._lock:
            if key in self._revoked:
                self.keys[key] = self._revoked.pop(key)
            elif key not in self.keys:
                raise ValueError(f"key {key!r} was never accepted, so it cannot be restored")

    def set_scopes(self, key: str, scopes: Iterable[str]) -> None:
        """Give `key` (accepted or revoked) exactly `scopes`: a missing one answers 403 PERMISSION_DENIED."""
        checked = _scopes(scopes)
        with self._lock:
            holder = self.keys if key in self.keys else self._revoked
            if key not in holder:
                raise ValueError(f"unknown key {key!r}; add it with add_key")
            holder[key] = checked

    def scopes_of(self, key: str) -> frozenset[str] | None:
        with self._lock:
            return self.keys.get(key)

    def set_timings(self, **changes: Any) -> None:
        """Change any `Timings` field; jobs take phase lengths when submitted, retention applies at once."""
        with self._lock:
            self.timings = dataclasses.replace(self.timings, **changes)

    # Credits.

    def set_credits(self, remaining: int | None) -> None:
        """Leave `remaining` credits; each accepted submit spends one, and with none left submits answer 402.

        None means unlimited, the default. 0 is an account that ran out.
        """
        if remaining is not None and (
            isinstance(remaining, bool) or not isinstance(remaining, int) or remaining < 0
        ):
            raise ValueError(f"remaining must be a whole number >= 0 or None (unlimited), not {remaining!r}")
        with self._lock:
            self._controls.credits = remaining

    def add_credits(self, count: int) -> None:
        """Give `count` more credits (an unlimited account stays unlimited)."""
        if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
            raise ValueError(f"count must be a whole number > 0, not {count!r}")
        with self._lock:
            if self._controls.credits is not None:
                self._controls.credits += count

    @property
    def credits(self) -> int | None:
        """Credits left, or None when unlimited."""
        with self._lock:
            return self._controls.credits

    def spend_credit(self) -> bool:
        """Spend one credit; False, spending nothing, when none are left."""
        with self._lock:
            if self._controls.credits is None:
                return True
            if self._controls.credits == 0:
                return False
            self._controls.credits -= 1
            return True

    # Misbehaviour.

    def fail_next(
        self,
        route: str,
        status: int,
        count: int = 1,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        process: bool = False,
    ) -> None:
        """Answer the next `count` calls of `route` with `status` instead of the real answer.

        With `process=True` the call still takes effect (a job is created, say) and only the answer is
        replaced: the lost-response case. The body of the refused call is not read.
        """
        if route not in ROUTES:
            raise ValueError(f"unknown route {route!r}; known: {sorted(ROUTES)}")
        failure = InjectedFailure(
            status,
            code or _DEFAULT_CODES.get(status, "INTERNAL_ERROR"),
            message or f"Injected failure ({status}).",
            retry_after,
            process,
        )
        with self._lock:
            self._controls.failures.setdefault(route, deque()).extend([failure] * count)

    def take_failure(self, route: str) -> InjectedFailure | None:
        with self._lock:
            queue = self._controls.failures.get(route)
            return queue.popleft() if queue else None

    def drop_upload_after(self, nbytes: int, count: int = 1) -> None:
        """Close the connection of the next `count` uploads after reading `nbytes`, without answering."""
        with self._lock:
            self._controls.upload_drops.extend([nbytes] * count)

    def drop_output_after(self, nbytes: int, count: int = 1) -> None:
        """Close the connection of the next `count` output downloads after sending `nbytes` of the body."""
        with self._lock:
            self._controls.output_drops.extend([nbytes] * count)

    def take_upload_drop(self) -> int | None:
        with self._lock:
            drops = self._controls.upload_drops
            return drops.popleft() if drops else None

    def take_output_drop(self) -> int | None:
        with self._lock:
            drops = self._controls.output_drops
            return drops.popleft() if drops else None

    def set_latency(self, seconds: float, route: str | None = None) -> None:
        """Delay every answer (or only those of `route`) by `seconds`; 0 removes the delay."""
        if route is not None and route not in ROUTES:
            raise ValueError(f"unknown route {route!r}")
        with self._lock:
            self._controls.latency[route] = seconds

    def latency_for(self, route: str) -> float:
        with self._lock:
            latency = self._controls.latency
            return latency.get(route, latency.get(None, 0.0))

    def fail_next_jobs(self, count: int = 1) -> None:
        """Make the next `count` submitted jobs FAIL with MODEL_FAILED, whatever their prompt."""
        with self._lock:
            self._controls.failing_jobs += count

    def take_job_failure(self) -> bool:
        with self._lock:
            if self._controls.failing_jobs <= 0:
                return False
            self._controls.failing_jobs -= 1
            return True

    def expire_upload_urls(self, file_id: str | None = None) -> None:
        """Make upload URLs already handed out (for one file, or all) answer 410 from now on."""
        now = time.time()
        with self._lock:
            for record in self.files.values():
                if file_id in (None, record.file_id):
                    record.upload_expires_at = min(record.upload_expires_at, now)

    def expire_output_urls(self, request_id: str | None = None) -> None:
        """Make output URLs already handed out (for one job, or all) answer 410 from now on."""
        now = time.time()
        with self._lock:
            for job in self.jobs.values():
                if request_id in (None, job.request_id):
                    job.outputs_expired_at = now

    # Records written by the server.

    def add_file(self, record: FileRecord) -> None:
        with self._lock:
            self.files[record.file_id] = record

    def get_file(self, file_id: str) -> FileRecord | None:
        with self._lock:
            return self.files.get(file_id)

    def record_upload(self, record: UploadRecord, path: Path) -> None:
        with self._lock:
            self._uploads.append(record)
            stored = self.files[record.file_id]
            stored.status, stored.path = "uploaded", path

    def add_job(self, job: Job, body: dict[str, Any]) -> None:
        with self._lock:
            self.jobs[job.request_id] = job
            self._submissions.append(body)

    def get_job(self, request_id: str) -> Job | None:
        with self._lock:
            return self.jobs.get(request_id)

    def record_delivery(self, delivery: WebhookDelivery) -> None:
        with self._lock:
            self._deliveries.append(delivery)

    def record_request(self, record: RequestRecord) -> None:
        with self._lock:
            self._requests.append(record)

    # Inspection.

    @property
    def uploads(self) -> list[UploadRecord]:
        """Accepted uploads: file_id, size, sha256, content_type, headers (Authorization redacted)."""
        with self._lock:
            return list(self._uploads)

    @property
    def submissions(self) -> list[dict[str, Any]]:
        """Request bodies of accepted submits, in order."""
        with self._lock:
            return [dict(body) for body in self._submissions]

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every delivery attempt with the receiver's answer (status, or the connection error)."""
        with self._lock:
            return list(self._deliveries)

    @property
    def requests(self) -> list[RequestRecord]:
        """Every call that reached a route, with its answer (None when the connection was dropped)."""
        with self._lock:
            return list(self._requests)

    def snapshot(self) -> dict[str, Any]:
        """Everything inspectable, as JSON-ready data (for the admin routes)."""
        with self._lock:
            return {
                "uploads": [dataclasses.asdict(u) for u in self._uploads],
                "submissions": self.submissions,
                "webhook_deliveries": [dataclasses.asdict(d) for d in self._deliveries],
                "requests": [dataclasses.asdict(r) for r in self._requests],
                "timings": dataclasses.asdict(self.timings),
                "credits": self._controls.credits,
            }


def _scopes(scopes: Iterable[str]) -> frozenset[str]:
    unknown = set(scopes) - ALL_SCOPES
    if unknown:
        raise ValueError(f"unknown scopes: {sorted(unknown)}")
    return frozenset(scopes)
