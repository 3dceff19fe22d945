"""What ingest does with one created object: claim its job row, check it, relay it, submit it, queue a check.

Terminal problems (bad input, an object that is gone, a 4xx from AudioLasso) are recorded on the job row and
returned; retryable ones (network, 5xx, throttling, a lease held by another worker) are raised, so only that
SQS message fails and is redelivered, and lands in the DLQ if it keeps failing.

The API has no idempotency key, so a submit that may have reached AudioLasso is never sent again: the row
notes the submit before it is sent, and a submit with no usable answer (or a worker that died during it) ends
the row FAILED with SUBMIT_UNCONFIRMED instead of risking a second paid job.
"""

import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lassodrop.audiolasso import AudioLassoClient, AudioLassoError, InvalidInputError
from lassodrop.audiolasso.errors import Call, Verdict, classify
from lassodrop.audiolasso.models import Submission
from lassodrop.events import EndEvents, EventPublisher
from lassodrop.ingest.config import IngestConfig
from lassodrop.ingest.events import ObjectRef, parse_event, parse_message_body
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
    LeaseHeldError,
    ObjectDetails,
    Status,
)
from lassodrop.messages import CheckMessage, CheckQueue, CheckReason
from lassodrop.observability import logger, metrics
from lassodrop.runtime import AwsClients, ClientFactory
from lassodrop.timestamps import utcnow

_OBJECT_LOG_KEYS = ("bucket", "object_key", "version_id", "object_id", "request_id", "attempt")


class RecordsFailedError(RuntimeError):
    """Some objects of one message or event failed retryably; the whole message is retried."""


class SubmitUnconfirmedError(Exception):
    """A submit may have created a job at AudioLasso, but no usable answer came back (`error` says how)."""

    def __init__(self, error: AudioLassoError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass
class IngestService:
    config: IngestConfig
    jobs: JobStore
    objects: S3Objects
    checks: CheckQueue
    client: Callable[[], AudioLassoClient]
    publisher: EventPublisher
    new_token: Callable[[], str] = lambda: secrets.token_urlsafe(32)
    clock: Callable[[], datetime] = utcnow
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
            except Exception:
                logger.exception("object failed; it will be retried")
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
            raise LeaseHeldError(
                f"{claim.job.object_id} is being uploaded under a lease until {claim.job.lease_until}"
            )
        if claim.result is ClaimResult.ALREADY_SUBMITTED:
            return self._ensure_first_check(claim.job)
        if claim.result is ClaimResult.FINISHED:
            logger.info("object already finished; skipping", status=claim.job.status)
            self.outcomes.publish_pending(claim.job)
            return Outcome.DUPLICATE
        if claim.result is ClaimResult.SUBMIT_UNCONFIRMED:
            return self.outcomes.fail_interrupted_submit(claim.job)
        return self._ingest(claim.job, obj)

    def _pin(self, ref: ObjectRef) -> PinnedObject:
        if ref.version_id or ref.etag:
            return PinnedObject(ref.bucket, ref.key, ref.version_id, ref.etag)
        # A hand-made event without version or ETag: pin whatever is there now.
        head = self.objects.head(PinnedObject(ref.bucket, ref.key))
        return PinnedObject(ref.bucket, ref.key, head.version_id, head.etag)

    def _ingest(self, job: Job, obj: PinnedObject) -> Outcome:
        try:
            submission = self._upload_and_submit(job, obj)
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
                self.outcomes.release(job, submit_refused=True)
                raise
            return self.outcomes.fail(job, error)
        except BaseException:
            # Whatever this was, a submit marker set before it stays: the row is then never resubmitted.
            self.outcomes.release(job)
            raise
        if submission is None:
            return Outcome.DUPLICATE
        self._enqueue_first_check(submission)
        return Outcome.SUBMITTED

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
        token = self.new_token() if self.config.webhook_base_url else None
        self._record_details(job, obj, head, content_type, choice, token)
        client = self.client()
        result = relay(client, self.objects, obj, content_type=content_type, size=head.size)
        metrics.add_metric(name="BytesRelayed", unit=MetricUnit.Bytes, value=result.bytes_sent)
        metrics.add_metric(name="RelaySeconds", unit=MetricUnit.Seconds, value=result.seconds)
        logger.info(
            "upload finished", bytes=result.bytes_sent, seconds=round(result.seconds, 3), opens=result.opens
        )
        submission = self._submit(client, job, choice, result.upload.file_id, token)
        return self._record_submission(job, result.upload.file_id, submission)

    def _submit(
        self, client: AudioLassoClient, job: Job, choice: PromptChoice, file_id: str, token: str | None
    ) -> Submission:
        if self.jobs.mark_submit_started(job.object_id, attempt=job.attempts) is None:
            raise ConcurrentChangeError(f"{job.object_id} was taken over by another worker")
        try:
            return client.submit(
                choice.prompt, file_id=file_id, spans=choice.spans, webhook_url=self._webhook_url(job, token)
            )
        except AudioLassoError as error:
            if classify(error, Call.SUBMIT) is Verdict.UNKNOWN_OUTCOME:
                raise SubmitUnconfirmedError(error) from error
            raise

    def _record_details(
        self,
        job: Job,
        obj: PinnedObject,
        head: ObjectHead,
        content_type: str,
        choice: PromptChoice,
        token: str | None,
    ) -> None:
        details = ObjectDetails(
            size=head.size,
            content_type=content_type,
            prompt=choice.prompt,
            prompt_source=choice.source,
            etag=head.etag,
            version_id=obj.version_id,
            spans=choice.spans,
            webhook_token=token,
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
        )
        if recorded is None:
            logger.error("job submitted but the row had moved on", status=self.outcomes.status_of(job))
            return None
        metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=1)
        logger.info("job submitted", file_id=file_id)
        return recorded

    def _webhook_url(self, job: Job, token: str | None) -> str | None:
        base = self.config.webhook_base_url
        if not base or not token:
            return None
        separator = "&" if "?" in base else "?"
        return f"{base}{separator}{urlencode({'token': token, 'object_id': job.object_id})}"

    def _ensure_first_check(self, job: Job) -> Outcome:
        if job.status is Status.SUBMITTED and not job.first_check_enqueued_at:
            logger.info("job already submitted; queueing its missing first check", request_id=job.request_id)
            self._enqueue_first_check(job)
            return Outcome.CHECK_REQUEUED
        logger.info("job already submitted; skipping", status=job.status, request_id=job.request_id)
        return Outcome.DUPLICATE

    def _enqueue_first_check(self, job: Job) -> None:
        # A failure here raises: the redelivered message finds the row SUBMITTED and queues the check again.
        first = CheckMessage(job.object_id, job.request_id, CheckReason.FIRST_CHECK)
        self.checks.send(first, self.config.first_check_delay_seconds)
        self.jobs.mark_check_enqueued(job.object_id)


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
    config: IngestConfig, clients: AwsClients, client: Callable[[], AudioLassoClient] | None = None
) -> IngestService:
    """Wire the service to AWS and AudioLasso; tests pass moto-backed clients and an emulator client."""
    return IngestService(
        config=config,
        jobs=JobStore(clients.table(config.jobs_table)),
        objects=S3Objects(clients.s3),
        checks=CheckQueue(clients.sqs, config.check_queue_url),
        client=client or ClientFactory(config.api),
        publisher=EventPublisher(clients.events, config.event_bus_name),
    )
