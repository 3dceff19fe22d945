"""`lassodrop redrive [ingest|check]`: move the messages of a dead-letter queue back to its source queue."""

from __future__ import annotations

import argparse
from typing import Any

from rich.table import Table

from lassodrop_ops.common import FAILED, OK, add_command, print_json, stdout
from lassodrop_ops.target import Target

PAIRS = {"ingest": ("IngestDLQ", "IngestQueue"), "check": ("CheckDLQ", "CheckQueue")}
DEFAULT_MAX = 10_000


def register(subparsers: Any) -> None:
    parser = add_command(subparsers, "redrive", "move dead-letter messages back to their queue", run)
    parser.add_argument("queue", nargs="?", choices=list(PAIRS), help="ingest or check (default: both)")
    parser.add_argument(
        "--max", type=int, default=DEFAULT_MAX, help=f"move at most this many a queue (default {DEFAULT_MAX})"
    )


def run(args: argparse.Namespace, target: Target) -> int:
    counts: dict[str, int] = {}
    failed = False
    for name in [args.queue] if args.queue else list(PAIRS):
        dlq, source = PAIRS[name]
        moved, ok = move(target.sqs, target.queues[dlq], target.queues[source], limit=args.max)
        counts[name] = moved
        failed |= not ok
    if args.json:
        print_json({"moved": counts})
    else:
        table = Table(title="redrive", title_justify="left")
        table.add_column("queue")
        table.add_column("moved", justify="right")
        for name, moved in counts.items():
            table.add_row(name, str(moved))
        stdout().print(table)
    return FAILED if failed else OK


def move(sqs: Any, dlq_url: str, source_url: str, *, limit: int) -> tuple[int, bool]:
    """Receive, send, delete, ten at a time, until the DLQ is empty or `limit` moved; (moved, all sent).

    By hand rather than SQS StartMessageMoveTask: the task runs asynchronously and reports its counts only as
    it goes, and moto, which the tests run against, does not implement it. A message is deleted from the DLQ
    only once it was sent; one sent but not deleted (an interruption in between) is sent again by the next
    run, which ingest and collect tolerate (each row is claimed once). The loop is bounded by `limit`.
    """
    moved = 0
    while moved < limit:
        batch = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(10, limit - moved),
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
        ).get("Messages", [])
        if not batch:
            return moved, True
        entries = [
            {"Id": str(i), "MessageBody": m["Body"]}
            | ({"MessageAttributes": m["MessageAttributes"]} if m.get("MessageAttributes") else {})
            for i, m in enumerate(batch)
        ]
        sent = sqs.send_message_batch(QueueUrl=source_url, Entries=entries)
        done = [batch[int(entry["Id"])] for entry in sent.get("Successful", [])]
        if done:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        moved += len(done)
        if sent.get("Failed"):
            return moved, False
    return moved, True
