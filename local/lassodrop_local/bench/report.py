"""Figures per variant and size, the targets the relay must meet, the printed table and the JSON document."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lassodrop_local.bench.runner import Run
from lassodrop_local.bench.spec import (
    CURL,
    GET_ALONE,
    IMPORTS_ONLY,
    PUT_ALONE,
    RELAY,
    RELAY_RAW_STREAM,
    STEMS_AT_ONCE,
    STEMS_IN_TURN,
)

MIB = 1024 * 1024
GIB = 1024 * MIB
RELAY_PEAK_RSS_LIMIT_MIB = 96.0
RELAY_RSS_GROWTH_LIMIT_MIB = 16.0
RELAY_VS_CURL_MIN_RATIO = 0.8
# The public StreamingBody.read may cost a little against the private raw stream, within the machine's noise.
PUBLIC_VS_RAW_MIN_RATIO = 0.9
# What the relay may add to an interpreter that has imported it and moved nothing.
RELAY_ADDED_RSS_LIMIT_MIB = 16.0


@dataclass(frozen=True)
class Summary:
    """The median over the intact runs of one variant on one object size (None when no run was intact)."""

    variant: str
    size: int
    throughput_mib_s: float | None
    peak_rss_mib: float | None
    runs: tuple[Run, ...]
    seconds: float | None = None
    cpu_s_per_gib: float | None = None


@dataclass(frozen=True)
class Figure:
    """A derived figure next to the baseline it is read against, both from the same run."""

    description: str
    size: int
    value: float | None
    baseline: str
    baseline_value: float | None
    unit: str
    ratio: float | None
    difference: float | None


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
    peak = statistics.median(r.peak_rss_bytes / MIB for r in good)
    if not any(r.bytes_sent for r in good):
        return Summary(variant, size, None, peak, runs)  # moved nothing: a memory figure only
    throughput = statistics.median(r.bytes_sent / r.seconds / MIB for r in good)
    seconds = statistics.median(r.seconds for r in good)
    cpu = [r.cpu_seconds / (r.bytes_sent / GIB) for r in good if r.cpu_seconds is not None]
    return Summary(variant, size, throughput, peak, runs, seconds, statistics.median(cpu) if cpu else None)


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
    checks += [_rss_added(size, found.get((RELAY, size)), found.get((IMPORTS_ONLY, size))) for size in sizes]
    return checks


def _rss_added(size: int, relay: Summary | None, imports: Summary | None) -> Target:
    description = (
        f"relay peak RSS at {size_label(size)} <= {RELAY_ADDED_RSS_LIMIT_MIB:g} MiB above its imports alone"
    )
    if not relay or not imports or relay.peak_rss_mib is None or imports.peak_rss_mib is None:
        return Target(description, "no figure", passed=False)
    added = relay.peak_rss_mib - imports.peak_rss_mib
    return Target(description, f"{added:+.1f} MiB", passed=added <= RELAY_ADDED_RSS_LIMIT_MIB)


def figures(summaries: Sequence[Summary], memory_mb: int) -> list[Figure]:
    """Per size: the relay against this machine's limit, its memory above the interpreter's, what a file
    costs on Lambda at `memory_mb` (GB-s, as Lambda bills) and in CPU, and collect's two stems at once."""
    found = {(s.variant, s.size): s for s in summaries}
    result: list[Figure] = []
    for size in sorted({s.size for s in summaries}):
        relay, curl = found.get((RELAY, size)), found.get((CURL, size))
        result += [
            _vs_slower_half(size, relay, found.get((GET_ALONE, size)), found.get((PUT_ALONE, size))),
            _compare("relay peak RSS", size, relay, found.get((IMPORTS_ONLY, size)), "MiB", _peak),
            _compare(f"Lambda GB-s at {memory_mb} MB", size, relay, curl, "GB-s", _gb_seconds(memory_mb)),
            _compare("CPU seconds per GiB", size, relay, curl, "s/GiB", _cpu),
            _compare(
                "2 stems' copy time",
                size,
                found.get((STEMS_AT_ONCE, size)),
                found.get((STEMS_IN_TURN, size)),
                "s",
                _seconds,
            ),
        ]
    return result


def _peak(summary: Summary) -> float | None:
    return summary.peak_rss_mib


def _cpu(summary: Summary) -> float | None:
    return summary.cpu_s_per_gib


def _seconds(summary: Summary) -> float | None:
    return summary.seconds


def _gb_seconds(memory_mb: int) -> Callable[[Summary], float | None]:
    def gb_seconds(summary: Summary) -> float | None:
        return None if summary.seconds is None else memory_mb / 1024 * summary.seconds

    return gb_seconds


def _compare(
    what: str,
    size: int,
    measured: Summary | None,
    baseline: Summary | None,
    unit: str,
    value: Callable[[Summary], float | None],
) -> Figure:
    subject = measured.variant if measured else "?"
    mine = value(measured) if measured else None
    theirs = value(baseline) if baseline else None
    ratio = mine / theirs if mine is not None and theirs else None
    difference = mine - theirs if mine is not None and theirs is not None else None
    against = baseline.variant if baseline else "?"
    return Figure(f"{what}, {subject}", size, mine, against, theirs, unit, ratio, difference)


def _vs_slower_half(size: int, relay: Summary | None, get: Summary | None, put: Summary | None) -> Figure:
    """The relay's MiB/s against the slower of GET alone and PUT alone: no relay can beat that half."""
    halves = [s for s in (get, put) if s is not None and s.throughput_mib_s is not None]
    slower = min(halves, key=lambda s: s.throughput_mib_s or 0.0) if len(halves) == 2 else None
    return _compare("throughput, slower half as limit", size, relay, slower, "MiB/s", _throughput)


def _throughput(summary: Summary) -> float | None:
    return summary.throughput_mib_s


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


def format_table(
    summaries: Sequence[Summary], checks: Sequence[Target], derived: Sequence[Figure] = ()
) -> str:
    width = max(len(s.variant) for s in summaries)
    lines = [
        f"{'variant':<{width}}  {'size':>7}  {'MiB/s':>8}  {'peak RSS MiB':>12}  {'CPU s/GiB':>9}  "
        f"{'runs':>4}  intact"
    ]
    for s in summaries:
        intact = sum(run.intact for run in s.runs)
        moved = s.variant != IMPORTS_ONLY
        lines.append(
            f"{s.variant:<{width}}  {size_label(s.size):>7}  {_figure(s.throughput_mib_s, moved):>8}  "
            f"{_figure(s.peak_rss_mib):>12}  {_figure(s.cpu_s_per_gib, moved, 2):>9}  "
            f"{len(s.runs):>4}  {intact}/{len(s.runs)}"
        )
    if derived:
        lines += ["", "figures (against a baseline from this run):"]
        lines += [f"  {_figure_line(f)}" for f in derived]
    lines += ["", "targets:"]
    lines += [f"  {'PASS' if t.passed else 'FAIL'}  {t.description}: {t.measured}" for t in checks]
    return "\n".join(lines)


def _figure_line(f: Figure) -> str:
    ratio = "no ratio" if f.ratio is None else f"{f.ratio:.2f} x"
    difference = "" if f.difference is None else f", {f.difference:+.3f} {f.unit}"
    return (
        f"{f.description} at {size_label(f.size)}: {_figure(f.value, digits=3)} {f.unit} "
        f"vs {f.baseline} {_figure(f.baseline_value, digits=3)} {f.unit} ({ratio}{difference})"
    )


def _figure(value: float | None, applies: bool = True, digits: int = 1) -> str:
    if not applies:
        return "-"
    return "error" if value is None else f"{value:.{digits}f}"


def document(
    summaries: Sequence[Summary],
    checks: Sequence[Target],
    context: dict[str, Any],
    derived: Sequence[Figure] = (),
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
                "seconds": s.seconds,
                "cpu_s_per_gib": s.cpu_s_per_gib,
                "runs": [_run_json(run) for run in s.runs],
            }
            for s in summaries
        ],
        "figures": [dataclasses.asdict(f) for f in derived],
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
