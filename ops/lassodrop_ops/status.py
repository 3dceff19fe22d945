"""`lassodrop status s3://bucket/key`: every version's job row, what happened to it and what to do next."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from lassodrop_ops.common import FAILED, OK, add_command, print_json, s3_location, stderr, stdout
from lassodrop_ops.target import Target
from lassodrop_ops.views import summary


def register(subparsers: Any) -> None:
    parser = add_command(subparsers, "status", "every version's job row for one S3 object", run)
    parser.add_argument("uri", type=s3_location, help="s3://bucket/key of the dropped file")


def run(args: argparse.Namespace, target: Target) -> int:
    jobs = target.jobs.find_by_source(args.uri.bucket, args.uri.key)
    if not jobs:
        stderr().print(f"no job for s3://{args.uri.bucket}/{args.uri.key}", highlight=False)
        return FAILED
    rows = [summary(job) for job in jobs]
    if args.json:
        print_json(rows)
        return OK
    console = stdout()
    for row in rows:
        console.print(_card(row))
    return OK


def _card(row: dict[str, Any]) -> Table:
    table = Table(title=row["object_id"], show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for name in ("status", "code", "reason", "prompt", "request_id", "attempts"):
        table.add_row(name, _text(row[name]))
    for name in ("created_at", "submitted_at", "completed_at", "collected_at"):
        if row[name]:
            table.add_row(name, row[name])
    for name, uri in row["outputs"].items():
        table.add_row(f"output {name}", uri)
    for past in row["history"]:
        table.add_row(
            f"attempt {past['attempt']}",
            " ".join(_text(past[k]) for k in ("status", "code", "request_id", "ended_at") if past[k]),
        )
    table.add_row("next step", row["next_step"])
    return table


def _text(value: Any) -> str:
    return "" if value is None else str(value)
