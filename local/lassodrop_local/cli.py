"""The `lassodrop` command: local-only tooling (the emulator, the embedded stack), and the operations
commands for a running pipeline (lassodrop_ops)."""

import argparse
import importlib
import sys
from collections.abc import Sequence

# Each subcommand lives beside what it drives and exposes `register(subparsers)`; importing lazily keeps
# `lassodrop emulator` from loading moto, and `lassodrop run` from loading what it does not use.
_SUBCOMMANDS = {
    "emulator": "lassodrop_local.emulator.cli",
    "run": "lassodrop_local.runner.cli",
    "up": "lassodrop_local.up.cli",
    "status": "lassodrop_ops.status",
    "ls": "lassodrop_ops.listing",
    "retry": "lassodrop_ops.retry",
    "backfill": "lassodrop_ops.backfill",
    "redrive": "lassodrop_ops.redrive",
}


def build_parser(commands: Sequence[str] = tuple(_SUBCOMMANDS)) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lassodrop", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for name in commands:
        importlib.import_module(_SUBCOMMANDS[name]).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run one subcommand; its return value is the exit code."""
    args_list = list(argv) if argv is not None else sys.argv[1:]
    first = args_list[0] if args_list else None
    commands = [first] if first in _SUBCOMMANDS else list(_SUBCOMMANDS)
    args = build_parser(commands).parse_args(args_list)
    return int(args.handler(args) or 0)
