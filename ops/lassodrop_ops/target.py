"""The pipeline an operations command acts on: its AWS clients, buckets, table and queues.

`--stack NAME` reads them from the deployed stack's CloudFormation outputs; `--local` from the state file a
running `lassodrop up` writes.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from lassodrop.jobs import JobStore

QUEUES = ("IngestQueue", "IngestDLQ", "CheckQueue", "CheckDLQ")
# Stack output -> Target field or queue.
_OUTPUTS = {
    "InputBucketName": "input_bucket",
    "OutputBucketName": "output_bucket",
    "JobsTableName": "jobs_table",
    "IngestQueueUrl": "IngestQueue",
    "IngestDLQUrl": "IngestDLQ",
    "CheckQueueUrl": "CheckQueue",
    "CheckDLQUrl": "CheckDLQ",
}
DEFAULT_STATE_DIR = "~/.local/state/lassodrop"


class TargetError(RuntimeError):
    """The pipeline could not be found (no running `lassodrop up`, no such stack, a missing output)."""


@dataclass(frozen=True)
class Target:
    s3: Any
    sqs: Any
    table: Any  # a boto3 DynamoDB Table resource
    input_bucket: str
    output_bucket: str
    jobs_table: str
    queues: Mapping[str, str]  # QUEUES -> URL

    @property
    def jobs(self) -> JobStore:
        return JobStore(self.table)


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", action="store_true", help="the pipeline of a running `lassodrop up`")
    where.add_argument("--stack", metavar="NAME", help="a deployed stack, found through its outputs")
    parser.add_argument("--region", help="AWS region of --stack (as the AWS CLI)")
    parser.add_argument("--profile", help="AWS profile of --stack (as the AWS CLI)")


def resolve(args: argparse.Namespace) -> Target:
    if args.local:
        return from_state_file(state_file())
    return from_stack(args.stack, region=args.region, profile=args.profile)


def state_file() -> Path:
    return Path(os.environ.get("LASSODROP_STATE_DIR") or DEFAULT_STATE_DIR).expanduser() / "up.json"


def from_state_file(path: Path) -> Target:
    """The local pipeline `lassodrop up` describes in `path`, if the process that wrote it still runs."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetError(
            f"no running `lassodrop up`: {path} does not exist (start one, or use --stack)"
        ) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise TargetError(f"no running `lassodrop up`: {path} is unreadable ({exc})") from exc
    if not _alive(int(state.get("pid") or 0)):
        raise TargetError(f"no running `lassodrop up`: process {state.get('pid')} named in {path} has ended")
    # Fixed fake credentials, as `lassodrop up` gives its moto: these clients must never reach a real account.
    session = boto3.session.Session(
        region_name=state["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106
    )
    queues = {name: str(state["queues"][name]) for name in QUEUES}
    return _target(session, state["aws_endpoint_url"], state, queues)


def from_stack(name: str, *, region: str | None, profile: str | None) -> Target:
    """A deployed stack's resources, from its CloudFormation outputs."""
    session = boto3.session.Session(profile_name=profile, region_name=region)
    cloudformation = session.client("cloudformation")
    try:
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    except cloudformation.exceptions.ClientError as exc:
        raise TargetError(f"stack {name!r} not found: {exc}") from exc
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    missing = sorted(set(_OUTPUTS) - set(outputs))
    if missing:
        raise TargetError(f"stack {name!r} lacks the outputs {', '.join(missing)}: is it a lassodrop stack?")
    named = {field: outputs[output] for output, field in _OUTPUTS.items()}
    return _target(session, None, named, {queue: named[queue] for queue in QUEUES})


def _target(
    session: boto3.session.Session, endpoint_url: str | None, names: Mapping[str, Any], queues: dict[str, str]
) -> Target:
    dynamodb = session.resource("dynamodb", endpoint_url=endpoint_url)
    return Target(
        s3=session.client("s3", endpoint_url=endpoint_url),
        sqs=session.client("sqs", endpoint_url=endpoint_url),
        table=dynamodb.Table(names["jobs_table"]),
        input_bucket=str(names["input_bucket"]),
        output_bucket=str(names["output_bucket"]),
        jobs_table=str(names["jobs_table"]),
        queues=queues,
    )


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's
        return True
    return True
