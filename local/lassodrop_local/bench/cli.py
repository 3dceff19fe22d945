"""`python -m lassodrop_local.bench` (`make bench`): relay S3 objects to the emulator, report the figures."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lassodrop.audiolasso.client import AudioLassoClient
from lassodrop_local.bench import coldstart
from lassodrop_local.bench.objects import (
    GeneratedObject,
    object_seed,
    put_generated_object,
    read_through,
    s3_client,
)
from lassodrop_local.bench.report import document, figures, format_table, size_label, summarize, targets
from lassodrop_local.bench.runner import Run, run_variant
from lassodrop_local.bench.services import emulator_command, moto_command, service
from lassodrop_local.bench.spec import (
    CURL,
    DOWNLOAD_FILE,
    GET_ALONE,
    IMPORTS_ONLY,
    PUT_ALONE,
    READ_ALL,
    RELAY,
    RELAY_RAW_STREAM,
    RELAY_SMALL_BLOCKS,
    SMALL_BLOCK_SIZE,
    STEMS_AT_ONCE,
    STEMS_IN_TURN,
    VariantSpec,
)
from lassodrop_local.template import load_template

API_KEY = "al_bench_key"
BUCKET = "lassodrop-bench"
CONTENT_TYPE = "audio/wav"
# Decimal megabytes: the service's "500 MB" limit is 500,000,000 bytes, so 500 is the largest size it takes.
MB = 1_000_000


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lassodrop_local.bench", description=__doc__)
    parser.add_argument(
        "--sizes", type=_sizes, default=(10 * MB, 100 * MB, 500 * MB), help="object sizes in MB (10,100,500)"
    )
    parser.add_argument(
        "--repeat", type=_positive, default=1, help="runs per variant and size; the median counts"
    )
    parser.add_argument(
        "--block-size",
        type=_positive,
        default=1024 * 1024,
        help="relay block size in bytes (a 16 KiB row is always added)",
    )
    parser.add_argument(
        "--timeout", type=_positive, default=600, help="seconds allowed for each measured run"
    )
    parser.add_argument("--out", type=Path, help="JSON file (default bench-results/relay-<timestamp>.json)")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a target fails, not only on errors"
    )
    parser.add_argument(
        "--cold",
        action="store_true",
        help="instead of the relay: each function's cold import against boto3's (bench-results/cold-*.json)",
    )
    parser.add_argument(
        "--cold-runs",
        type=_positive,
        default=9,
        help="fresh interpreters per import in --cold; the median counts",
    )
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(float(part) * MB) for part in text.split(","))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of sizes in MB") from exc
    if not sizes or min(sizes) < 1 or max(sizes) > 500 * MB:
        raise argparse.ArgumentTypeError("sizes must be between 1 byte and 500 MB")
    return sizes


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = datetime.now(UTC)
    if args.cold:
        return run_cold(args.cold_runs, args.out, args.strict, started)
    out = args.out or Path("bench-results") / f"relay-{started:%Y%m%dT%H%M%SZ}.json"
    runs = run_benchmark(args.sizes, args.repeat, args.block_size, args.timeout)
    summaries = summarize(runs)
    checks = targets(summaries)
    memory_mb = ingest_memory_mb()
    derived = figures(summaries, memory_mb)
    print(format_table(summaries, checks, derived))
    options = {"sizes": list(args.sizes), "repeat": args.repeat, "block_size": args.block_size}
    context: dict[str, Any] = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
    }
    context |= {**_machine(), "options": options, "ingest_memory_mb": memory_mb}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document(summaries, checks, context, derived), indent=2) + "\n")
    print(f"\nfigures written to {out}")
    if not all(run.intact for run in runs):
        return 1
    return 1 if args.strict and not all(check.passed for check in checks) else 0


def ingest_memory_mb() -> int:
    """IngestFunction's MemorySize in template.yaml: the memory the relay's GB-seconds are billed at."""
    template = load_template()
    return int(template["Resources"]["IngestFunction"]["Properties"]["MemorySize"])


def run_cold(runs: int, out: Path | None, strict: bool, started: datetime) -> int:
    """Time each function's import in fresh interpreters beside boto3's; print the table, write the JSON."""
    out = out or Path("bench-results") / f"cold-{started:%Y%m%dT%H%M%SZ}.json"
    _progress("resolving each function's environment from template.yaml's stack")
    functions = coldstart.function_configs()
    _progress(f"timing {runs} fresh imports of boto3 and of each function's handler")
    boto3_ms, summaries = coldstart.summarize(coldstart.measure(coldstart.cold_targets(functions), runs))
    checks = coldstart.targets(summaries)
    print(coldstart.format_table(boto3_ms, summaries, checks))
    context: dict[str, Any] = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
    }
    context |= {"python": platform.python_version(), "cpus": os.cpu_count(), "options": {"cold_runs": runs}}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(coldstart.document(boto3_ms, summaries, checks, context), indent=2) + "\n")
    print(f"\nfigures written to {out}")
    return 1 if strict and not all(check.passed for check in checks) else 0


def run_benchmark(sizes: Sequence[int], repeat: int, block_size: int, timeout: int) -> list[Run]:
    """Start moto and the emulator, then run every variant on every size, interleaved so noise is shared."""
    with (
        service("moto S3 server", moto_command()) as s3_endpoint,
        service("AudioLasso emulator", emulator_command(API_KEY)) as emulator_url,
        AudioLassoClient(API_KEY, emulator_url, allow_local=True) as client,
    ):
        s3 = s3_client(s3_endpoint)
        s3.create_bucket(Bucket=BUCKET)
        base = VariantSpec(
            variant="",
            s3_endpoint=s3_endpoint,
            bucket=BUCKET,
            key="",
            size=0,
            content_type=CONTENT_TYPE,
            block_size=block_size,
            timeout_seconds=float(timeout),
            emulator_url=emulator_url,
            api_key=API_KEY,
        )
        runs: list[Run] = []
        for size in sizes:
            _progress(f"writing a {size_label(size)} object to S3")
            obj = put_generated_object(s3, BUCKET, f"bench/{size}.wav", size, object_seed(size))
            read_through(s3, obj)
            runs += _runs_on(obj, repeat, base, client)
            s3.delete_object(Bucket=BUCKET, Key=obj.key)
        return runs


def _runs_on(obj: GeneratedObject, repeat: int, base: VariantSpec, client: AudioLassoClient) -> list[Run]:
    variants = [
        (RELAY, base.block_size),
        (RELAY_SMALL_BLOCKS, SMALL_BLOCK_SIZE),
        (RELAY_RAW_STREAM, base.block_size),
        (READ_ALL, base.block_size),
        (DOWNLOAD_FILE, base.block_size),
        (CURL, base.block_size),
        (GET_ALONE, base.block_size),
        (PUT_ALONE, base.block_size),
        (IMPORTS_ONLY, base.block_size),
        (STEMS_AT_ONCE, base.block_size),
        (STEMS_IN_TURN, base.block_size),
    ]
    runs = []
    for round_number in range(repeat):
        # Each round starts one variant later, so no variant always runs first (or last) on a warm machine.
        shift = round_number % len(variants)
        for variant, block_size in variants[shift:] + variants[:shift]:
            spec = _spec_for(base, variant, block_size, obj, client)
            run = run_variant(spec, obj)
            _progress(_run_line(run))
            runs.append(run)
    return runs


# The baselines that PUT to the emulator, each to a fresh signed upload made for it.
_GIVEN_AN_UPLOAD = (READ_ALL, DOWNLOAD_FILE, CURL, PUT_ALONE)


def _spec_for(
    base: VariantSpec, variant: str, block_size: int, obj: GeneratedObject, client: AudioLassoClient
) -> VariantSpec:
    spec = dataclasses.replace(base, variant=variant, key=obj.key, size=obj.size, block_size=block_size)
    if variant not in _GIVEN_AN_UPLOAD:
        return spec  # the relay creates its own upload, as ingest does; the others upload nothing
    upload = client.create_upload(obj.key.rsplit("/", 1)[-1], CONTENT_TYPE, obj.size)
    return dataclasses.replace(
        spec, upload_url=upload.upload_url, upload_file_id=upload.file_id, upload_headers=dict(upload.headers)
    )


def _run_line(run: Run) -> str:
    where = f"{run.variant}, {size_label(run.size)}"
    if run.result is None:
        return f"{where}: failed: {run.error}"
    mib_s = run.result.bytes_sent / max(run.result.seconds, 1e-9) / (1024 * 1024)
    peak = run.result.peak_rss_bytes / (1024 * 1024)
    return f"{where}: {mib_s:.1f} MiB/s, peak RSS {peak:.1f} MiB, {'intact' if run.intact else 'NOT INTACT'}"


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _machine() -> dict[str, Any]:
    curl = subprocess.run(["curl", "--version"], capture_output=True, text=True, timeout=10, check=False)
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "curl": curl.stdout.splitlines()[0] if curl.stdout else None,
    }
