"""What every operations command shares: S3 URIs, the output (rich tables or JSON), errors as exit codes."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console

from lassodrop_ops.target import Target, TargetError, add_target_arguments, resolve

OK, FAILED = 0, 1


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str  # a key, or a prefix (may be empty)


def s3_location(text: str) -> S3Location:
    """`s3://bucket/key` (argparse type: a malformed one is a usage error, exit 2)."""
    if not text.startswith("s3://") or not text[5:].split("/", 1)[0]:
        raise argparse.ArgumentTypeError(f"{text!r} is not an s3://bucket/key URI")
    bucket, _, key = text[5:].partition("/")
    return S3Location(bucket, key)


def stdout() -> Console:
    return Console(soft_wrap=True)


def stderr() -> Console:
    return Console(stderr=True, soft_wrap=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def add_command(
    subparsers: Any, name: str, help_text: str, run: Callable[[argparse.Namespace, Target], int]
) -> argparse.ArgumentParser:
    """A subcommand taking --local/--stack and --json, whose `run` gets the resolved Target."""
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=help_text, description=help_text)
    add_target_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of tables")

    def handler(args: argparse.Namespace) -> int:
        # AWS refusing or unreachable (credentials, permissions, network) is a failure to report, not a crash.
        try:
            return run(args, resolve(args))
        except (TargetError, BotoCoreError, ClientError) as exc:
            stderr().print(f"[red]error:[/red] {exc}", highlight=False)
            return FAILED

    parser.set_defaults(handler=handler)
    return parser
