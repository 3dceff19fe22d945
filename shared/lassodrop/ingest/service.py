"""What ingest does with one created object: claim its job row, check it, relay it, submit it, queue a check.

Terminal problems (bad input, an object that is gone, a 4xx from AudioLasso) are recorded on the job row and
returned; retryable ones (network, 5xx, throttling) are raised, so only that SQS message fails and is
redelivered, and lands in the DLQ if it keeps failing. Account trouble (401, 402, 403) is neither: the row
waits and the object's message is parked (lassodrop.waiting).

The API has no idempotency key, so a submit that may have reached AudioLasso is never sent again: the row
notes the submit before it is sent, and a submit with no usable answer (or a worker that died during it) ends
the row FAILED with SUBMIT_UNCONFIRMED instead of risking a second paid job.
"""

import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import urlencode

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lassodrop.audiolasso import AudioLassoClient, AudioLassoError, InvalidInputError
from lassodrop.audiolasso.errors import Call, ExpiredError, NotFoundError, Verdict, classify
from lassodrop.audiolasso.models import Submission, Upload
from lassodrop.events import EndEvents, EventPublisher
from lassodrop.ingest.config import IngestConfig
from lassodrop.ingest.events import ObjectRef, notification_body, parse_event, parse_message_body
from lassodrop.ingest.outcomes import Outcome, OutcomeRecorder
from lassodrop.ingest.prompts import PromptChoice, choose_prompt
from lassodrop.ingest.rejections import RejectCode, Rejection
from lassodrop.ingest.relay import ObjectHead, PinnedObject, S3Objects, relay
from lassodrop.ingest.validation import SNIFF_BYTES, check_output_keys, check_size, resolve_content_type
from lassodrop.jobs import (
    ClaimResult,
    ConcurrentChangeError,
    Job,
    JobStore,
    ObjectDetails,
    Status,
    Step,
    Waiting,
    object_id_for,
)
from lassodrop.jobs.breaker import BreakerStore
from lassodrop.messages import CheckMessage, CheckQueue, CheckReason
from lassodrop.observability import logger, metrics
from lassodrop.redelivery import transient_trouble
from lassodrop.runtime import AwsClients, ClientFactory
from lassodrop.timestamps import iso, parse_iso, utcnow
from lassodrop.waiting import Gate, Passage, Pauses, call_with_fresh_key, never_refreshes, waiting_of

# A recorded upload is reused by a retry only while it has this much life left: room for the submit (and
# the client's own retries of the calls before it) to reach AudioLasso well before the file can expire.
FILE_REUSE_MARGIN_SECONDS = 300
_OBJECT_LOG_KEYS = ("bucket", "object_key", "version_id", "object_id", "request_id", "attempt")


class RecordsFailedError(RuntimeError):
    """Some objects of one message or event failed retryably; the whole message is retried."""


class WebhookCredentials(NamedTuple):
    """What the webhook URL carries: the opaque id of the job's pointer and the job's secret token."""

    webhook_id: str
    token: str


class SubmitUnconfirmedError(Exception):
    """A submit may have created a job at AudioLasso, but no usable answer came back (`error` says how)."""

    def __init__(self, error: AudioLassoError) -> None:
        super().__init__(str(error))
        self.error = error


class AccountTroubleError(Exception):
    """AudioLasso refused the account (key, credits, scope); `file_id` is the finished upload, if any."""

    def __init__(self, waiting: Waiting, file_id: str | None) -> None:
        super().__init__(f"{waiting.waiting_for}: {waiting.message}")
        self.waiting = waiting
        self.file_id = file_id


@dataclass(frozen=True)
class IngestQueue:
    """The ingest function's own queue, where an object waiting for the account is parked."""

    sqs: Any
    queue_url: str

    def park(self, ref: ObjectRef, delay_seconds: int) -> None:
        self.sqs.send_message(
            QueueUrl=self.queue_url, MessageBody=notification_body(ref), DelaySeconds=delay_seconds
        )


@dataclass
class IngestService:
    config: IngestConfig
    jobs: JobStore
    objects: S3Objects
    checks: CheckQueue
    client: Callable[[], AudioLassoClient]
    publisher: EventPublisher
    queue: IngestQueue
    pauses: Pauses
    refresh_key: Callable[[], bool] = never_refreshes
    new_token: Callable[[], str] = lambda: secrets.token_urlsafe(32)
    clock: Callable[[], datetime] = utcnow
    # Not a secret (the token is), but random, so the URL says nothing about the object.
    new_webhook_id: Callable[[], str] = lambda: secrets.token_urlsafe(16)
    outcomes: OutcomeRecorder = field(init=False)

    def __post_init__(self) -> None:
        self.outcomes = OutcomeRecorder(self.jobs, EndEvents(self.publisher, self.jobs, self.clock))

    def handle_message(self, record: SQSRecord) -> list[Outcome]:
        """Record handler for the SQS batch processor: every object in the message body."""
        return self.process_all(parse_message_body(record.body))

    def handle_direct(self, event: Mapping[str, Any]) -> list[Outcome]:
        """A direct invocation with an S3 notification or an EventBridge event."""
        return self.process_all(parse_event(event))

    def process_all(self, refs: Iterable[ObjectRef]) -> list[Outcome]:
        """Process every object, even after one fails, then raise if any failed retryably."""
        outcomes: list[Outcome] = []
        failures: list[Exception] = []
        for ref in refs:
            try:
                outcomes.append(self.process(ref))
            except Exception as exc:  # re-raised below, after the other objects had their turn
                failures.append(exc)
        if len(failures) == 1 and not outcomes:
            raise failures[0]
        if failures:
            raise RecordsFailedError(f"{len(failures)} object(s) failed and will be retried") from failures[0]
        return outcomes

    def process(self, ref: ObjectRef) -> Outcome:
        with _object_log_context(ref):
            try:
                return self._process(ref)
            except Exception as exc:
                trouble = transient_trouble(exc)
                if trouble is None:
                    logger.exception("object failed; it will be retried")
                else:  # expected now and then, and retried in minutes: the cause, not a traceback
                    logger.warning(trouble.summary, cause=trouble.cause)
                raise

    def _process(self, ref: ObjectRef) -> Outcome:
        if ref.is_folder or not ref.key.startswith(self.config.input_prefix):
            logger.info("object skipped", why="folder key" if ref.is_folder else "outside the input prefix")
            metrics.add_metric(name="ObjectsSkipped", unit=MetricUnit.Count, value=1)
            return Outcome.SKIPPED
        metrics.add_metric(name="ObjectsReceived", unit=MetricUnit.Count, value=1)
        try:
            obj = self._pin(ref)
        except Rejection as rejection:  # an event naming neither version nor ETag, for a deleted object
            logger.warning("object gone before it had a row", code=rejection.code, reason=rejection.reason)
            return Outcome.REJECTED
        passage = self.pauses.gate(Step.UPLOAD)
        was_waiting = passage.gate is not Gate.GO and self._is_waiting(obj)
        if passage.held_for is not None and was_waiting:
            logger.info("object still waits for the AudioLasso account; parked again")
            self.queue.park(ref, self.config.park_delay_seconds)
            return Outcome.WAITING
        claim = self.jobs.claim_upload(
            obj.bucket,
            obj.key,
            version_id=obj.version_id,
            etag=obj.etag,
            lease_seconds=self.config.upload_lease_seconds,
            ttl_days=self.config.job_ttl_days,
        )
        logger.append_keys(object_id=claim.job.object_id, attempt=claim.job.attempts)
        logger.set_correlation_id(claim.job.object_id)
        if claim.result is ClaimResult.LEASE_HELD:
            # Another worker is uploading this very version. Its own message stays on the queue until it
            # succeeds (or comes back if that worker dies), so this copy is only a duplicate: acknowledge it.
            logger.info(
                "object is being uploaded by another worker; duplicate dropped", lease=claim.job.lease_until
            )
            return Outcome.DUPLICATE
        if claim.result is ClaimResult.ALREADY_SUBMITTED:
            return self._ensure_first_check(claim.job)
        if claim.result is ClaimResult.FINISHED:
            logger.info("object already finished; skipping", status=claim.job.status)
            self.outcomes.publish_pending(claim.job)
            return Outcome.DUPLICATE
        if claim.result is ClaimResult.SUBMIT_UNCONFIRMED:
            return self.outcomes.fail_interrupted_submit(claim.job)
        if passage.held_for is not None:
            held = AccountTroubleError(passage.held_for, None)
            return self._wait(claim.job, ref, held, counted=False, met=False)
        return self._ingest(claim.job, obj, ref, passage, was_waiting=was_waiting)

    def _is_waiting(self, obj: PinnedObject) -> bool:
        job = self.jobs.get(object_id_for(obj.bucket, obj.key, version_id=obj.version_id, etag=obj.etag))
        return job is not None and job.status is Status.WAITING and job.waiting_step is Step.UPLOAD

    def _pin(self, ref: ObjectRef) -> PinnedObject:
        if ref.version_id or ref.etag:
            return PinnedObject(ref.bucket, ref.key, ref.version_id, ref.etag)
        # A hand-made event without version or ETag: pin whatever is there now.
        head = self.objects.head(PinnedObject(ref.bucket, ref.key))
        return PinnedObject(ref.bucket, ref.key, head.version_id, head.etag)

    def _ingest(
        self, job: Job, obj: PinnedObject, ref: ObjectRef, passage: Passage, *, was_waiting: bool
    ) -> Outcome:
        try:
            submission = self._upload_and_submit(job, obj)
        except AccountTroubleError as trouble:
            return self._wait(job, ref, trouble, counted=was_waiting)
        except Rejection as rejection:
            return self.outcomes.reject(job, rejection)
        except InvalidInputError as error:  # the client's own pre-check: bad input, not a service failure
            return self.outcomes.reject(job, Rejection(RejectCode.INVALID_INPUT, error.message))
        except SubmitUnconfirmedError as unconfirmed:
            return self.outcomes.fail_unanswered_submit(job, unconfirmed.error)
        except AudioLassoError as error:
            if classify(error) in (Verdict.RETRY, Verdict.RETRY_LATER):
                # A submit error that gets here is the service saying it did not take the job (500, 502, or
                # 429/503 and a connection that never opened, after the client's own retries); an unknown
                # outcome was raised as SubmitUnconfirmedError above. So the redelivery may submit again.
                self.outcomes.release(job, submit_refused=True, cause=transient_trouble(error))
                raise
            return self.outcomes.fail(job, error)
        except BaseException:
            # Whatever this was, a submit marker set before it stays: the row is then never resubmitted.
            self.outcomes.release(job)
            raise
        if passage.gate is Gate.PROBE:
            self.pauses.went_on()
        if submission is None:
            return Outcome.DUPLICATE
        self._enqueue_first_check(submission)
        return Outcome.SUBMITTED

    def _wait(
        self, job: Job, ref: ObjectRef, trouble: AccountTroubleError, *, counted: bool, met: bool = True
    ) -> Outcome:
        """Pause the object for account trouble: its row waits, the breaker opens, its message is parked.

        `counted`: it was waiting already (a probe that failed again), so it is not counted as a new one;
        `met`: AudioLasso refused this very object (not held by the breaker without a call).
        """
        waited = self.jobs.wait_upload(
            job.object_id, attempt=job.attempts, waiting=trouble.waiting, file_id=trouble.file_id
        )
        if waited is None:
            raise ConcurrentChangeError(f"{job.object_id} was taken over by another worker")
        self.pauses.started_waiting(trouble.waiting, Step.UPLOAD, counted=counted, met=met)
        # Acknowledged once parked: a wait must never count towards the queue's maxReceiveCount (DLQ).
        self.queue.park(ref, self.config.park_delay_seconds)
        logger.info("object waits; its message is parked", delay_seconds=self.config.park_delay_seconds)
        return Outcome.WAITING

    def _upload_and_submit(self, job: Job, obj: PinnedObject) -> Job | None:
        head = self.objects.head(obj)
        obj = _pin_version(obj, head)
        check_size(head.size)
        check_output_keys(self.config.output_prefix, obj.key, obj.version_id, head.etag)
        content_type = resolve_content_type(
            head.content_type, obj.key, lambda: self.objects.read_head(obj, SNIFF_BYTES)
        )
        choice = choose_prompt(
            obj.key,
            head.metadata,
            self.config.prefix_prompts,
            self.config.default_prompt,
            override=job.prompt_override,
        )
        webhook = self._new_webhook(job)
        self._record_details(job, obj, head, content_type, choice, webhook)
        # A file an earlier attempt uploaded (refused submit, account trouble) is submitted again while valid.
        reused = self._reusable_file(job)
        file_id = reused or self._relay(job, obj, content_type, head.size)
        try:
            submission = self._submit(job, choice, file_id, webhook)
        except (NotFoundError, ExpiredError) as error:
            if reused is None:
                raise
            # The service lost the file early (its retention is not published): it took no job, so one fresh
            # upload and submit is safe. The submit marker stays set meanwhile: a worker dying now ends the
            # row as unconfirmed, the safe side.
            logger.info(
                "recorded upload unknown at submit; uploading again", file_id=reused, error=str(error)
            )
            file_id = self._relay(job, obj, content_type, head.size)
            submission = self._submit(job, choice, file_id, webhook)
        return self._record_submission(job, file_id, submission)

    def _reusable_file(self, job: Job) -> str | None:
        """The file an earlier attempt uploaded, while it has FILE_REUSE_MARGIN_SECONDS of life left."""
        expires = parse_iso(job.file_expires_at)
        if not job.file_id or expires is None:
            return None
        if (expires - self.clock()).total_seconds() < FILE_REUSE_MARGIN_SECONDS:
            logger.info(
                "recorded upload too close to expiry; uploading again", file_expires_at=job.file_expires_at
            )
            return None
        logger.info("reusing the recorded upload", file_id=job.file_id, file_expires_at=job.file_expires_at)
        metrics.add_metric(name="UploadsReused", unit=MetricUnit.Count, value=1)
        return job.file_id

    def _relay(self, job: Job, obj: PinnedObject, content_type: str, size: int) -> str:
        """Upload the object and record the file and its expiry on the row, for a retry to reuse."""
        try:
            result = call_with_fresh_key(
                self.client,
                self.refresh_key,
                lambda client: relay(client, self.objects, obj, content_type=content_type, size=size),
            )
        except AudioLassoError as error:
            waiting = waiting_of(error)
            if waiting is None:
                raise
            raise AccountTroubleError(waiting, None) from error
        metrics.add_metric(name="BytesRelayed", unit=MetricUnit.Bytes, value=result.bytes_sent)
        metrics.add_metric(name="RelaySeconds", unit=MetricUnit.Seconds, value=result.seconds)
        logger.info(
            "upload finished", bytes=result.bytes_sent, seconds=round(result.seconds, 3), opens=result.opens
        )
        upload, expires = result.upload, file_expiry(result.upload)
        if expires is None:
            logger.warning(
                "upload expiry unreadable; a retry will upload again", expires_at=upload.expires_at
            )
        elif (
            self.jobs.record_upload(
                job.object_id, attempt=job.attempts, file_id=upload.file_id, file_expires_at=expires
            )
            is None
        ):
            raise ConcurrentChangeError(f"{job.object_id} was taken over by another worker")
        return upload.file_id

    def _new_webhook(self, job: Job) -> WebhookCredentials | None:
        """With webhooks on, a fresh id and token for this attempt; the id's pointer is written first."""
        if not self.config.webhook_base_url:
            return None
        webhook = WebhookCredentials(self.new_webhook_id(), self.new_token())
        self.jobs.create_webhook_pointer(webhook.webhook_id, job.object_id, ttl_days=self.config.job_ttl_days)
        return webhook

    def _submit(
        self, job: Job, choice: PromptChoice, file_id: str, webhook: WebhookCredentials | None
    ) -> Submission:
        if self.jobs.mark_submit_started(job.object_id, attempt=job.attempts) is None:
            raise ConcurrentChangeError(f"{job.object_id} was taken over by another worker")
        webhook_url = self._webhook_url(webhook)
        try:
            return call_with_fresh_key(
                self.client,
                self.refresh_key,
                lambda client: client.submit(
                    choice.prompt, file_id=file_id, spans=choice.spans, webhook_url=webhook_url
                ),
                Call.SUBMIT,
            )
        except AudioLassoError as error:
            if classify(error, Call.SUBMIT) is Verdict.UNKNOWN_OUTCOME:
                raise SubmitUnconfirmedError(error) from error
            waiting = waiting_of(error, Call.SUBMIT)
            if waiting is not None:
                # Refused before any job was made (JobStore.wait_upload): submitting after the pause is safe.
                raise AccountTroubleError(waiting, file_id) from error
            raise

    def _record_details(
        self,
        job: Job,
        obj: PinnedObject,
        head: ObjectHead,
        content_type: str,
        choice: PromptChoice,
        webhook: WebhookCredentials | None,
    ) -> None:
        details = ObjectDetails(
            size=head.size,
            content_type=content_type,
            prompt=choice.prompt,
            prompt_source=choice.source,
            etag=head.etag,
            version_id=obj.version_id,
            spans=choice.spans,
            webhook_token=webhook.token if webhook else None,
            webhook_id=webhook.webhook_id if webhook else None,
        )
        if self.jobs.record_details(job.object_id, attempt=job.attempts, details=details) is None:
            raise ConcurrentChangeError(f"{job.object_id} was taken over by another worker")

    def _record_submission(self, job: Job, file_id: str, submission: Submission) -> Job | None:
        # Written before anything else can fail: the request id of a paid job must never be lost (it is also
        # on every log line from here, in case this very write fails).
        logger.append_keys(request_id=submission.request_id)
        recorded = self.jobs.mark_submitted(
            job.object_id,
            file_id=file_id,
            request_id=submission.request_id,
            status_url=submission.status_url,
            result_url=submission.result_url,
            stream_url=submission.stream_url,
        )
        if recorded is None:
            logger.error("job submitted but the row had moved on", status=self.outcomes.status_of(job))
            return None
        metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
        logger.info("job submitted", file_id=file_id)
        return recorded

    def _webhook_url(self, webhook: WebhookCredentials | None) -> str | None:
        """The URL AudioLasso calls back: the opaque id and the token, never the bucket or key."""
        base = self.config.webhook_base_url
        if not base or webhook is None:
            return None
        separator = "&" if "?" in base else "?"
        return f"{base}{separator}{urlencode({'id': webhook.webhook_id, 'token': webhook.token})}"

    def _ensure_first_check(self, job: Job) -> Outcome:
        if job.status is Status.SUBMITTED and not job.first_check_enqueued_at:
            logger.info("job already submitted; queueing its missing first check", request_id=job.request_id)
            self._enqueue_first_check(job)
            return Outcome.CHECK_REQUEUED
        logger.info("job already submitted; skipping", status=job.status, request_id=job.request_id)
        return Outcome.DUPLICATE

    def _enqueue_first_check(self, job: Job) -> None:
        # A failure here raises: the redelivered message finds the row SUBMITTED and queues the check again.
        first = CheckMessage(job.object_id, job.request_id, CheckReason.FIRST_CHECK, link=0)
        self.checks.send(first, self.config.first_check_delay_seconds)
        self.jobs.mark_check_enqueued(job.object_id)


def file_expiry(upload: Upload) -> str | None:
    """Until when the uploaded file can be submitted: the earlier of the upload's two documented times.

    The docs publish no retention for uploaded inputs (only that they are temporary and that upload URLs
    last about an hour), so the file is never counted on past the upload's own `expires_at`, nor past
    `retention.delete_after` when the service names an earlier one. None when neither can be read.
    """
    moments = [moment for moment in map(_moment, (upload.expires_at, upload.delete_after)) if moment]
    return iso(min(moments)) if moments else None


def _moment(value: str | None) -> datetime | None:
    try:
        return parse_iso(value)
    except ValueError:
        return None


def _pin_version(obj: PinnedObject, head: ObjectHead) -> PinnedObject:
    """Pin later reads to the version HeadObject found when the event named none (moto's never do)."""
    if obj.version_id or not head.version_id:
        return obj
    logger.append_keys(version_id=head.version_id)
    return replace(obj, version_id=head.version_id)


@contextmanager
def _object_log_context(ref: ObjectRef) -> Iterator[None]:
    logger.append_keys(bucket=ref.bucket, object_key=ref.key, version_id=ref.version_id)
    try:
        yield
    finally:
        logger.remove_keys(_OBJECT_LOG_KEYS)
        logger.set_correlation_id(None)


def build_service(
    config: IngestConfig, clients: AwsClients, client: ClientFactory | None = None
) -> IngestService:
    """Wire the service to AWS and AudioLasso; tests pass moto-backed clients and an emulator client."""
    factory = client or ClientFactory(config.api)
    table = clients.table(config.jobs_table)
    publisher = EventPublisher(clients.events, config.event_bus_name)
    return IngestService(
        config=config,
        jobs=JobStore(table),
        objects=S3Objects(clients.s3),
        checks=CheckQueue(clients.sqs, config.check_queue_url),
        client=factory,
        publisher=publisher,
        queue=IngestQueue(clients.sqs, config.ingest_queue_url),
        pauses=Pauses(BreakerStore(table), publisher, config.park_delay_seconds, time.time),
        refresh_key=factory.refresh,
    )
