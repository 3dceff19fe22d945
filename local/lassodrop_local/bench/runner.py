"""Runs one variant in a fresh subprocess and checks with the emulator that every byte arrived."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import requests

from lassodrop_local.bench.objects import GeneratedObject
from lassodrop_local.bench.spec import (
    IMPORTS_ONLY,
    STEM_COUNT,
    STEMS_AT_ONCE,
    STEMS_IN_TURN,
    UPLOADS_NOTHING,
    VariantResult,
    VariantSpec,
)

_ADMIN_TIMEOUT = (5.0, 30.0)


@dataclass(frozen=True)
class Run:
    """One run of one variant on one object: what it measured, and what the emulator received."""

    variant: str
    size: int
    result: VariantResult | None
    expected_sha256: str
    received_sha256: str | None
    intact: bool
    error: str | None = None


class VariantFailed(RuntimeError):
    pass


def run_variant(spec: VariantSpec, obj: GeneratedObject) -> Run:
    """Measure one run; a failed or timed-out subprocess becomes a Run with its error, not an exception."""
    try:
        result = _measure(spec)
    except VariantFailed as exc:
        return Run(spec.variant, obj.size, None, obj.sha256, None, intact=False, error=str(exc))
    if spec.variant in UPLOADS_NOTHING:
        return _counted(spec.variant, obj, result)
    received = _received_sha256(spec.emulator_url, result.file_id or spec.upload_file_id)
    _reset(spec.emulator_url)  # the emulator keeps each upload on disk; drop it before the next run
    return Run(spec.variant, obj.size, result, obj.sha256, received, intact=received == obj.sha256)


def _counted(variant: str, obj: GeneratedObject, result: VariantResult) -> Run:
    """A variant that sends nothing to the emulator: intact when it moved the bytes it should have, and
    when it reports their digest, when that is the object's."""
    expected = {IMPORTS_ONLY: 0, STEMS_AT_ONCE: STEM_COUNT * obj.size, STEMS_IN_TURN: STEM_COUNT * obj.size}
    intact = result.bytes_sent == expected.get(variant, obj.size)
    if result.sha256 is not None:
        intact = intact and result.sha256 == obj.sha256
    return Run(variant, obj.size, result, obj.sha256, result.sha256, intact=intact)


def _measure(spec: VariantSpec) -> VariantResult:
    command = [sys.executable, "-m", "lassodrop_local.bench.variant", spec.to_json()]
    # Tracing needs an X-Ray daemon; the relay's decorator must stay a no-op here.
    env = {**os.environ, "POWERTOOLS_TRACE_DISABLED": "true"}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=spec.timeout_seconds + 30, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise VariantFailed(f"timed out after {exc.timeout:.0f}s") from exc
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise VariantFailed(f"exit {done.returncode}: {done.stderr.strip()[-2000:]}")
    return VariantResult.from_json(lines[-1])


def _received_sha256(emulator_url: str, file_id: str | None) -> str | None:
    records: list[dict[str, Any]] = _admin(emulator_url, "GET", "uploads")
    matching = [r for r in records if r["file_id"] == file_id]
    return str(matching[-1]["sha256"]) if matching else None


def _reset(emulator_url: str) -> None:
    _admin(emulator_url, "POST", "reset", {})


def _admin(emulator_url: str, method: str, name: str, body: dict[str, Any] | None = None) -> Any:
    response = requests.request(method, f"{emulator_url}/_emulator/{name}", json=body, timeout=_ADMIN_TIMEOUT)
    response.raise_for_status()
    return response.json()
