"""The job row store: one DynamoDB row per object version, the pipeline's idempotency guard.

Every write is conditional on the status it expects, so duplicate S3 events, redelivered messages, a webhook
racing a poll, or a worker that outlived its lease can never submit twice or move a finished job backwards.
Ingest claims a row for upload with a lease (`claim_upload`), fills it in, and records the submission; collect
and the webhook find rows by request id and move them on with `transition`. A worker's writes are fenced on
the token of the lease it holds (ingest's attempt number, collect's lease owner), so a worker that lost its
lease writes nothing.
"""

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

REQUEST_ID_INDEX = "by-request-id"
SOURCE_INDEX = "by-source"
# Error code of a row whose submit may have created a job at AudioLasso without its answer being recorded.
SUBMIT_UNCONFIRMED = "SUBMIT_UNCONFIRMED"


class Status(StrEnum):
    RECEIVED = "RECEIVED"
    UPLOADING = "UPLOADING"
    SUBMITTED = "SUBMITTED"
    COLLECTING = "COLLECTING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    REJECTED = "REJECTED"
    TIMED_OUT = "TIMED_OUT"
    EXPIRED = "EXPIRED"


TERMINAL = frozenset({Status.COMPLETED, Status.FAILED, Status.REJECTED, Status.TIMED_OUT, Status.EXPIRED})
# Rows past these states already hold a job at AudioLasso: ingest must never submit for them again.
SUBMITTED_OR_LATER = frozenset(
    {Status.SUBMITTED, Status.COLLECTING, Status.COMPLETED, Status.TIMED_OUT, Status.EXPIRED}
)


def object_id_for(bucket: str, key: str, *, version_id: str | None = None, etag: str | None = None) -> str:
    """The row key: the object's version when the bucket is versioned, else its ETag (bare, no quotes)."""
    if version_id:
        return f"{source_uri_for(bucket, key)}?version={version_id}"
    if etag:
        return f"{source_uri_for(bucket, key)}?etag={etag.strip(chr(34))}"
    raise ValueError("an object id needs a version id or an ETag")


def source_uri_for(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def iso_utc(epoch_seconds: float) -> str:
    moment = datetime.fromtimestamp(epoch_seconds, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Job:
    """A job row as read from the table (numbers as int, spans decoded); `item` keeps every attribute."""

    object_id: str
    status: Status
    bucket: str = ""
    key: str = ""
    version_id: str | None = None
    etag: str | None = None
    attempts: int = 0
    lease_until: int | None = None
    request_id: str | None = None
    status_url: str | None = None
    result_url: str | None = None
    webhook_token: str | None = None
    item: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> "Job":
        plain = _plain(item)
        return cls(
            object_id=plain["object_id"],
            status=Status(plain.get("status", Status.RECEIVED)),
            bucket=plain.get("bucket", ""),
            key=plain.get("key", ""),
            version_id=plain.get("version_id"),
            etag=plain.get("etag"),
            attempts=plain.get("attempts", 0),
            lease_until=plain.get("lease_until"),
            request_id=plain.get("request_id"),
            status_url=plain.get("status_url"),
            result_url=plain.get("result_url"),
            webhook_token=plain.get("webhook_token"),
            item=plain,
        )

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def spans(self) -> list[dict[str, Any]] | None:
        raw = self.item.get("spans")
        return json.loads(raw) if raw else None

    def get(self, name: str, default: Any = None) -> Any:
        return self.item.get(name, default)


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


class JobStore:
    """Conditional reads and writes of job rows (`table` is a boto3 DynamoDB Table resource)."""

    def __init__(self, table: Any, *, clock: Callable[[], float] = time.time) -> None:
        self._table = table
        self._clock = clock

    def get(self, object_id: str) -> Job | None:
        item = self._table.get_item(Key={"object_id": object_id}, ConsistentRead=True).get("Item")
        return Job.from_item(item) if item else None

    def find_by_request_id(self, request_id: str) -> Job | None:
        """The row holding this AudioLasso request id (the GSI is eventually consistent)."""
        response = self._table.query(
            IndexName=REQUEST_ID_INDEX, KeyConditionExpression=Key("request_id").eq(request_id), Limit=2
        )
        items = response.get("Items", [])
        return Job.from_item(items[0]) if items else None

    def find_by_source(self, bucket: str, key: str) -> list[Job]:
        """Every row for s3://bucket/key (all versions), newest first."""
        jobs: list[Job] = []
        query: dict[str, Any] = {
            "IndexName": SOURCE_INDEX,
            "KeyConditionExpression": Key("source_uri").eq(source_uri_for(bucket, key)),
            "ScanIndexForward": False,
        }
        while True:
            response = self._table.query(**query)
            jobs.extend(Job.from_item(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return jobs
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]

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

        Counts the attempt. Anything else (a live lease, a submitted or finished job, a submit that may have
        reached AudioLasso) is reported, not changed.
        """
        object_id = object_id_for(bucket, key, version_id=version_id, etag=etag)
        now = self._clock()
        identity = {"bucket": bucket, "key": key, "source_uri": source_uri_for(bucket, key)}
        identity |= {"version_id": version_id} if version_id else {}
        identity |= {"etag": etag} if etag else {}
        updated = self._update(
            object_id,
            sets={**identity, "status": Status.UPLOADING, "lease_until": int(now) + lease_seconds},
            first_time={"created_at": iso_utc(now), "expires_at_epoch": int(now) + ttl_days * 86_400},
            add={"attempts": 1},
            # A row whose submit was started is never taken over: see ClaimResult.SUBMIT_UNCONFIRMED.
            condition="attribute_not_exists(object_id) OR #status = :received OR (#status = :uploading"
            " AND lease_until < :now_epoch AND attribute_not_exists(submit_started_at))",
            values={":received": Status.RECEIVED, ":uploading": Status.UPLOADING, ":now_epoch": int(now)},
        )
        if updated is not None:
            return Claim(ClaimResult.CLAIMED, updated)
        return self._why_not_claimed(object_id, int(now))

    def _why_not_claimed(self, object_id: str, now_epoch: int) -> Claim:
        job = self.get(object_id)
        if job is None:  # deleted by TTL in between: vanishingly rare, and a retry will claim it
            raise ConcurrentChangeError(f"{object_id} changed while being claimed")
        if job.status in SUBMITTED_OR_LATER:
            return Claim(ClaimResult.ALREADY_SUBMITTED, job)
        if job.status in TERMINAL:
            return Claim(ClaimResult.FINISHED, job)
        if job.get("submit_started_at") and (job.lease_until or 0) < now_epoch:
            return Claim(ClaimResult.SUBMIT_UNCONFIRMED, job)
        return Claim(ClaimResult.LEASE_HELD, job)

    def record_details(self, object_id: str, *, attempt: int, details: Mapping[str, Any]) -> Job | None:
        """Store what was learnt about the object (size, type, prompt, token...) while holding the lease."""
        return self.transition(
            object_id, expected=[Status.UPLOADING], sets=details, fence={"attempts": attempt}
        )

    def mark_submit_started(self, object_id: str, *, attempt: int) -> Job | None:
        """Note, just before sending it, that a submit is on its way; None if this attempt lost the row.

        From here on the row is never claimed for upload again: only a clean refusal (`release_lease` with
        `submit_refused`) or the recorded request id clears the way.
        """
        return self.transition(
            object_id,
            expected=[Status.UPLOADING],
            sets={"submit_started_at": iso_utc(self._clock())},
            fence={"attempts": attempt},
        )

    def release_lease(self, object_id: str, *, attempt: int, submit_refused: bool = False) -> Job | None:
        """Let a retry reclaim at once after a retryable failure instead of waiting out the lease.

        `submit_refused`: the service answered the submit with a failure of its own, so no job exists and the
        submit marker is cleared in the same write (a row released with its marker set is never resubmitted).
        """
        return self.transition(
            object_id,
            expected=[Status.UPLOADING],
            sets={"lease_until": 0},
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
        return self.transition(
            object_id,
            expected=[Status.UPLOADING],
            to=Status.FAILED,
            sets={"error": {"code": SUBMIT_UNCONFIRMED, "message": message}, "reason": reason},
            remove=["lease_until"],
            fence=fence,
            condition="attribute_exists(submit_started_at) AND attribute_not_exists(request_id)",
        )

    def mark_submitted(
        self, object_id: str, *, file_id: str, request_id: str, status_url: str | None, result_url: str | None
    ) -> Job | None:
        """UPLOADING -> SUBMITTED with the request id; None if the row was no longer UPLOADING."""
        sets = {"file_id": file_id, "request_id": request_id, "submitted_at": iso_utc(self._clock())}
        sets |= {name: url for name, url in (("status_url", status_url), ("result_url", result_url)) if url}
        return self.transition(
            object_id, expected=[Status.UPLOADING], to=Status.SUBMITTED, sets=sets, remove=["lease_until"]
        )

    def mark_check_enqueued(self, object_id: str) -> Job | None:
        """Note that the first status check is queued, so a redelivery starts no second polling chain."""
        return self.transition(
            object_id, expected=SUBMITTED_OR_LATER, sets={"first_check_enqueued_at": iso_utc(self._clock())}
        )

    def mark_rejected(self, object_id: str, *, code: str, reason: str) -> Job | None:
        """UPLOADING -> REJECTED: bad input, terminal; `reason` is for the person who dropped the file."""
        return self.transition(
            object_id,
            expected=[Status.RECEIVED, Status.UPLOADING],
            to=Status.REJECTED,
            sets={"error": {"code": code, "message": reason}, "reason": reason},
            remove=["lease_until"],
        )

    def mark_failed(
        self,
        object_id: str,
        *,
        code: str,
        message: str,
        reason: str,
        expected: Iterable[Status] = (Status.RECEIVED, Status.UPLOADING),
    ) -> Job | None:
        """-> FAILED with the error AudioLasso (or the pipeline) gave; terminal."""
        return self.transition(
            object_id,
            expected=expected,
            to=Status.FAILED,
            sets={"error": {"code": code, "message": message}, "reason": reason},
            remove=["lease_until"],
        )

    def transition(
        self,
        object_id: str,
        *,
        expected: Iterable[Status],
        to: Status | None = None,
        sets: Mapping[str, Any] | None = None,
        remove: Iterable[str] = (),
        add: Mapping[str, int] | None = None,
        fence: Mapping[str, Any] | None = None,
        condition: str | None = None,
        values: Mapping[str, Any] | None = None,
    ) -> Job | None:
        """Update a row only if its status is one of `expected` (and `condition` holds); None when it was not.

        `to` sets the new status, `sets` attributes, `remove` drops attributes, `add` increments counters;
        `updated_at` is always refreshed. `fence` names attributes that must still hold the given values
        (the token of the lease the caller holds: ingest's `attempts`, collect's `lease_owner`). `condition`
        may use `values` placeholders and `#status`. Returns the row as written.
        """
        statuses = sorted(expected)
        placeholders = {f":expected{i}": status for i, status in enumerate(statuses)}
        fence = fence or {}
        checks = [f"#status IN ({', '.join(placeholders)})"]
        checks += [f"#fence{i} = :fence{i}" for i in range(len(fence))]
        checks += [f"({condition})"] if condition else []
        return self._update(
            object_id,
            sets={**(sets or {}), **({"status": to} if to else {})},
            remove=remove,
            add=add,
            condition=" AND ".join(checks),
            names={f"#fence{i}": name for i, name in enumerate(fence)},
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
        names: Mapping[str, str] | None = None,
        first_time: Mapping[str, Any] | None = None,
        add: Mapping[str, int] | None = None,
        remove: Iterable[str] = (),
    ) -> Job | None:
        expression = _UpdateExpression()
        expression.set_all({**sets, "updated_at": iso_utc(self._clock())})
        expression.set_if_absent(first_time or {})
        expression.increment(add or {})
        expression.remove(remove)
        try:
            response = self._table.update_item(
                Key={"object_id": object_id},
                UpdateExpression=expression.text(),
                ConditionExpression=condition,
                ExpressionAttributeNames={**expression.names, **(names or {}), "#status": "status"},
                ExpressionAttributeValues={
                    **expression.values,
                    **{k: _storable(v) for k, v in values.items()},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        return Job.from_item(response["Attributes"])


class ConcurrentChangeError(RuntimeError):
    """A row changed under us in a way a retry resolves (raised so the message is retried)."""


class _UpdateExpression:
    """Builds SET/REMOVE clauses with every attribute name aliased (status, key, size are reserved words)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._sets: list[str] = []
        self._removes: list[str] = []

    def _alias(self, name: str) -> str:
        alias = f"#a{len(self.names)}"
        self.names[alias] = name
        return alias

    def _value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = _storable(value)
        return placeholder

    def set_all(self, attributes: Mapping[str, Any]) -> None:
        for name, value in attributes.items():
            self._sets.append(f"{self._alias(name)} = {self._value(value)}")

    def set_if_absent(self, attributes: Mapping[str, Any]) -> None:
        for name, value in attributes.items():
            alias = self._alias(name)
            self._sets.append(f"{alias} = if_not_exists({alias}, {self._value(value)})")

    def increment(self, counters: Mapping[str, int]) -> None:
        for name, step in counters.items():
            alias = self._alias(name)
            self._sets.append(f"{alias} = if_not_exists({alias}, {self._value(0)}) + {self._value(step)}")

    def remove(self, names: Iterable[str]) -> None:
        self._removes.extend(self._alias(name) for name in names)

    def text(self) -> str:
        clauses = [f"SET {', '.join(self._sets)}"]
        if self._removes:
            clauses.append(f"REMOVE {', '.join(self._removes)}")
        return " ".join(clauses)


def _storable(value: Any) -> Any:
    # DynamoDB takes Decimal, not float; enums go in as their string value.
    if isinstance(value, StrEnum):
        return str(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {k: _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
