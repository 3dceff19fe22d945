"""`lassodrop retry`: a new attempt at the same object version, the earlier attempts kept in the row.

Each row is reopened (`JobStore.reopen`: terminal -> RECEIVED) and a notification for its object is put on the
ingest queue, which claims the row as if it were new.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from rich.table import Table

from lassodrop.jobs import SUBMIT_UNCONFIRMED, Job, Status
from lassodrop_ops import listing, messages
from lassodrop_ops.common import FAILED, OK, S3Location, add_command, print_json, s3_location, stderr, stdout
from lassodrop_ops.target import Target
from lassodrop_ops.views import RETRYABLE

FORCE_HELP = (
    "also retry rows FAILED with SUBMIT_UNCONFIRMED: their submit may have reached AudioLasso without its "
    "answer being recorded, so a job (billed) may exist already, and retrying may start a second paid job"
)
REFUSED = (
    "refused: SUBMIT_UNCONFIRMED means a submit may have created a job at AudioLasso (billed) whose answer "
    "was lost; retrying may start a second paid job. Look for the job at AudioLasso first; rerun with "
    "--force to submit again anyway"
)


@dataclass(frozen=True)
class Outcome:
    object_id: str
    action: str  # reopened, re-enqueued, refused, skipped, changed, would-*
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.action not in {"refused", "skipped", "changed", "not-found"}


def register(subparsers: Any) -> None:
    parser = add_command(subparsers, "retry", "run failed jobs again, keeping the earlier attempts", run)
    parser.add_argument(
        "uris", nargs="*", metavar="S3_URI", help="s3://bucket/key (its newest version) or a row's object id"
    )
    listing.add_filters(parser)
    parser.add_argument("--prompt", help="the prompt the new attempt uses instead of the object's own")
    parser.add_argument("--force", action="store_true", help=FORCE_HELP)
    parser.add_argument("--dry-run", action="store_true", help="change nothing; say what would happen")
    parser.set_defaults(usage_error=parser.error)


def run(args: argparse.Namespace, target: Target) -> int:
    if bool(args.uris) == bool(args.status):
        args.usage_error("give either S3 URIs or --status, not both or neither")
    if args.status and not set(args.status) <= RETRYABLE:
        args.usage_error(f"--status takes only {', '.join(sorted(RETRYABLE))}")
    outcomes: list[Outcome] = []
    if args.status:
        jobs: list[Job | str] = list(listing.find(target.jobs, args.status, args.since))
    else:
        jobs = [_job_for(target, text) for text in args.uris]
    for job in jobs:
        outcomes.append(
            retry_one(target, job, prompt=args.prompt, force=args.force, dry_run=args.dry_run)
            if isinstance(job, Job)
            else Outcome(job, "not-found", "no job row")
        )
    _report(outcomes, as_json=args.json)
    return OK if all(outcome.ok for outcome in outcomes) else FAILED


def _job_for(target: Target, text: str) -> Job | str:
    """The row an argument names: an object id as is, or an S3 URI's newest version; the text if none."""
    if "?version=" in text or "?etag=" in text:
        return target.jobs.get(text) or text
    try:
        location: S3Location = s3_location(text)
    except argparse.ArgumentTypeError:
        return text
    jobs = target.jobs.find_by_source(location.bucket, location.key)
    return jobs[0] if jobs else text


def retry_one(target: Target, job: Job, *, prompt: str | None, force: bool, dry_run: bool) -> Outcome:
    if job.status is Status.RECEIVED:
        # Reopened earlier but its message never got out (or is still queued): one more is harmless, since
        # ingest's claim takes a row once.
        return _enqueue(target, job, dry_run, "re-enqueued", "RECEIVED: its notification is sent again")
    if not job.is_terminal:
        return Outcome(job.object_id, "skipped", f"{job.status}: still in progress")
    unconfirmed = job.error is not None and job.error.code == SUBMIT_UNCONFIRMED
    if unconfirmed and not force:
        return Outcome(job.object_id, "refused", REFUSED)
    if dry_run:
        detail = f"{job.status} -> RECEIVED as attempt {job.attempts + 1}" + (
            f" with prompt {prompt!r}" if prompt else ""
        )
        return Outcome(job.object_id, "would-reopen", detail)
    reopened = target.jobs.reopen(job, prompt_override=prompt, force=force)
    if reopened is None:
        return Outcome(
            job.object_id,
            "changed",
            "the row changed since it was read, or its event is being published: retry in a minute",
        )
    return _enqueue(target, reopened, False, "reopened", f"{job.status} -> RECEIVED, queued for ingest")


def _enqueue(target: Target, job: Job, dry_run: bool, action: str, detail: str) -> Outcome:
    if dry_run:
        return Outcome(job.object_id, f"would-{action}", detail)
    target.sqs.send_message(QueueUrl=target.queues["IngestQueue"], MessageBody=messages.for_job(job))
    return Outcome(job.object_id, action, detail)


def _report(outcomes: list[Outcome], *, as_json: bool) -> None:
    if as_json:
        print_json([{"object_id": o.object_id, "action": o.action, "detail": o.detail} for o in outcomes])
        return
    table = Table(title=f"{len(outcomes)} row(s)", title_justify="left")
    for column in ("object", "action", "detail"):
        table.add_column(column, overflow="fold")
    for outcome in outcomes:
        table.add_row(outcome.object_id, outcome.action, outcome.detail)
    stdout().print(table)
    for outcome in outcomes:
        if not outcome.ok:
            stderr().print(f"{outcome.object_id}: {outcome.detail}", highlight=False)
