"""One check message: read the job once, then re-check later, collect the outputs, or record its end."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from boto3.s3.transfer import TransferConfig

from lassodrop.audiolasso.errors import (
    AudioLassoError,
    ExpiredError,
    JobFailedError,
    NotFoundError,
    NotReadyError,
    UnsafeUrlError,
    Verdict,
    classify,
)
from lassodrop.audiolasso.models import JobResult, JobStatus
from lassodrop.collect import backoff, resultdoc
from lassodrop.collect.config import CollectConfig
from lassodrop.collect.outputs import (
    OutputLayout,
    OutputRefusedError,
    OutputTarget,
    OutputTooLargeError,
    StoredOutput,
    copy_output,
    stem_format,
    transfer_config,
)
from lassodrop.events import EndEvents, EventPublisher
from lassodrop.jobs import Ending, Job, JobError, JobStore, LeaseHeldError, Status
from lassodrop.messages import CheckMessage, CheckQueue, CheckReason
from lassodrop.observability import logger, metrics
from lassodrop.timestamps import epoch, iso, parse_iso, utcnow

if TYPE_CHECKING:
    from lassodrop.audiolasso import AudioLassoClient


@dataclass
class Collector:
    """Everything collect needs, handed in: tests pass moto clients and an emulator-backed API client."""

    config: CollectConfig
    jobs: JobStore
    api_client: Callable[[], AudioLassoClient]
    s3: Any
    checks: CheckQueue
    publisher: EventPublisher
    clock: Callable[[], datetime] = utcnow
    transfer: TransferConfig = field(default_factory=transfer_config)

    @property
    def ends(self) -> EndEvents:
        return EndEvents(self.publisher, self.jobs, self.clock)

    @property
    def api(self) -> AudioLassoClient:
        """The client for the current API key (the factory rebuilds it after a key rotation)."""
        return self.api_client()

    def handle(self, message: CheckMessage) -> str:
        """Process one check; returns a short outcome for logs and tests. Raises for retryable failures."""
        job = self.jobs.get(message.object_id)
        if job is None:
            logger.warning("check for unknown job", object_id=message.object_id)
            return "unknown-job"
        logger.append_keys(object_key=job.key, request_id=job.request_id)
        if job.is_terminal:
            return self.ends.publish_pending(job)
        if job.status not in (Status.SUBMITTED, Status.COLLECTING) or not job.request_id:
            # Ingest has not submitted yet; it enqueues its own first check once it has.
            logger.info("check before submit", status=job.status)
            return "not-submitted"
        if job.status == Status.COLLECTING and (job.lease_until or 0) >= epoch(self.clock()):
            raise LeaseHeldError(job.object_id)
        try:
            status = self.api.status(job.request_id, status_url=job.status_url)
            return self._act_on(job, status, message.reason)
        except AudioLassoError as error:
            if classify(error) is not Verdict.TERMINAL:
                raise
            # Asking again gets the same answer (a URL we refuse, a request the service does not know), so
            # record it on the row instead of retrying the message into the DLQ with nothing said.
            logger.warning("job cannot be followed", error=str(error))
            return self._fail(job, _code_of(error), str(error), reason="the job could not be followed")

    def _act_on(self, job: Job, status: JobStatus, reason: str) -> str:
        logger.info("job status read", service_status=status.status, reason=reason)
        if status.status == "COMPLETED":
            return self._collect(job, status, reason)
        if status.status == "FAILED":
            code = status.error.code if status.error else "UNKNOWN"
            text = status.error.message if status.error else "the service reported FAILED without an error"
            return self._fail(job, code, text)
        return self._not_ready(job, reason)

    def _not_ready(self, job: Job, reason: str) -> str:
        now = self.clock()
        submitted = parse_iso(job.submitted_at) or now
        left = backoff.seconds_left(submitted, now, self.config.give_up_after_seconds)
        if left <= 0:
            message = f"no terminal status within {self.config.give_up_after_seconds} s of submission"
            return self._end(job, Ending(Status.TIMED_OUT, "timed out", JobError("TIMED_OUT", message)))
        if reason == CheckReason.WEBHOOK:
            # The poll chain is still alive; re-enqueueing here would fork a second chain per webhook.
            return "not-ready"
        checks = job.checks
        delay = backoff.delay_within_deadline(
            backoff.next_check_delay(
                checks, first=self.config.first_poll_delay_seconds, cap=self.config.max_check_delay_seconds
            ),
            left,
        )
        # Enqueue before recording: a failed send fails the message (retried) and never ends the chain.
        self.checks.send(CheckMessage(job.object_id, job.request_id, CheckReason.POLL), delay)
        self.jobs.record_check(job.object_id, checks + 1, delay)
        logger.info("check re-enqueued", delay_seconds=delay, checks=checks + 1)
        return "re-enqueued"

    def _collect(self, job: Job, status: JobStatus, reason: str) -> str:
        completed_at = self.clock()
        try:
            result = self.api.result(job.request_id, result_url=job.result_url or status.result_url)
        except NotReadyError:
            return self._not_ready(job, reason)
        except JobFailedError as error:
            return self._fail(job, error.code or "UNKNOWN", error.message)
        except (ExpiredError, NotFoundError) as error:
            return self._end(job, _expired("result", error))
        owner = uuid.uuid4().hex
        if not self.jobs.claim_collect(job.object_id, owner, completed_at, self.config.collect_lease_seconds):
            raise LeaseHeldError(job.object_id)
        try:
            return self._copy_and_complete(job, result, owner, completed_at)
        except BaseException:
            # Network or S3 trouble: hand the job back so the redelivered check can claim it at once.
            self.jobs.release_collect(job.object_id, owner)
            raise

    def _copy_and_complete(self, job: Job, result: JobResult, owner: str, completed_at: datetime) -> str:
        layout = OutputLayout.for_input(self.config.output_prefix, job.key, job.version_id, job.etag)
        where = OutputTarget(self.config.output_bucket, layout, self.config.max_output_bytes, self.transfer)
        try:
            stored = self._copy_stems(result, where)
            collected_at = self.clock()
            timings = resultdoc.Timings(
                parse_iso(job.created_at), parse_iso(job.submitted_at), completed_at, collected_at
            )
            doc = resultdoc.build(_source(job), result.sample_rate, stored, timings)
            resultdoc.write(self.s3, self.config.output_bucket, layout.result_key, doc)
        except ExpiredError as error:
            return self._end(job, _expired("output", error), owner=owner)
        except OutputTooLargeError as error:
            too_large = Ending(Status.FAILED, str(error), JobError("OUTPUT_TOO_LARGE", str(error)))
            return self._end(job, too_large, owner=owner)
        except OutputRefusedError as error:
            # Not retried: the same write would be refused again, into the DLQ with nothing on the row.
            refused = Ending(
                Status.FAILED, "the outputs could not be written", JobError(error.code, error.message)
            )
            return self._end(job, refused, owner=owner)
        completed = Ending(
            Status.COMPLETED,
            outputs=_outputs_field(stored, self.config.output_bucket, layout.result_key),
            completed_at=iso(completed_at),
            collected_at=iso(collected_at),
            sample_rate=result.sample_rate,
        )
        outcome = self._end(job, completed, owner=owner)
        if outcome == Status.COMPLETED:
            _count_completion(stored, timings)
        return outcome

    def _copy_stems(self, result: JobResult, where: OutputTarget) -> list[StoredOutput]:
        """Both stems, each checked to be writable as audio before either is fetched."""
        stems = {"target": result.target, "residual": result.residual}
        formats = {name: stem_format(output) for name, output in stems.items()}
        return [
            copy_output(self.api, self.s3, name, output, formats[name], where)
            for name, output in stems.items()
        ]

    def _fail(self, job: Job, code: str, text: str, *, reason: str = "the service failed the job") -> str:
        return self._end(job, Ending(Status.FAILED, reason, JobError(code, text)))

    def _end(self, job: Job, ending: Ending, *, owner: str | None = None) -> str:
        """Record a terminal status (conditionally), count it, then publish its event."""
        finished = self.jobs.finish(job.object_id, ending, self.clock(), owner=owner)
        if finished is None:
            logger.info("terminal write lost to another worker", status=ending.status)
            return "lost-race"
        logger.info("job finished", status=ending.status, reason=ending.reason)
        metrics.add_metric(name=_METRIC_BY_STATUS[ending.status], unit=MetricUnit.Count, value=1)
        self.ends.publish(finished)
        return str(ending.status)


_METRIC_BY_STATUS = {
    Status.COMPLETED: "JobsCompleted",
    Status.FAILED: "JobsFailed",
    Status.TIMED_OUT: "JobsTimedOut",
    Status.EXPIRED: "JobsExpired",
}


def _count_completion(stored: list[StoredOutput], timings: resultdoc.Timings) -> None:
    metrics.add_metric(name="OutputBytes", unit=MetricUnit.Bytes, value=sum(output.size for output in stored))
    if timings.received_at is not None:
        seconds = (timings.collected_at - timings.received_at).total_seconds()
        metrics.add_metric(name="EndToEndSeconds", unit=MetricUnit.Seconds, value=seconds)


def _outputs_field(stored: list[StoredOutput], bucket: str, doc_key: str) -> dict[str, Any]:
    outputs: dict[str, Any] = {output.name: output.as_dict() for output in stored}
    outputs["result"] = {"bucket": bucket, "key": doc_key, "uri": f"s3://{bucket}/{doc_key}"}
    return outputs


def _source(job: Job) -> resultdoc.Source:
    return resultdoc.Source(
        object_id=job.object_id,
        bucket=job.bucket,
        key=job.key,
        version_id=job.version_id,
        etag=job.etag,
        prompt=job.prompt or "",
        request_id=job.request_id or "",
    )


def _code_of(error: AudioLassoError) -> str:
    if error.code:
        return error.code
    return "UNSAFE_URL" if isinstance(error, UnsafeUrlError) else f"HTTP_{error.status_code}"


def _expired(what: str, error: ExpiredError | NotFoundError) -> Ending:
    return Ending(
        Status.EXPIRED, f"{what} expired before collection", JobError(error.code or "EXPIRED", error.message)
    )
