"""The targets the relay is held to, computed from runs of the same benchmark."""

from lassodrop_local.bench.report import format_table, summarize, targets
from lassodrop_local.bench.runner import Run
from lassodrop_local.bench.spec import CURL, RELAY, RELAY_RAW_STREAM, VariantResult

MIB = 1024 * 1024
SMALL, LARGE = 100_000_000, 500_000_000


def _run(variant: str, size: int, mib_per_second: float, peak_mib: float, intact: bool = True) -> Run:
    result = VariantResult(size, size / (mib_per_second * MIB), int(peak_mib * MIB), "test")
    return Run(variant, size, result, "a" * 64, "a" * 64 if intact else "b" * 64, intact)


def _marks(runs: list[Run]) -> dict[str, bool]:
    return {check.description: check.passed for check in targets(summarize(runs))}


def _benchmark(
    relay_peaks: tuple[float, float],
    relay_speed: float,
    curl_speed: float = 100.0,
    raw_speed: float | None = None,
) -> list[Run]:
    raw = relay_speed if raw_speed is None else raw_speed
    return [
        _run(RELAY, SMALL, relay_speed, relay_peaks[0]),
        _run(CURL, SMALL, curl_speed, 10),
        _run(RELAY_RAW_STREAM, SMALL, raw, relay_peaks[0]),
        _run(RELAY, LARGE, relay_speed, relay_peaks[1]),
        _run(CURL, LARGE, curl_speed, 10),
        _run(RELAY_RAW_STREAM, LARGE, raw, relay_peaks[1]),
    ]


def test_flat_small_fast_relay_passes_every_target():
    marks = _marks(_benchmark(relay_peaks=(70, 80), relay_speed=90))

    assert len(marks) == 7
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
    runs[3] = _run(RELAY, LARGE, 90, 70, intact=False)

    summaries = summarize(runs)
    marks = _marks(runs)

    assert marks["relay peak RSS at 500 MB <= 96 MiB"] is False
    assert marks["relay throughput at 500 MB >= 0.8 x curl's"] is False
    relay_large = next(line for line in format_table(summaries, []).splitlines() if "500 MB" in line)
    assert "error" in relay_large
    assert relay_large.endswith("0/1")
