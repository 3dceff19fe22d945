"""The webhook receiver: authenticate the per-job token, then ask collect to look at the job now.

The URL carries `id`, the opaque id of the job's webhook pointer (lassodrop.jobs.WebhookPointer), and `token`:
never the bucket or key. The pointer and then the row are each one GetItem.

A webhook is only a hint. Its body (status, output URLs) is never read: collect confirms everything through
the status and result endpoints, so a forged or replayed call can at most cause one extra status read.
And at most one per job per WEBHOOK_CHECK_INTERVAL_SECONDS, however many valid calls come: collect takes a
conditional slot on the row before a webhook-caused read (JobStore.take_webhook_check) and drops the check
when it loses, and the receiver stops enqueueing once the row shows a slot taken within the interval.
Unknown jobs and wrong tokens get the same 403 answer, so the receiver cannot probe which objects exist.
Query parameters are bounded and checked before any read: the URL is public, and a value DynamoDB refuses (a
key over 2,048 bytes) would make GetItem raise and fire the function's error alarm at a stranger's will.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lassodrop.jobs import Job, JobStore, Status
from lassodrop.messages import (
    WEBHOOK_CHECK_INTERVAL_SECONDS,
    CheckMessage,
    CheckQueue,
    CheckReason,
    read_webhook_check_interval,
)
from lassodrop.observability import logger
from lassodrop.runtime import require

# Statuses at which ingest has stored a request id, so a check has something to read.
CHECKABLE = frozenset({Status.SUBMITTED, Status.COLLECTING})

# Tokens are secrets.token_urlsafe output (43 characters): URL-safe base64, with room for a longer one.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
# Webhook ids are secrets.token_urlsafe(16) output (22 characters).
WEBHOOK_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class WebhookConfig:
    jobs_table: str
    check_queue_url: str
    check_interval_seconds: int = WEBHOOK_CHECK_INTERVAL_SECONDS

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WebhookConfig:
        return cls(
            jobs_table=require(env, "JOBS_TABLE"),
            check_queue_url=require(env, "CHECK_QUEUE_URL"),
            check_interval_seconds=read_webhook_check_interval(env),
        )


@dataclass(frozen=True)
class Reply:
    status_code: int
    body: dict[str, Any]

    def to_function_url(self) -> dict[str, Any]:
        return {
            "statusCode": self.status_code,
            "headers": {"content-type": "application/json"},
            "body": json.dumps(self.body),
        }


def _refused(status_code: int, code: str, message: str) -> Reply:
    return Reply(status_code, {"error": {"code": code, "message": message}})


UNAUTHENTICATED = _refused(401, "UNAUTHENTICATED", "id and token query parameters are required")
FORBIDDEN = _refused(403, "FORBIDDEN", "unknown job or wrong token")
MALFORMED = _refused(400, "MALFORMED", "id or token is not a well-formed value")
METHOD_NOT_ALLOWED = _refused(405, "METHOD_NOT_ALLOWED", "webhooks are POSTed")


@dataclass
class WebhookReceiver:
    jobs: JobStore
    checks: CheckQueue
    check_interval_seconds: int = WEBHOOK_CHECK_INTERVAL_SECONDS
    clock: Callable[[], float] = time.time

    def handle(self, event: Mapping[str, Any]) -> Reply:
        """Answer one Function URL call (payload format 2.0)."""
        method = event.get("requestContext", {}).get("http", {}).get("method", "")
        if method.upper() != "POST":
            return METHOD_NOT_ALLOWED
        params = event.get("queryStringParameters") or {}
        webhook_id, token = params.get("id"), params.get("token")
        if not webhook_id or not token:
            return UNAUTHENTICATED
        if not _well_formed(webhook_id, token):
            logger.warning("webhook malformed", id_chars=len(webhook_id), token_chars=len(token))
            return MALFORMED
        row = self._row_for(webhook_id)
        if row is None or not _token_matches(row.webhook_token, token):
            logger.warning("webhook refused", webhook_id=webhook_id, known_job=row is not None)
            return FORBIDDEN
        logger.append_keys(object_key=row.key, request_id=row.request_id)
        return self._nudge(row)

    def _row_for(self, webhook_id: str) -> Job | None:
        """The row the id points to, if it still names that id (a retried upload leaves stale pointers)."""
        pointer = self.jobs.resolve_webhook(webhook_id)
        if pointer is None:
            return None
        row = self.jobs.get(pointer.points_to)
        return row if row is not None and row.webhook_id == webhook_id else None

    def _nudge(self, job: Job) -> Reply:
        if job.status not in CHECKABLE or not job.request_id:
            # Finished jobs need nothing; an unsubmitted one gets its first check from ingest.
            logger.info("webhook ignored", status=job.status)
            return Reply(200, {"status": "ignored", "job_status": str(job.status)})
        if self._checked_lately(job):
            # Collect would drop this check without a read; sending it would only cost an SQS message.
            logger.info("webhook throttled", webhook_checked_at=job.webhook_checked_at)
            return Reply(202, {"status": "throttled"})
        self.checks.send(CheckMessage(job.object_id, job.request_id, CheckReason.WEBHOOK))
        logger.info("webhook accepted, check enqueued")
        return Reply(202, {"status": "accepted"})

    def _checked_lately(self, job: Job) -> bool:
        """The complement of take_webhook_check's condition: a slot was taken within the interval."""
        last = job.webhook_checked_at
        return last is not None and last >= int(self.clock()) - self.check_interval_seconds


def _well_formed(webhook_id: str, token: str) -> bool:
    return WEBHOOK_ID_PATTERN.fullmatch(webhook_id) is not None and TOKEN_PATTERN.fullmatch(token) is not None


def _token_matches(expected: object, given: str) -> bool:
    if not isinstance(expected, str) or not expected:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
