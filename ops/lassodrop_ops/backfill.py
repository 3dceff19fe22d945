"""`lassodrop backfill s3://bucket[/prefix]`: submit objects that were in the bucket before any notification.

Lists the object versions, skips those that already have a job row (done or in flight), and puts a
notification for each of the rest on the ingest queue at a bounded rate. Run again after an interruption it
goes on where it stopped; a version enqueued twice (its message not yet processed when the run was repeated)
is still submitted once, because ingest claims each version's row once.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from lassodrop.jobs import Job, object_id_for
from lassodrop_ops import messages
from lassodrop_ops.common import FAILED, OK, add_command, print_json, s3_location, stderr, stdout
from lassodrop_ops.ratelimit import TokenBucket
from lassodrop_ops.target import Target


@dataclass(frozen=True)
class Version:
    bucket: str
    key: str
    version_id: str | None  # None on a bucket that never had versioning (S3 says "null")
    etag: str


def register(subparsers: Any) -> None:
    parser = add_command(subparsers, "backfill", "submit objects already in a bucket", run)
    parser.add_argument("uri", type=s3_location, help="s3://bucket or s3://bucket/prefix")
    parser.add_argument("--rate", type=rate, default=5.0, help="messages a second, e.g. 5/s (default 5/s)")
    parser.add_argument("--limit", type=int, help="stop after enqueueing this many (run again to go on)")
    parser.add_argument(
        "--all-versions", action="store_true", help="also older versions (default: current ones only)"
    )
    parser.add_argument("--dry-run", action="store_true", help="change nothing; count what would be sent")


def rate(text: str) -> float:
    """`5/s` or `5` (argparse type)."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(?:/s)?", text.strip())
    if not match or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a rate like 5/s")
    return float(match.group(1))


def run(args: argparse.Namespace, target: Target) -> int:
    versions = list(list_versions(target.s3, args.uri.bucket, args.uri.key, all_versions=args.all_versions))
    pending = [version for version in versions if not _has_row(target, version)]
    todo = pending[: args.limit] if args.limit is not None else pending
    sent, interrupted = (
        (0, False) if args.dry_run else enqueue(target, todo, TokenBucket(args.rate, burst=args.rate))
    )
    counts = {
        "versions": len(versions),
        "skipped": len(versions) - len(pending),
        "enqueued": sent,
        "would_enqueue": len(todo) if args.dry_run else 0,
        "left": len(pending) - sent if not args.dry_run else len(pending),
    }
    if args.json:
        print_json(counts)
    else:
        table = Table(title=f"backfill s3://{args.uri.bucket}/{args.uri.key}", title_justify="left")
        table.add_column("count")
        table.add_column("number", justify="right")
        for name, number in counts.items():
            table.add_row(name.replace("_", " "), str(number))
        stdout().print(table)
    if interrupted:
        stderr().print(f"interrupted after {sent} message(s): run the same command again to go on")
        return FAILED
    return OK


def list_versions(s3: Any, bucket: str, prefix: str, *, all_versions: bool) -> Iterator[Version]:
    """Every object version under `prefix` (folder keys and delete markers left out)."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Versions", []):
            if item["Key"].endswith("/") or not (all_versions or item.get("IsLatest", True)):
                continue
            version_id = item.get("VersionId")
            yield Version(
                bucket, item["Key"], None if version_id in (None, "null") else version_id, item["ETag"]
            )


def _has_row(target: Target, version: Version) -> bool:
    """Whether ingest already has this version, keyed on its version id or (from a versionless event) ETag."""
    ids = {object_id_for(version.bucket, version.key, etag=version.etag)}
    ids |= (
        {object_id_for(version.bucket, version.key, version_id=version.version_id)}
        if version.version_id
        else set()
    )
    return any(
        _is_version(job, version, ids) for job in target.jobs.find_by_source(version.bucket, version.key)
    )


def _is_version(job: Job, version: Version, ids: set[str]) -> bool:
    return job.object_id in ids or (version.version_id is not None and job.version_id == version.version_id)


def enqueue(target: Target, versions: list[Version], bucket: TokenBucket) -> tuple[int, bool]:
    """Send one notification per version, `bucket` pacing them, with a progress bar.

    Returns how many were sent and whether Ctrl-C stopped it: the counts are still reported, and a message
    whose send was cut short is at worst sent again by the next run (harmless: ingest claims a row once).
    """
    progress = Progress(
        TextColumn("enqueueing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.1f}/s"),
        TimeRemainingColumn(),
        console=stderr(),
        transient=False,
    )
    sent = 0
    with progress:
        task = progress.add_task("enqueue", total=len(versions), rate=0.0)
        try:
            for version in versions:
                bucket.take()
                body = messages.object_created(
                    version.bucket, version.key, version_id=version.version_id, etag=version.etag
                )
                target.sqs.send_message(QueueUrl=target.queues["IngestQueue"], MessageBody=body)
                sent += 1
                progress.update(task, advance=1, rate=progress.tasks[0].speed or 0.0)
        except KeyboardInterrupt:
            return sent, True
    return sent, False
