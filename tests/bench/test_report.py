"""The targets the relay is held to, computed from runs of the same benchmark."""

import pytest

from lassodrop_local.bench.report import figures, format_table, summarize, targets
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
    VariantResult,
)

MIB = 1024 * 1024
SMALL, LARGE = 100_000_000, 500_000_000


def _run(
    variant: str, size: int, mib_per_second: float, peak_mib: float, intact: bool = True, cpu: float = 1.0
) -> Run:
    result = VariantResult(size, size / (mib_per_second * MIB), int(peak_mib * MIB), "test", cpu_seconds=cpu)
    return Run(variant, size, result, "a" * 64, "a" * 64 if intact else "b" * 64, intact)


def _imports_only(size: int, peak_mib: float) -> Run:
    result = VariantResult(0, 0.001, int(peak_mib * MIB), "test", cpu_seconds=0.0)
    return Run(IMPORTS_ONLY, size, result, "a" * 64, None, intact=True)


def _marks(runs: list[Run]) -> dict[str, bool]:
    return {check.description: check.passed for check in targets(summarize(runs))}


def _benchmark(
    relay_peaks: tuple[float, float],
    relay_speed: float,
    curl_speed: float = 100.0,
    raw_speed: float | None = None,
    imports_peak: float = 60.0,
) -> list[Run]:
    raw = relay_speed if raw_speed is None else raw_speed
    return [
        _run(RELAY, SMALL, relay_speed, relay_peaks[0]),
        _run(CURL, SMALL, curl_speed, 10),
        _run(RELAY_RAW_STREAM, SMALL, raw, relay_peaks[0]),
        _imports_only(SMALL, imports_peak),
        _run(RELAY, LARGE, relay_speed, relay_peaks[1]),
        _run(CURL, LARGE, curl_speed, 10),
        _run(RELAY_RAW_STREAM, LARGE, raw, relay_peaks[1]),
        _imports_only(LARGE, imports_peak),
    ]


def test_flat_small_fast_relay_passes_every_target():
    marks = _marks(_benchmark(relay_peaks=(70, 75), relay_speed=90))

    assert len(marks) == 9
    assert all(marks.values())


def test_relay_memory_growing_with_object_size_fails_flatness():
    marks = _marks(_benchmark(relay_peaks=(60, 90), relay_speed=90))

    assert marks["relay peak RSS flat: 500 MB within 16 MiB of 100 MB"] is False
    assert marks["relay peak RSS at 500 MB <= 96 MiB"] is True


def test_relay_over_the_memory_limit_fails_it():
    marks = _marks(_benchmark(relay_peaks=(90, 100), relay_speed=90))

    assert marks["relay peak RSS at 500 MB <= 96 MiB"] is False
    assert marks["relay peak RSS at 100 MB <= 96 MiB"] is True


def test_relay_slower_than_four_fifths_of_curl_fails_throughput():
    marks = _marks(_benchmark(relay_peaks=(70, 70), relay_speed=79, curl_speed=100))

    assert marks["relay throughput at 500 MB >= 0.8 x curl's"] is False


def test_public_stream_read_much_slower_than_the_private_raw_stream_fails_its_target():
    marks = _marks(_benchmark(relay_peaks=(70, 70), relay_speed=85, raw_speed=100))

    assert marks["relay through StreamingBody.read at 500 MB >= 0.9 x the private raw stream"] is False
    assert marks["relay throughput at 500 MB >= 0.8 x curl's"] is True


def test_run_whose_bytes_arrived_changed_gives_no_figure_and_fails_its_targets():
    runs = _benchmark(relay_peaks=(70, 70), relay_speed=90)
    runs[4] = _run(RELAY, LARGE, 90, 70, intact=False)

    summaries = summarize(runs)
    marks = _marks(runs)

    assert marks["relay peak RSS at 500 MB <= 96 MiB"] is False
    assert marks["relay throughput at 500 MB >= 0.8 x curl's"] is False
    relay_large = next(line for line in format_table(summaries, []).splitlines() if "500 MB" in line)
    assert "error" in relay_large
    assert relay_large.endswith("0/1")


def test_relay_adding_more_than_16_mib_to_its_imports_fails_that_target_alone():
    marks = _marks(_benchmark(relay_peaks=(70, 70), relay_speed=90, imports_peak=50))

    assert marks["relay peak RSS at 500 MB <= 16 MiB above its imports alone"] is False
    assert marks["relay peak RSS at 500 MB <= 96 MiB"] is True


def _figure(
    runs: list[Run], what: str, memory_mb: int = 512
) -> dict[int, tuple[float | None, str, float | None]]:
    return {
        f.size: (f.value, f.baseline, f.baseline_value)
        for f in figures(summarize(runs), memory_mb)
        if f.description.startswith(what)
    }


def test_relay_limit_is_the_slower_half_whichever_it_is():
    runs = [
        _run(RELAY, SMALL, 90, 70),
        _run(GET_ALONE, SMALL, 300, 50),
        _run(PUT_ALONE, SMALL, 200, 50),
        _run(RELAY, LARGE, 90, 70),
        _run(GET_ALONE, LARGE, 150, 50),
        _run(PUT_ALONE, LARGE, 400, 50),
    ]

    limits = _figure(runs, "throughput")

    assert limits[SMALL][1:] == (PUT_ALONE, pytest.approx(200))
    assert limits[LARGE][1:] == (GET_ALONE, pytest.approx(150))


def test_gb_seconds_scale_with_memory_and_the_seconds_measured():
    # 500 MB at 100 MiB/s takes 500e6 / 100 MiB = 4.77 s
    runs = [_run(RELAY, LARGE, 100, 70), _run(CURL, LARGE, 50, 10)]

    at_512 = _figure(runs, "Lambda GB-s", 512)[LARGE]
    at_1024 = _figure(runs, "Lambda GB-s", 1024)[LARGE]

    seconds = LARGE / (100 * MIB)
    assert at_512[0] == pytest.approx(0.5 * seconds)
    assert at_1024[0] == pytest.approx(seconds)
    assert at_512[2] == pytest.approx(0.5 * 2 * seconds)  # curl, twice as slow


def test_cpu_per_gib_and_stem_copy_times_come_with_their_baselines():
    runs = [
        _run(RELAY, LARGE, 100, 70, cpu=2.0),
        _run(CURL, LARGE, 100, 10, cpu=1.0),
        _run(STEMS_AT_ONCE, LARGE, 100, 80),
        _run(STEMS_IN_TURN, LARGE, 50, 70),
    ]

    cpu = _figure(runs, "CPU seconds per GiB")[LARGE]
    stems = _figure(runs, "2 stems")[LARGE]

    gib = LARGE / (1024 * MIB)
    assert cpu == (pytest.approx(2.0 / gib), CURL, pytest.approx(1.0 / gib))
    assert stems[1] == STEMS_IN_TURN
    assert stems[0] == pytest.approx(stems[2] / 2)
