"""The job row store: one DynamoDB row per object version, the pipeline's idempotency guard.

Every write is one of the named transitions below, conditional on the statuses `states.MOVES` allows it to
start from, so duplicate S3 events, redelivered messages, a webhook racing a poll, or a worker that outlived
its lease can never submit twice or move a finished job backwards. A worker's writes are fenced on the token
of the lease it holds (ingest's attempt number, collect's lease owner), so a worker that lost its lease
writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from lassodrop.jobs.expression import UpdateExpression
from lassodrop.jobs.row import (
    POINTER_ATTRIBUTES,
    SUBMIT_UNCONFIRMED,
    WAITING_ATTRIBUTES,
    Job,
    JobError,
    ObjectDetails,
    PastAttempt,
    Step,
    Waiting,
    WebhookPointer,
    object_id_for,
    source_uri_for,
    storable,
    stored_spans,
    webhook_key_for,
)
from lassodrop.jobs.states import MOVES, SUBMITTED_OR_LATER, TERMINAL, Status
from lassodrop.timestamps import epoch, iso

REQUEST_ID_INDEX = "by-request-id"
SOURCE_INDEX = "by-source"
STATUS_INDEX = "by-status"
# What belongs to one attempt and is cleared when a row is reopened (its summary goes to `history`).
_ATTEMPT_ATTRIBUTES = (
    "lease_until",
    "lease_owner",
    "webhook_token",
    "webhook_id",
    "webhook_checked_at",
    "submit_started_at",
    "file_id",
    "file_expires_at",
    "last_cause",
    "check_failures",
    "check_lease_until",
    "request_id",
    "submitted_at",
    "status_url",
    "result_url",
    "stream_url",
    "first_check_enqueued_at",
    "checks",
    "next_check_delay",
    "completed_at",
    "collected_at",
    "sample_rate",
    "outputs",
    "error",
    "reason",
    "event_published",
    "publish_lease_until",
    "event_id",
    "prompt_override",
)
# How long the writer of a terminal status has to publish its event before a redelivered check may.
PUBLISH_LEASE_SECONDS = 60
# How long one status read of a polling link may take before another copy of that link may take it over:
# collect's timeout, so a live reader never loses it and a dead one's link is taken over after it.
CHECK_LEASE_SECONDS = 300


class ConcurrentChangeError(RuntimeError):
    """A row changed under us in a way a retry resolves (raised so the message is retried)."""


class ClaimResult(StrEnum):
    CLAIMED = "CLAIMED"  # the caller now holds the upload lease and must upload and submit
    LEASE_HELD = "LEASE_HELD"  # another worker holds an unexpired lease: retry later
    ALREADY_SUBMITTED = "ALREADY_SUBMITTED"  # a job exists at AudioLasso for this object version
    FINISHED = "FINISHED"  # rejected or failed for good: nothing to do
    # A worker died mid-submit (lease ran out, submit started, no request id): a job may exist at AudioLasso,
    # so the row must be failed (`mark_submit_unconfirmed`), never uploaded and submitted again.
    SUBMIT_UNCONFIRMED = "SUBMIT_UNCONFIRMED"


@dataclass(frozen=True)
class Claim:
    result: ClaimResult
    job: Job


@dataclass(frozen=True)
class Ending:
    """What collect records when a job ends (`status` is one of states.COLLECT_TERMINAL)."""

    status: Status
    reason: str | None = None
    error: JobError | None = None
    outputs: dict[str, dict[str, Any]] | None = None
    completed_at: str | None = None
    collected_at: str | None = None
    sample_rate: int | None = None

    def attributes(self) -> dict[str, Any]:
        values = {
            "reason": self.reason,
            "error": self.error,
            "outputs": self.outputs,
            "completed_at": self.completed_at,
            "collected_at": self.collected_at,
            "sample_rate": self.sample_rate,
        }
        return {name: value for name, value in values.items() if value is not None}


class JobStore:
    """Reads and the named conditional writes of job rows (`table` is a boto3 DynamoDB Table resource)."""

    def __init__(self, table: Any, *, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock

    # Reads.

    def get(self, object_id: str) -> Job | None:
        item = self._table.get_item(Key={"object_id": object_id}, ConsistentRead=True).get("Item")
        return Job.from_item(item) if item else None

    def resolve_webhook(self, webhook_id: str) -> WebhookPointer | None:
        """The pointer a webhook URL's id names (one GetItem: all the webhook's role may do)."""
        key = webhook_key_for(webhook_id)
        item = self._table.get_item(Key={"object_id": key}, ConsistentRead=True).get("Item")
        return WebhookPointer.from_item(item) if item else None

    def find_by_request_id(self, request_id: str) -> Job | None:
        """The row holding this AudioLasso request id (the GSI is eventually consistent)."""
        response = self._table.query(
            IndexName=REQUEST_ID_INDEX, KeyConditionExpression=Key("request_id").eq(request_id), Limit=2
        )
        items = response.get("Items", [])
        return Job.from_item(items[0]) if items else None

    def find_by_source(self, bucket: str, key: str) -> list[Job]:
        """Every row for s3://bucket/key (all versions), newest first."""
        return self._query_all(SOURCE_INDEX, Key("source_uri").eq(source_uri_for(bucket, key)))

    def find_by_status(self, status: Status, *, since: str | None = None) -> list[Job]:
        """Every row in `status` created at or after `since` (ISO-8601), newest first (operations only)."""
        condition = Key("status").eq(str(status))
        if since:
            condition = condition & Key("created_at").gte(since)
        return self._query_all(STATUS_INDEX, condition)

    def _query_all(self, index: str, condition: Any) -> list[Job]:
        """Every row `condition` selects on `index`, newest first, following DynamoDB's pages."""
        jobs: list[Job] = []
        query: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ScanIndexForward": False,
        }
        while True:
            response = self._table.query(**query)
            jobs.extend(Job.from_item(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return jobs
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # Ingest's moves.

    def claim_upload(
        self,
        bucket: str,
        key: str,
        *,
        version_id: str | None,
        etag: str | None,
        lease_seconds: int,
        ttl_days: int,
    ) -> Claim:
        """Create the row, or take over one whose upload lease ran out, as UPLOADING leased to the caller.

        A row WAITING in the upload step is taken over too (it holds no lease), its waiting fields cleared.
        Counts the attempt. Anything else (a live lease, a submitted or finished job, a submit that may have
        reached AudioLasso) is reported, not changed.
        """
        object_id = object_id_for(bucket, key, version_id=version_id, etag=etag)
        now = self._clock()
        identity = {"bucket": bucket, "key": key, "source_uri": source_uri_for(bucket, key)}
        identity |= {"version_id": version_id} if version_id else {}
        identity |= {"etag": etag} if etag else {}
        updated = self._move(
            "claim_upload",
            object_id,
            or_new=True,
            sets={**identity, "lease_until": int(now) + lease_seconds},
            first_time={"created_at": iso(now), "expires_at_epoch": int(now) + ttl_days * 86_400},
            add={"attempts": 1},
            remove=WAITING_ATTRIBUTES,
            # A row whose submit was started is never taken over: see ClaimResult.SUBMIT_UNCONFIRMED.
            condition="#status = :received"
            " OR (#status = :waiting AND waiting_step = :upload)"
            " OR (#status = :uploading AND lease_until < :now AND attribute_not_exists(submit_started_at))",
            values={
                ":received": Status.RECEIVED,
                ":waiting": Status.WAITING,
                ":upload": Step.UPLOAD,
                ":uploading": Status.UPLOADING,
                ":now": int(now),
            },
        )
        if updated is not None:
            return Claim(ClaimResult.CLAIMED, updated)
        return self._why_not_claimed(object_id, int(now))

    def _why_not_claimed(self, object_id: str, now_epoch: int) -> Claim:
        job = self.get(object_id)
        if job is None:  # deleted by TTL in between: vanishingly rare, and a retry will claim it
            raise ConcurrentChangeError(f"{object_id} changed while being claimed")
        waits_in_collect = job.status is Status.WAITING and job.waiting_step is Step.COLLECT
        if job.status in SUBMITTED_OR_LATER or waits_in_collect:
            return Claim(ClaimResult.ALREADY_SUBMITTED, job)
        if job.status in TERMINAL:
            return Claim(ClaimResult.FINISHED, job)
        if job.submit_started_at and (job.lease_until or 0) < now_epoch:
            return Claim(ClaimResult.SUBMIT_UNCONFIRMED, job)
        return Claim(ClaimResult.LEASE_HELD, job)

    def create_webhook_pointer(self, webhook_id: str, object_id: str, *, ttl_days: int) -> WebhookPointer:
        """Write the pointer from a new webhook id to its row, before the row names it (see WebhookPointer).

        Never overwrites: an id already taken raises ConcurrentChangeError (with 128 random bits, it is not).
        """
        pointer = WebhookPointer(webhook_id, object_id, int(self._clock()) + ttl_days * 86_400)
        expression = UpdateExpression(POINTER_ATTRIBUTES)
        expression.set_all(pointer.attributes())
        try:
            self._table.update_item(
                Key={"object_id": pointer.key},
                UpdateExpression=expression.text(),
                ConditionExpression="attribute_not_exists(object_id)",
                ExpressionAttributeNames=expression.names,
                ExpressionAttributeValues=expression.values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConcurrentChangeError(f"webhook id {webhook_id} is taken") from exc
            raise
        return pointer

    def record_details(self, object_id: str, *, attempt: int, details: ObjectDetails) -> Job | None:
        """Store what was learnt about the object (size, type, prompt, token...) while holding the lease."""
        sets: dict[str, Any] = {
            "size": details.size,
            "content_type": details.content_type,
            "prompt": details.prompt,
            "prompt_source": details.prompt_source,
        }
        sets |= {"etag": details.etag} if details.etag else {}
        sets |= {"version_id": details.version_id} if details.version_id else {}
        sets |= {"spans": stored_spans(details.spans)} if details.spans else {}
        sets |= {"webhook_token": details.webhook_token} if details.webhook_token else {}
        sets |= {"webhook_id": details.webhook_id} if details.webhook_id else {}
        return self._move("record_details", object_id, sets=sets, fence={"attempts": attempt})

    def record_upload(
        self, object_id: str, *, attempt: int, file_id: str, file_expires_at: str
    ) -> Job | None:
        """Note the file AudioLasso now holds and until when, so a retry submits it instead of uploading."""
        sets = {"file_id": file_id, "file_expires_at": file_expires_at}
        return self._move("record_upload", object_id, sets=sets, fence={"attempts": attempt})

    def mark_submit_started(self, object_id: str, *, attempt: int) -> Job | None:
        """Note, just before sending it, that a submit is on its way; None if this attempt lost the row.

        From here on the row is never claimed for upload again: only a clean refusal (`release_lease` with
        `submit_refused`) or the recorded request id clears the way.
        """
        sets = {"submit_started_at": iso(self._clock())}
        return self._move("mark_submit_started", object_id, sets=sets, fence={"attempts": attempt})

    def release_lease(
        self, object_id: str, *, attempt: int, submit_refused: bool = False, cause: str | None = None
    ) -> Job | None:
        """Let a retry reclaim at once after a retryable failure instead of waiting out the lease.

        `submit_refused`: the service answered the submit with a failure of its own, so no job exists and the
        submit marker is cleared in the same write (a row released with its marker set is never resubmitted).
        `cause`: why this attempt failed, kept on the row as `last_cause`.
        """
        return self._move(
            "release_lease",
            object_id,
            sets={"lease_until": 0} | ({"last_cause": cause} if cause else {}),
            remove=["submit_started_at"] if submit_refused else (),
            fence={"attempts": attempt},
        )

    def mark_submit_unconfirmed(
        self, object_id: str, *, attempt: int, message: str, reason: str, lease_until: int | None = None
    ) -> Job | None:
        """UPLOADING with a started submit and no request id -> FAILED SUBMIT_UNCONFIRMED; terminal.

        Fenced on `attempt`, and on `lease_until` when given: the expired lease seen on the row of a worker
        that died mid-submit, so a worker that was only slow and recorded its submission in between wins.
        """
        fence: dict[str, Any] = {"attempts": attempt}
        fence |= {"lease_until": lease_until} if lease_until is not None else {}
        return self._move(
            "mark_submit_unconfirmed",
            object_id,
            sets={"error": JobError(SUBMIT_UNCONFIRMED, message), "reason": reason, **self._event_pending()},
            remove=["lease_until"],
            fence=fence,
            condition="attribute_exists(submit_started_at) AND attribute_not_exists(request_id)",
        )

    def mark_submitted(
        self,
        object_id: str,
        *,
        file_id: str,
        request_id: str,
        status_url: str | None,
        result_url: str | None,
        stream_url: str | None = None,
    ) -> Job | None:
        """UPLOADING -> SUBMITTED with the request id; None if the row was no longer UPLOADING."""
        sets = {"file_id": file_id, "request_id": request_id, "submitted_at": iso(self._clock())}
        urls = (("status_url", status_url), ("result_url", result_url), ("stream_url", stream_url))
        sets |= {name: url for name, url in urls if url}
        return self._move("mark_submitted", object_id, sets=sets, remove=["lease_until"])

    def mark_check_enqueued(self, object_id: str) -> Job | None:
        """Note that the first status check is queued, so a redelivery starts no second polling chain."""
        return self._move(
            "mark_check_enqueued", object_id, sets={"first_check_enqueued_at": iso(self._clock())}
        )

    def mark_rejected(self, object_id: str, *, code: str, reason: str) -> Job | None:
        """-> REJECTED: bad input, terminal; `reason` is for the person who dropped the file."""
        sets = {"error": JobError(code, reason), "reason": reason, **self._event_pending()}
        return self._move("mark_rejected", object_id, sets=sets, remove=["lease_until"])

    def mark_failed(self, object_id: str, *, code: str, message: str, reason: str) -> Job | None:
        """-> FAILED with the error AudioLasso (or the pipeline) gave, before any submit; terminal."""
        sets = {"error": JobError(code, message), "reason": reason, **self._event_pending()}
        return self._move("mark_failed", object_id, sets=sets, remove=["lease_until"])

    def wait_upload(
        self, object_id: str, *, attempt: int, waiting: Waiting, file_id: str | None = None
    ) -> Job | None:
        """UPLOADING -> WAITING in the upload step after account trouble; releases the lease.

        Keeps `file_id` (a finished upload) so the resumed row submits it without uploading again. The submit
        marker is cleared: a submit AudioLasso answered 401, 402 or 403 was refused before any job was
        created (nothing is billed or queued for an unauthenticated, unpaid or unpermitted call), so
        submitting again after the pause cannot make a second paid job.
        """
        sets = waiting.attributes(Step.UPLOAD, iso(self._clock()))
        sets |= {"file_id": file_id} if file_id else {}
        return self._move(
            "wait_upload",
            object_id,
            sets=sets,
            remove=["lease_until", "submit_started_at"],
            fence={"attempts": attempt},
        )

    # Collect's moves.

    def claim_check(self, object_id: str, link: int, now: datetime) -> Job | None:
        """Take link `link` of the job's polling chain: the row is at that link and nobody else reads it.

        One chain per job whatever arrives twice: a second copy of the same link finds the lease held (or the
        row a link further on) and is dropped, so no duplicate ever forks a second chain.
        """
        return self._move(
            "claim_check",
            object_id,
            sets={"check_lease_until": epoch(now) + CHECK_LEASE_SECONDS},
            condition=f"({_at_link(':link', link)})"
            " AND (attribute_not_exists(check_lease_until) OR check_lease_until < :now)",
            values={":link": link, ":now": epoch(now)},
        )

    def release_check(self, object_id: str, link: int) -> bool:
        """Hand link `link` back after a failure, so its redelivered copy may take it at once."""
        released = self._move(
            "release_check",
            object_id,
            remove=["check_lease_until"],
            condition=_at_link(":link", link),
            values={":link": link},
        )
        return released is not None

    def record_check(self, object_id: str, checks: int, delay: int) -> bool:
        """Count a status read that found the job unfinished (the chain's next link), and its delay.

        Fenced on the link before it, so only one reader of a link moves the chain on.
        """
        before = checks - 1
        sets = {"checks": checks, "next_check_delay": delay}
        moved = self._move(
            "record_check",
            object_id,
            sets=sets,
            remove=["check_lease_until"],
            condition=_at_link(":before", before),
            values={":before": before},
        )
        return moved is not None

    def take_webhook_check(self, object_id: str, now: datetime, interval_seconds: int) -> bool:
        """Take the job's one webhook-caused status read per `interval_seconds`; False if one was taken.

        The slot is taken before the read, so racing webhook checks make one read between them, and a read
        that then fails is not retried by its redelivery (a webhook is a hint; the poll chain still runs).
        """
        taken = self._move(
            "take_webhook_check",
            object_id,
            sets={"webhook_checked_at": epoch(now)},
            condition="attribute_not_exists(webhook_checked_at) OR webhook_checked_at < :cutoff",
            values={":cutoff": epoch(now) - interval_seconds},
        )
        return taken is not None

    def record_check_failure(self, object_id: str, cause: str) -> Job | None:
        """Count a check that failed retryably and keep why, so the row shows what the job is waiting out."""
        return self._move(
            "record_check_failure", object_id, sets={"last_cause": cause}, add={"check_failures": 1}
        )

    def claim_collect(self, object_id: str, owner: str, now: datetime, lease_seconds: int) -> bool:
        """SUBMITTED (or COLLECTING whose lease ran out) -> COLLECTING, leased to `owner`."""
        claimed = self._move(
            "claim_collect",
            object_id,
            sets={"lease_owner": owner, "lease_until": epoch(now) + lease_seconds},
            condition="#status = :submitted OR lease_until < :now",
            values={":submitted": Status.SUBMITTED, ":now": epoch(now)},
        )
        return claimed is not None

    def release_collect(self, object_id: str, owner: str, *, cause: str | None = None) -> bool:
        """COLLECTING -> SUBMITTED after a retryable failure, so the redelivered check can claim at once.

        `cause`: why the collection failed, kept on the row as `last_cause`.
        """
        released = self._move(
            "release_collect",
            object_id,
            sets={"last_cause": cause} if cause else None,
            remove=["lease_owner", "lease_until"],
            fence={"lease_owner": owner},
        )
        return released is not None

    def wait_collect(self, object_id: str, waiting: Waiting, now: datetime) -> Job | None:
        """SUBMITTED (or COLLECTING whose lease ran out) -> WAITING in the collect step: account trouble.

        Only status and result reads meet it, and they run before collect claims the row, so no live lease
        is ever taken away here. The chain link's check lease goes too: the parked link takes it again.
        """
        return self._move(
            "wait_collect",
            object_id,
            sets=waiting.attributes(Step.COLLECT, iso(now)),
            remove=["lease_owner", "lease_until", "check_lease_until"],
            condition="#status = :submitted OR lease_until < :now",
            values={":submitted": Status.SUBMITTED, ":now": epoch(now)},
        )

    def resume_collect(self, object_id: str) -> Job | None:
        """WAITING in the collect step -> SUBMITTED, its waiting fields cleared, to be checked at once."""
        return self._move(
            "resume_collect",
            object_id,
            remove=WAITING_ATTRIBUTES,
            condition="waiting_step = :collect",
            values={":collect": Step.COLLECT},
        )

    def finish(self, object_id: str, ending: Ending, now: datetime, *, owner: str | None) -> Job | None:
        """Write a terminal status; returns the new row, or None when another writer got there.

        Without `owner` the row must still be SUBMITTED, or COLLECTING under a lease that ran out (its worker
        died mid-copy: nobody else would ever end the job); with it, COLLECTING under our lease. The row is
        left `event_published = false` with a short publish lease held by the writer (see claim_publish).
        """
        sets = {**ending.attributes(), **self._event_pending(now)}
        if owner is None:
            fence: dict[str, Any] = {}
            condition = "#status = :submitted OR lease_until < :now"
            values: dict[str, Any] = {":submitted": Status.SUBMITTED, ":now": epoch(now)}
        else:
            fence, condition, values = (
                {"lease_owner": owner},
                "#status = :collecting",
                {":collecting": Status.COLLECTING},
            )
        return self._move(
            "finish",
            object_id,
            to=ending.status,
            sets=sets,
            remove=["lease_owner", "lease_until"],
            fence=fence,
            condition=condition,
            values=values,
        )

    def _event_pending(self, now: datetime | None = None) -> dict[str, Any]:
        """What every terminal write sets: its event is not yet published, and the writer may publish it."""
        moment = epoch(now) if now is not None else int(self._clock())
        return {"event_published": False, "publish_lease_until": moment + PUBLISH_LEASE_SECONDS}

    def claim_publish(self, object_id: str, now: datetime) -> Job | None:
        """Take over publishing a terminal row's event that its writer never confirmed (lease ran out)."""
        return self._move(
            "claim_publish",
            object_id,
            sets={"publish_lease_until": epoch(now) + PUBLISH_LEASE_SECONDS},
            condition="event_published = :false AND publish_lease_until < :now",
            values={":false": False, ":now": epoch(now)},
        )

    def mark_published(self, object_id: str, event_id: str) -> bool:
        """Record the event's id once it is on the bus; False if it was already recorded."""
        published = self._move(
            "mark_published",
            object_id,
            sets={"event_published": True, "event_id": event_id},
            remove=["publish_lease_until"],
            condition="event_published = :false",
            values={":false": False},
        )
        return published is not None

    # The operator's move.

    def reopen(self, job: Job, *, prompt_override: str | None = None, force: bool = False) -> Job | None:
        """A terminal row -> RECEIVED for a new attempt at the same object version, its last attempt kept.

        `job` is the row as the operator read it: the write is fenced on its `updated_at`, so the attempt
        appended to `history` is the one that ended, and two retries racing reopen it once. A row FAILED with
        SUBMIT_UNCONFIRMED may hold a paid job at AudioLasso already, so it is reopened only with `force`.
        None when refused (also while the ended attempt's event is being published: retry a moment later).
        Ingest then claims the RECEIVED row as if it were new (`claim_upload`).
        """
        if job.error is not None and job.error.code == SUBMIT_UNCONFIRMED and not force:
            return None
        ended = PastAttempt(
            attempt=job.attempts,
            status=str(job.status),
            error=job.error,
            reason=job.reason,
            request_id=job.request_id,
            prompt=job.prompt,
            submitted_at=job.submitted_at,
            completed_at=job.completed_at,
            ended_at=job.updated_at,
        )
        sets: dict[str, Any] = {"history": [*(job.history or []), ended]}
        sets |= {"prompt_override": prompt_override} if prompt_override else {}
        # Not while the ended attempt's event is being published (its writer's publish lease is live): the
        # reopened row would lose the state that publishing finishes on.
        condition = "NOT (event_published = :false AND publish_lease_until >= :now)"
        condition += "" if job.updated_at else " AND attribute_not_exists(updated_at)"
        return self._move(
            "reopen",
            job.object_id,
            sets=sets,
            remove=[name for name in _ATTEMPT_ATTRIBUTES if name not in sets],
            fence={"updated_at": job.updated_at} if job.updated_at else None,
            condition=condition,
            values={":false": False, ":now": int(self._clock())},
        )

    # The one conditional write.

    def _move(
        self,
        name: str,
        object_id: str,
        *,
        to: Status | None = None,
        or_new: bool = False,
        sets: Mapping[str, Any] | None = None,
        first_time: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        add: Mapping[str, int] | None = None,
        fence: Mapping[str, Any] | None = None,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Job | None:
        """Make move `name` (states.MOVES) if the row's status is one it starts from and the rest holds.

        `fence` names attributes that must still hold the given values (the caller's lease token);
        `condition` may use `values` placeholders and `#status`; `or_new` also allows a row that does not
        exist yet. Returns the row as written, or None when the condition failed.
        """
        move = MOVES[name]
        target = to or (move.target if isinstance(move.target, Status) else None)
        if target is not None and target not in _targets(move.target):
            raise ValueError(f"{name} cannot end in {target}")
        sources = sorted(move.sources)
        placeholders = {f":from{i}": status for i, status in enumerate(sources)}
        fence = fence or {}
        checks = [f"#status IN ({', '.join(placeholders)})"]
        checks += [f"#fence{i} = :fence{i}" for i in range(len(fence))]
        checks += [f"({condition})"] if condition else []
        written = " AND ".join(checks)
        return self._update(
            object_id,
            sets={**(sets or {}), **({"status": target} if target else {})},
            first_time=first_time,
            remove=remove,
            add=add,
            condition=f"attribute_not_exists(object_id) OR ({written})" if or_new else written,
            names={f"#fence{i}": attribute for i, attribute in enumerate(fence)},
            values={
                **placeholders,
                **{f":fence{i}": value for i, value in enumerate(fence.values())},
                **(values or {}),
            },
        )

    def _update(
        self,
        object_id: str,
        *,
        sets: Mapping[str, Any],
        condition: str,
        values: Mapping[str, Any],
        names: Mapping[str, str],
        first_time: Mapping[str, Any] | None,
        add: Mapping[str, int] | None,
        remove: Iterable[str],
    ) -> Job | None:
        expression = UpdateExpression()
        expression.set_all({**sets, "updated_at": iso(self._clock())})
        expression.set_if_absent(first_time or {})
        expression.increment(add or {})
        expression.remove(remove)
        try:
            response = self._table.update_item(
                Key={"object_id": object_id},
                UpdateExpression=expression.text(),
                ConditionExpression=condition,
                ExpressionAttributeNames={**expression.names, **names, "#status": "status"},
                ExpressionAttributeValues={
                    **expression.values,
                    **{k: storable(v) for k, v in values.items()},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        return Job.from_item(response["Attributes"])


def _at_link(placeholder: str, link: int) -> str:
    """The row's polling chain is at `link` (bound to `placeholder`); a row never checked is at link 0."""
    return f"checks = {placeholder}" if link else f"attribute_not_exists(checks) OR checks = {placeholder}"


def _targets(target: Status | frozenset[Status] | None) -> frozenset[Status]:
    if target is None:
        return frozenset()
    return frozenset({target}) if isinstance(target, Status) else target
