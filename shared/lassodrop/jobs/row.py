"""The job row as one typed model: `Job.from_item` is the one way in from DynamoDB, `to_item` the one way out.

One row per object version, keyed on the object's version id (or its ETag on an unversioned bucket). Every
attribute the pipeline stores is a field here; the store refuses to write any other name.

The same table holds one more kind of item, `WebhookPointer`: the row a webhook URL names, under a random id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from decimal import Decimal
from enum import StrEnum
from typing import Any

from lassodrop.jobs.states import TERMINAL, Status

# Error code of a row whose submit may have created a job at AudioLasso without its answer being recorded.
SUBMIT_UNCONFIRMED = "SUBMIT_UNCONFIRMED"


def object_id_for(bucket: str, key: str, *, version_id: str | None = None, etag: str | None = None) -> str:
    """The row key: the object's version when the bucket is versioned, else its ETag (bare, no quotes)."""
    if version_id:
        return f"{source_uri_for(bucket, key)}?version={version_id}"
    if etag:
        return f"{source_uri_for(bucket, key)}?etag={etag.strip(chr(34))}"
    raise ValueError("an object id needs a version id or an ETag")


def source_uri_for(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


@dataclass(frozen=True)
class JobError:
    """Why a row ended badly: a code (AudioLasso's, or the pipeline's) and its message."""

    code: str
    message: str


class WaitingFor(StrEnum):
    """What a WAITING row needs from the account owner, from the status AudioLasso answered."""

    API_KEY = "api key"  # 401
    CREDITS = "credits"  # 402
    PERMISSION = "permission"  # 403: the key lacks a scope


class Step(StrEnum):
    """Where a WAITING row goes on: ingest's upload and submit, or collect's status checks."""

    UPLOAD = "upload"
    COLLECT = "collect"


@dataclass(frozen=True)
class Waiting:
    """Why a row waits: what for, and the provider's message (shortened to WAITING_MESSAGE_CHARS)."""

    waiting_for: WaitingFor
    message: str

    def attributes(self, step: Step, since: str) -> dict[str, Any]:
        return {
            "waiting_for": self.waiting_for,
            "waiting_message": self.message[:WAITING_MESSAGE_CHARS],
            "waiting_since": since,
            "waiting_step": step,
        }


WAITING_MESSAGE_CHARS = 300
WAITING_ATTRIBUTES = ("waiting_for", "waiting_message", "waiting_since", "waiting_step")


@dataclass(frozen=True)
class PastAttempt:
    """How an earlier attempt at the same object version ended, kept on the row when it is reopened."""

    attempt: int
    status: str
    error: JobError | None = None
    reason: str | None = None
    request_id: str | None = None
    prompt: str | None = None
    submitted_at: str | None = None
    completed_at: str | None = None
    ended_at: str | None = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> PastAttempt:
        known = {f.name for f in fields(cls)}
        plain = {name: value for name, value in item.items() if name in known}
        if isinstance(plain.get("error"), Mapping):
            plain["error"] = JobError(
                str(plain["error"].get("code", "")), str(plain["error"].get("message", ""))
            )
        return cls(**plain)


@dataclass(frozen=True)
class ObjectDetails:
    """What ingest learns about the object while it holds the upload lease."""

    size: int
    content_type: str
    prompt: str
    prompt_source: str
    etag: str | None = None
    version_id: str | None = None
    spans: list[dict[str, Any]] | None = None
    webhook_token: str | None = None
    webhook_id: str | None = None


@dataclass(frozen=True)
class Job:
    """One job row. Times are ISO-8601 strings as stored (lassodrop.timestamps); leases are epoch seconds."""

    object_id: str
    status: Status = Status.RECEIVED
    # the object
    bucket: str = ""
    key: str = ""
    source_uri: str | None = None
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    content_type: str | None = None
    prompt: str | None = None
    prompt_source: str | None = None
    spans: list[dict[str, Any]] | None = None
    # the row's own bookkeeping
    created_at: str | None = None
    updated_at: str | None = None
    expires_at_epoch: int | None = None
    attempts: int = 0
    lease_until: int | None = None
    lease_owner: str | None = None
    # Why the last retried attempt failed, in a few words (e.g. "AudioLasso unreachable: connection refused").
    last_cause: str | None = None
    # the job at AudioLasso
    webhook_token: str | None = field(default=None, repr=False)
    webhook_id: str | None = None  # the id the webhook URL carries (see WebhookPointer)
    submit_started_at: str | None = None
    file_id: str | None = None
    # Until when the uploaded `file_id` can be submitted (ISO-8601): a retry reuses the file till then.
    file_expires_at: str | None = None
    request_id: str | None = None
    submitted_at: str | None = None
    status_url: str | None = None
    result_url: str | None = None
    stream_url: str | None = None
    first_check_enqueued_at: str | None = None
    checks: int = 0
    check_failures: int = 0  # status checks that failed retryably (their cause is `last_cause`)
    next_check_delay: int | None = None
    # Held by the worker reading the status for link `checks` of the polling chain (see claim_check).
    check_lease_until: int | None = None
    webhook_checked_at: int | None = None  # epoch seconds of the last status read a webhook caused
    # its end
    completed_at: str | None = None
    collected_at: str | None = None
    sample_rate: int | None = None
    outputs: dict[str, dict[str, Any]] | None = None
    error: JobError | None = None
    reason: str | None = None
    event_published: bool | None = None
    publish_lease_until: int | None = None
    event_id: str | None = None
    # account trouble (status WAITING; see lassodrop.waiting)
    waiting_for: WaitingFor | None = None
    waiting_message: str | None = None
    waiting_since: str | None = None
    waiting_step: Step | None = None
    # earlier attempts (`JobStore.reopen`), oldest first, and the prompt an operator asked the next one to use
    history: list[PastAttempt] | None = None
    prompt_override: str | None = None

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Job:
        """The row as DynamoDB returned it (numbers as Decimal, spans as JSON text)."""
        plain = {name: _plain(value) for name, value in item.items() if name in ATTRIBUTES}
        plain["status"] = Status(plain.get("status", Status.RECEIVED))
        if isinstance(plain.get("error"), Mapping):
            plain["error"] = JobError(
                str(plain["error"].get("code", "")), str(plain["error"].get("message", ""))
            )
        for name, kind in (("waiting_for", WaitingFor), ("waiting_step", Step)):
            if plain.get(name) is not None:
                plain[name] = kind(plain[name])
        if isinstance(plain.get("history"), list):
            plain["history"] = [PastAttempt.from_item(entry) for entry in plain["history"]]
        if isinstance(plain.get("spans"), str):
            plain["spans"] = json.loads(plain["spans"])
        return cls(**plain)

    def to_item(self) -> dict[str, Any]:
        """The row as DynamoDB stores it: set attributes only, in storable types."""
        item = {name: storable(getattr(self, name)) for name in ATTRIBUTES if getattr(self, name) is not None}
        if self.spans:
            item["spans"] = stored_spans(self.spans)
        return item

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL


ATTRIBUTES = frozenset(f.name for f in fields(Job))

# Pointer keys start with a character no row key has (row keys are s3:// URIs), so the two never collide.
WEBHOOK_KEY_PREFIX = "hook#"


@dataclass(frozen=True)
class WebhookPointer:
    """Webhook id -> row key, so the URL sent to AudioLasso names neither bucket nor key.

    A random id needs a lookup to find its row, and the public webhook's role may only GetItem (a Query on an
    index would let it read other jobs' rows): hence an item of its own, keyed `hook#<id>`, that one GetItem
    resolves. It expires with its row. Ingest writes it before the row names it; the row keeps the id too,
    so a pointer left by an attempt that was taken over (its row now names another id) authenticates nothing.
    """

    webhook_id: str
    points_to: str
    expires_at_epoch: int

    @property
    def key(self) -> str:
        return webhook_key_for(self.webhook_id)

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> WebhookPointer:
        return cls(
            webhook_id=str(item["object_id"]).removeprefix(WEBHOOK_KEY_PREFIX),
            points_to=str(item["points_to"]),
            expires_at_epoch=int(item["expires_at_epoch"]),
        )

    def attributes(self) -> dict[str, Any]:
        """The item's attributes besides its key."""
        return {name: getattr(self, name) for name in POINTER_ATTRIBUTES}


# The pointer's stored attributes besides its key (`object_id`, which holds the id).
POINTER_ATTRIBUTES = frozenset(f.name for f in fields(WebhookPointer)) - {"webhook_id"}


def webhook_key_for(webhook_id: str) -> str:
    return f"{WEBHOOK_KEY_PREFIX}{webhook_id}"


def is_webhook_key(object_id: str) -> bool:
    return object_id.startswith(WEBHOOK_KEY_PREFIX)


def storable(value: Any) -> Any:
    """A value as DynamoDB takes it: Decimal for floats, strings for enums, JSON text for spans."""
    if isinstance(value, StrEnum):
        return str(value)
    if isinstance(value, JobError):
        return asdict(value)
    if isinstance(value, PastAttempt):
        return {name: storable(v) for name, v in asdict(value).items() if v is not None}
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, Mapping):
        return {k: storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def stored_spans(spans: list[dict[str, Any]] | None) -> str | None:
    # Kept as JSON text: DynamoDB would turn the span numbers into Decimals, and the API wants them as sent.
    return json.dumps(spans) if spans else None


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
