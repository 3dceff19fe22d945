"""The cold scenario: how long each function takes to import, up to a handler ready to call.

Each measurement is a fresh interpreter that imports the function's handler module with the environment
template.yaml's stack gives the function (resolved in moto by `lassodrop_local.stack`) plus what Lambda itself
sets, and times the import alone. A bare `import boto3` is measured the same way, interleaved in the same run,
so the figure can be judged on a busy or a slower machine: the target is a ratio to boto3's import.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from moto import mock_aws

from lassodrop_local.bench.report import Target
from lassodrop_local.stack import FunctionConfig, clients_for_moto, create_stack

# The goal is 250 ms on the machine where a bare `import boto3` takes 100 ms (the project's 2-core machine),
# so a function may take 2.5 times as long as boto3's import measured beside it.
TARGET_MS = 250.0
BOTO3_REFERENCE_MS = 100.0
MAX_RATIO = TARGET_MS / BOTO3_REFERENCE_MS
BOTO3 = "boto3"
# "on": in Lambda with template.yaml's Tracing: Active; "off": in Lambda with POWERTOOLS_TRACE_DISABLED=true;
# "local": without what Lambda sets (the local runner, tests), where Powertools keeps tracing off too.
TRACING_MODES = ("on", "off", "local")
# Prints the milliseconds that importing `module` (and getting `attribute` from it) took, nothing else.
_TIMED_IMPORT = (
    "import importlib, time\n"
    "started = time.perf_counter()\n"
    "module = importlib.import_module({module!r})\n"
    "{lookup}"
    "print((time.perf_counter() - started) * 1000)\n"
)


@dataclass(frozen=True)
class ColdTarget:
    """What one interpreter imports, and in which environment."""

    name: str
    tracing: str
    module: str
    attribute: str | None
    environment: Mapping[str, str]
    cwd: str


@dataclass(frozen=True)
class ColdSummary:
    name: str
    tracing: str
    median_ms: float
    ratio_to_boto3: float
    runs_ms: tuple[float, ...]


def function_configs() -> list[FunctionConfig]:
    """Every function of template.yaml's stack (webhooks on, so the webhook function exists too)."""
    with mock_aws():
        info = create_stack(
            clients_for_moto(),
            parameters={"EnableWebhooks": "true"},
            webhook_url="https://webhook.invalid/",
        )
    return list(info.functions.values())


def lambda_environment(function: FunctionConfig, tracing: str) -> dict[str, str]:
    """The template's environment plus what Lambda sets (for "local", less LAMBDA_TASK_ROOT); the tracer
    decides from LAMBDA_TASK_ROOT and POWERTOOLS_TRACE_DISABLED whether it is on (see TRACING_MODES)."""
    environment = {
        **function.environment,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": os.pathsep.join([str(function.code_dir), *map(str, function.layer_dirs)]),
        "LAMBDA_TASK_ROOT": str(function.code_dir),
        "AWS_LAMBDA_FUNCTION_NAME": function.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "_HANDLER": function.handler,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        # Fixed fake credentials and a loopback daemon: an import must never reach anything.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    }
    if tracing == "off":
        environment["POWERTOOLS_TRACE_DISABLED"] = "true"
    if tracing == "local":
        del environment["LAMBDA_TASK_ROOT"]
    return environment


def cold_targets(functions: Sequence[FunctionConfig]) -> list[ColdTarget]:
    """boto3 alone first, then each function's handler in each of TRACING_MODES."""
    imports: list[ColdTarget] = []
    for tracing in TRACING_MODES:
        for function in functions:
            module, attribute = function.handler.rsplit(".", 1)
            environment = lambda_environment(function, tracing)
            cwd = str(function.code_dir)
            if not imports:
                imports.append(ColdTarget(BOTO3, "-", BOTO3, None, environment, cwd))
            imports.append(ColdTarget(function.logical_id, tracing, module, attribute, environment, cwd))
    return imports


def time_import(target: ColdTarget, timeout: float = 60.0) -> float:
    """Milliseconds one fresh interpreter took to import the target (a failed import raises)."""
    lookup = "" if target.attribute is None else f"getattr(module, {target.attribute!r})\n"
    code = _TIMED_IMPORT.format(module=target.module, lookup=lookup)
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(target.environment),
        cwd=target.cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"importing {target.module} for {target.name} failed:\n{result.stderr}")
    return float(result.stdout.split()[-1])


def measure(
    targets: Sequence[ColdTarget], runs: int, timer: Callable[[ColdTarget], float] = time_import
) -> dict[tuple[str, str], list[float]]:
    """`runs` rounds, each timing every target once, so boto3 and the functions share the machine's noise."""
    figures: dict[tuple[str, str], list[float]] = {(t.name, t.tracing): [] for t in targets}
    for _ in range(runs):
        for target in targets:
            figures[(target.name, target.tracing)].append(timer(target))
    return figures


def summarize(figures: Mapping[tuple[str, str], Sequence[float]]) -> tuple[float, list[ColdSummary]]:
    """boto3's median import, and each function's median and its ratio to boto3's."""
    boto3_ms = statistics.median(figures[(BOTO3, "-")])
    summaries = [
        ColdSummary(name, tracing, statistics.median(runs), statistics.median(runs) / boto3_ms, tuple(runs))
        for (name, tracing), runs in figures.items()
        if name != BOTO3
    ]
    return boto3_ms, summaries


def targets(summaries: Sequence[ColdSummary]) -> list[Target]:
    return [
        Target(
            f"{s.name} cold import, tracing {s.tracing}: <= {TARGET_MS:g} ms "
            f"(<= {MAX_RATIO:g} x a bare boto3 import)",
            f"{s.median_ms:.0f} ms, {s.ratio_to_boto3:.2f} x",
            passed=s.ratio_to_boto3 <= MAX_RATIO,
        )
        for s in summaries
    ]


def format_table(boto3_ms: float, summaries: Sequence[ColdSummary], checks: Sequence[Target]) -> str:
    width = max(len(BOTO3), *(len(s.name) for s in summaries))
    lines = [f"{'import':<{width}}  {'tracing':>7}  {'median ms':>9}  {'x boto3':>7}  runs"]
    lines.append(f"{BOTO3:<{width}}  {'-':>7}  {boto3_ms:>9.1f}  {1.0:>7.2f}")
    for s in summaries:
        figures = f"{s.median_ms:>9.1f}  {s.ratio_to_boto3:>7.2f}  {len(s.runs_ms)}"
        lines.append(f"{s.name:<{width}}  {s.tracing:>7}  {figures}")
    lines += ["", "targets:"]
    lines += [f"  {'PASS' if t.passed else 'FAIL'}  {t.description}: {t.measured}" for t in checks]
    return "\n".join(lines)


def document(
    boto3_ms: float, summaries: Sequence[ColdSummary], checks: Sequence[Target], context: Mapping[str, Any]
) -> dict[str, Any]:
    return {
        **context,
        "scenario": "cold",
        "target_ms": TARGET_MS,
        "max_ratio_to_boto3": MAX_RATIO,
        "boto3_import_ms": boto3_ms,
        "results": [dataclasses.asdict(s) for s in summaries],
        "targets": [dataclasses.asdict(t) for t in checks],
    }
