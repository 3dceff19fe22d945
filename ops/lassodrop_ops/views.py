"""A job row as an operator reads it: the fields that say what happened, and what to do next."""

from __future__ import annotations

import shlex
from typing import Any

from lassodrop.jobs import SUBMIT_UNCONFIRMED, TERMINAL, Job, Status

RETRYABLE = frozenset({Status.FAILED, Status.TIMED_OUT, Status.EXPIRED})


def summary(job: Job) -> dict[str, Any]:
    """The row for `--json` and the tables (the webhook token and leases left out)."""
    return {
        "object_id": job.object_id,
        "uri": job.source_uri,
        "version_id": job.version_id,
        "etag": job.etag,
        "status": str(job.status),
        "code": job.error.code if job.error else None,
        "reason": job.reason,
        "waiting_for": str(job.waiting_for) if job.waiting_for else None,
        "waiting_message": job.waiting_message,
        "last_cause": job.last_cause,
        "prompt": job.prompt,
        "prompt_source": job.prompt_source,
        "request_id": job.request_id,
        "attempts": job.attempts,
        "created_at": job.created_at,
        "submitted_at": job.submitted_at,
        "completed_at": job.completed_at,
        "collected_at": job.collected_at,
        "updated_at": job.updated_at,
        "outputs": output_uris(job),
        "history": [
            {
                "attempt": past.attempt,
                "status": past.status,
                "code": past.error.code if past.error else None,
                "reason": past.reason,
                "request_id": past.request_id,
                "ended_at": past.ended_at,
            }
            for past in job.history or []
        ],
        "next_step": next_step(job),
    }


def output_uris(job: Job) -> dict[str, str]:
    return {
        name: str(output.get("uri") or f"s3://{output.get('bucket')}/{output.get('key')}")
        for name, output in (job.outputs or {}).items()
    }


def next_step(job: Job) -> str:
    retry = f"lassodrop retry {shlex.quote(job.object_id)}"
    if job.error is not None and job.error.code == SUBMIT_UNCONFIRMED:
        return (
            "a job may exist at AudioLasso already: look for it there first; "
            f"`{retry} --force` submits again and may start a second paid job"
        )
    if job.status in RETRYABLE:
        return f"`{retry}` (add --prompt to change the prompt)"
    if job.status is Status.REJECTED:
        return "fix the input as the reason says and upload it again"
    if job.status is Status.COMPLETED:
        return "none: the outputs are in place"
    if job.status not in TERMINAL:
        return "none yet: in progress (run this again later)"
    return "none"
