"""EventBridge events for downstream workflows: one per job end (`Separation Completed`, `Separation Failed`,
`Separation Rejected`), so no file ends without a trace outside the table.

Collect publishes the ends it writes; ingest publishes the ends it writes (rejected input, a refused or
unconfirmed submit). Each is guarded the same way: the terminal write leaves `event_published = false` with a
short publish lease, the writer publishes and records the event id, and a later delivery that finds the row
terminal and unconfirmed takes the lease over (claim_publish) and publishes it then.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from lassodrop.jobs import Job, JobStore, Status
from lassodrop.observability import logger

EVENT_SOURCE = "lassodrop"
COMPLETED = "Separation Completed"
FAILED = "Separation Failed"
REJECTED = "Separation Rejected"


class PublishError(Exception):
    """EventBridge accepted the call but not the entry (retryable: the message is redelivered)."""


class EventPublisher:
    def __init__(self, events_client: Any, bus_name: str) -> None:
        self._events = events_client
        self._bus = bus_name

    def publish(self, detail_type: str, detail: dict[str, Any]) -> str:
        """Put one event; returns its EventBridge id. PutEvents reports entry failures in the body."""
        response = self._events.put_events(
            Entries=[
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail, ensure_ascii=False),
                    "EventBusName": self._bus,
                }
            ]
        )
        entry = response["Entries"][0]
        if response.get("FailedEntryCount") or "EventId" not in entry:
            raise PublishError(f"{entry.get('ErrorCode')}: {entry.get('ErrorMessage')}")
        return str(entry["EventId"])


def detail_type_for(status: str) -> str:
    if status == Status.COMPLETED:
        return COMPLETED
    return REJECTED if status == Status.REJECTED else FAILED


def event_detail(job: Job) -> dict[str, Any]:
    """The event body: enough for a downstream workflow to act without reading the row.

    `dedup_id` is stable per job and outcome, so a consumer can drop the one duplicate a crash between
    PutEvents and recording it could leave. Ends before a submit have no request id and use the object's id.
    """
    outputs = job.outputs or {}
    return {
        "dedup_id": f"{job.request_id or job.object_id}:{job.status}",
        "object_id": job.object_id,
        "bucket": job.bucket,
        "key": job.key,
        "version_id": job.version_id,
        "request_id": job.request_id,
        "status": str(job.status),
        "prompt": job.prompt,
        "outputs": outputs,
        "result_uri": outputs.get("result", {}).get("uri"),
        "error": {"code": job.error.code, "message": job.error.message} if job.error else None,
        "reason": job.reason,
    }


class EndEvents:
    """Publishes a terminal row's event once, under the row's publish lease."""

    def __init__(self, publisher: EventPublisher, jobs: JobStore, clock: Callable[[], datetime]) -> None:
        self._publisher = publisher
        self._jobs = jobs
        self._clock = clock

    def publish(self, job: Job) -> None:
        """Publish the event of a row this worker just ended (it holds the publish lease)."""
        detail_type = detail_type_for(job.status)
        event_id = self._publisher.publish(detail_type, event_detail(job))
        self._jobs.mark_published(job.object_id, event_id)
        logger.info("event published", detail_type=detail_type, event_id=event_id)

    def publish_pending(self, job: Job) -> str:
        """Publish for a terminal row whose event was never confirmed (writer crashed or PutEvents failed)."""
        if job.event_published is not False:
            return "already-terminal"
        claimed = self._jobs.claim_publish(job.object_id, self._clock())
        if claimed is None:
            return "publish-in-progress"
        self.publish(claimed)
        return "published-pending"
