"""`lassodrop ls`: job rows newest first, filtered by status, age and key prefix, with counts by status."""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from typing import Any

from rich.table import Table

from lassodrop.jobs import Job, JobStore, Status
from lassodrop.timestamps import iso
from lassodrop_ops.common import OK, add_command, print_json, stdout
from lassodrop_ops.target import Target
from lassodrop_ops.views import summary

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def register(subparsers: Any) -> None:
    parser = add_command(subparsers, "ls", "job rows, newest first, with counts by status", run)
    add_filters(parser)
    parser.add_argument("--prefix", default="", help="only keys starting with this prefix")


def add_filters(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    parser.add_argument(
        "--status", type=statuses, required=required, help="comma-separated statuses (default: all)"
    )
    parser.add_argument("--since", type=age, help="only rows created this long ago or less: 30m, 12h, 1d, 2w")


def statuses(text: str) -> list[Status]:
    """`FAILED,TIMED_OUT` (argparse type: an unknown status is a usage error)."""
    names = [name.strip().upper() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in Status.__members__]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown status {', '.join(unknown) or text!r}; known: {', '.join(Status)}"
        )
    return [Status(name) for name in names]


def age(text: str) -> float:
    """`1d` -> seconds (argparse type)."""
    match = re.fullmatch(r"(\d+)([smhdw])", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not an age like 30m, 12h, 1d or 2w")
    return int(match.group(1)) * _UNITS[match.group(2)]


def find(
    store: JobStore, wanted: list[Status] | None, since_seconds: float | None, prefix: str = ""
) -> list[Job]:
    """Rows in the wanted statuses (all by default) from the by-status index, newest first."""
    since = iso(time.time() - since_seconds) if since_seconds is not None else None
    jobs = [job for status in wanted or list(Status) for job in store.find_by_status(status, since=since)]
    jobs = [job for job in jobs if job.key.startswith(prefix)]
    return sorted(jobs, key=lambda job: job.created_at or "", reverse=True)


def run(args: argparse.Namespace, target: Target) -> int:
    jobs = find(target.jobs, args.status, args.since, args.prefix)
    counts = Counter(str(job.status) for job in jobs)
    rows = [summary(job) for job in jobs]
    if args.json:
        print_json({"counts": dict(sorted(counts.items())), "jobs": rows})
        return OK
    table = Table(title=f"{len(rows)} job(s)", title_justify="left")
    for column in ("created", "status", "code", "object", "request id", "attempts"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            row["created_at"] or "",
            row["status"],
            row["code"] or "",
            row["object_id"],
            row["request_id"] or "",
            str(row["attempts"]),
        )
    console = stdout()
    console.print(table)
    console.print("  ".join(f"{status}: {count}" for status, count in sorted(counts.items())) or "no jobs")
    return OK
