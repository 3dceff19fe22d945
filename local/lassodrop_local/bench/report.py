"""Figures per variant and size, the targets the relay must meet, the printed table and the JSON document."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lassodrop_local.bench.runner import Run
from lassodrop_local.bench.spec import CURL, RELAY, RELAY_RAW_STREAM

MIB = 1024 * 1024
RELAY_PEAK_RSS_LIMIT_MIB = 96.0
RELAY_RSS_GROWTH_LIMIT_MIB = 16.0
RELAY_VS_CURL_MIN_RATIO = 0.8
# The public StreamingBody.read may cost a little against the private raw stream, within the machine's noise.
PUBLIC_VS_RAW_MIN_RATIO = 0.9


@dataclass(frozen=True)
class Summary:
    """The median over the intact runs of one variant on one object size (None when no run was intact)."""

    variant: str
    size: int
    throughput_mib_s: float | None
    peak_rss_mib: float | None
    runs: tuple[Run, ...]


@dataclass(frozen=True)
class Target:
    description: str
    measured: str
    passed: bool


def size_label(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


def summarize(runs: Sequence[Run]) -> list[Summary]:
    groups: dict[tuple[str, int], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.variant, run.size), []).append(run)
    return [_summary(variant, size, tuple(group)) for (variant, size), group in groups.items()]


def _summary(variant: str, size: int, runs: tuple[Run, ...]) -> Summary:
    good = [run.result for run in runs if run.intact and run.result is not None]
    if not good:
        return Summary(variant, size, None, None, runs)
    throughput = statistics.median(r.bytes_sent / r.seconds / MIB for r in good)
    peak = statistics.median(r.peak_rss_bytes / MIB for r in good)
    return Summary(variant, size, throughput, peak, runs)


def targets(summaries: Sequence[Summary]) -> list[Target]:
    """Relay peak RSS under the limit and flat in object size; relay throughput close to curl's."""
    found = {(s.variant, s.size): s for s in summaries}
    sizes = sorted({s.size for s in summaries})
    relay = [found.get((RELAY, size)) for size in sizes]
    checks = [_rss_limit(size, summary) for size, summary in zip(sizes, relay, strict=True)]
    if len(sizes) > 1:
        checks.append(_rss_growth(sizes[0], relay[0], sizes[-1], relay[-1]))
    checks += [_vs_curl(size, found.get((RELAY, size)), found.get((CURL, size))) for size in sizes]
    checks += [_vs_raw(size, found.get((RELAY, size)), found.get((RELAY_RAW_STREAM, size))) for size in sizes]
    return checks


def _rss_limit(size: int, relay: Summary | None) -> Target:
    peak = relay.peak_rss_mib if relay else None
    description = f"relay peak RSS at {size_label(size)} <= {RELAY_PEAK_RSS_LIMIT_MIB:g} MiB"
    if peak is None:
        return Target(description, "no figure", passed=False)
    return Target(description, f"{peak:.1f} MiB", passed=peak <= RELAY_PEAK_RSS_LIMIT_MIB)


def _rss_growth(small: int, low: Summary | None, large: int, high: Summary | None) -> Target:
    limit = f"{RELAY_RSS_GROWTH_LIMIT_MIB:g} MiB"
    description = f"relay peak RSS flat: {size_label(large)} within {limit} of {size_label(small)}"
    if not low or not high or low.peak_rss_mib is None or high.peak_rss_mib is None:
        return Target(description, "no figure", passed=False)
    growth = high.peak_rss_mib - low.peak_rss_mib
    return Target(description, f"{growth:+.1f} MiB", passed=abs(growth) <= RELAY_RSS_GROWTH_LIMIT_MIB)


def _vs_curl(size: int, relay: Summary | None, curl: Summary | None) -> Target:
    description = f"relay throughput at {size_label(size)} >= {RELAY_VS_CURL_MIN_RATIO:g} x curl's"
    if not relay or not curl or relay.throughput_mib_s is None or not curl.throughput_mib_s:
        return Target(description, "no figure", passed=False)
    ratio = relay.throughput_mib_s / curl.throughput_mib_s
    return Target(description, f"{ratio:.2f} x", passed=ratio >= RELAY_VS_CURL_MIN_RATIO)


def _vs_raw(size: int, relay: Summary | None, raw: Summary | None) -> Target:
    description = (
        f"relay through StreamingBody.read at {size_label(size)} >= {PUBLIC_VS_RAW_MIN_RATIO:g} x "
        "the private raw stream"
    )
    if not relay or not raw or relay.throughput_mib_s is None or not raw.throughput_mib_s:
        return Target(description, "no figure", passed=False)
    ratio = relay.throughput_mib_s / raw.throughput_mib_s
    return Target(description, f"{ratio:.2f} x", passed=ratio >= PUBLIC_VS_RAW_MIN_RATIO)


def format_table(summaries: Sequence[Summary], checks: Sequence[Target]) -> str:
    width = max(len(s.variant) for s in summaries)
    lines = [f"{'variant':<{width}}  {'size':>7}  {'MiB/s':>8}  {'peak RSS MiB':>12}  {'runs':>4}  intact"]
    for s in summaries:
        intact = sum(run.intact for run in s.runs)
        lines.append(
            f"{s.variant:<{width}}  {size_label(s.size):>7}  {_figure(s.throughput_mib_s):>8}  "
            f"{_figure(s.peak_rss_mib):>12}  {len(s.runs):>4}  {intact}/{len(s.runs)}"
        )
    lines += ["", "targets:"]
    lines += [f"  {'PASS' if t.passed else 'FAIL'}  {t.description}: {t.measured}" for t in checks]
    return "\n".join(lines)


def _figure(value: float | None) -> str:
    return "error" if value is None else f"{value:.1f}"


def document(
    summaries: Sequence[Summary], checks: Sequence[Target], context: dict[str, Any]
) -> dict[str, Any]:
    """The JSON written next to the table: every run's raw figures as well as the medians."""
    return {
        **context,
        "results": [
            {
                "variant": s.variant,
                "size_bytes": s.size,
                "throughput_mib_s": s.throughput_mib_s,
                "peak_rss_mib": s.peak_rss_mib,
                "runs": [_run_json(run) for run in s.runs],
            }
            for s in summaries
        ],
        "targets": [dataclasses.asdict(t) for t in checks],
    }


def _run_json(run: Run) -> dict[str, Any]:
    figures = dataclasses.asdict(run.result) if run.result else {}
    return {
        **figures,
        "expected_sha256": run.expected_sha256,
        "received_sha256": run.received_sha256,
        "intact": run.intact,
        "error": run.error,
    }
