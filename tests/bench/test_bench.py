"""The relay benchmark, run small: every variant measured, the relay's bytes intact, table and JSON out."""

import contextlib
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from lassodrop_local.bench.cli import ingest_memory_mb, main
from lassodrop_local.bench.objects import generated_blocks, object_seed
from lassodrop_local.bench.spec import (
    CURL,
    GET_ALONE,
    IMPORTS_ONLY,
    PUT_ALONE,
    RELAY,
    STEMS_AT_ONCE,
    STEMS_IN_TURN,
    VARIANTS,
)

SIZES = (2_000_000, 5_000_000)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, str, dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("bench") / "relay.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exit_code = main(["--sizes", "2,5", "--timeout", "60", "--out", str(out)])
    return exit_code, printed.getvalue(), json.loads(out.read_text()), out


def _results(document: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(r["variant"], r["size_bytes"]): r for r in document["results"]}


def test_every_variant_reports_positive_throughput_and_memory_for_every_size(bench_run):
    # Given / When: a small benchmark run
    exit_code, _, document, _ = bench_run

    # Then: every variant has figures for every size, from runs whose bytes all arrived
    assert exit_code == 0
    results = _results(document)
    assert set(results) == {(variant, size) for variant in VARIANTS for size in SIZES}
    for (variant, _), result in results.items():
        assert result["peak_rss_mib"] > 0
        assert [run["intact"] for run in result["runs"]] == [True]
        if variant == IMPORTS_ONLY:
            assert result["throughput_mib_s"] is None  # it moves nothing: a memory figure only
        else:
            assert result["throughput_mib_s"] > 0
            assert result["cpu_s_per_gib"] > 0


def test_relay_bytes_reach_the_emulator_with_the_objects_sha256(bench_run):
    # Given / When: a small benchmark run
    _, _, document, _ = bench_run

    # Then: the emulator recorded, for the relay's upload, the digest of the bytes generated into S3
    for size in SIZES:
        expected = hashlib.sha256(b"".join(generated_blocks(size, object_seed(size)))).hexdigest()
        (run,) = _results(document)[(RELAY, size)]["runs"]
        assert run["received_sha256"] == expected
        assert run["bytes_sent"] == size


def test_table_lists_every_variant_and_marks_each_target(bench_run):
    # Given / When: a small benchmark run
    _, printed, document, out = bench_run

    # Then: one row per variant and size, every target marked PASS or FAIL, and the JSON path
    table = printed.partition("figures (against")[0]
    after = printed.partition("targets:")[2]
    for variant in VARIANTS:
        assert table.count(f"{variant} ") == len(SIZES)
    marks = [line.split()[0] for line in after.strip().splitlines()[: len(document["targets"])]]
    # peak RSS per size, flatness, throughput vs curl per size, public read vs the raw stream per size,
    # peak RSS above the imports alone per size
    assert len(marks) == 2 + 1 + 2 + 2 + 2
    assert set(marks) <= {"PASS", "FAIL"}
    assert str(out) in printed


def _size(text: str) -> int:
    return int(float(text.removesuffix(" MB")) * 1_000_000)


def _figures(document: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(f["description"].split(",")[0], f["size"]): f for f in document["figures"]}


def test_every_derived_figure_has_a_positive_value_and_baseline_in_the_json_and_the_table(bench_run):
    # Given / When: a small benchmark run
    _, printed, document, _ = bench_run

    # Then: for every size, each figure and its baseline from the same run, positive, and printed
    figures = _figures(document)
    memory = document["ingest_memory_mb"]
    expected_baselines = {
        "relay peak RSS": {IMPORTS_ONLY},
        f"Lambda GB-s at {memory} MB": {CURL},
        "CPU seconds per GiB": {CURL},
        "2 stems' copy time": {STEMS_IN_TURN},
        "throughput": {GET_ALONE, PUT_ALONE},
    }
    assert set(figures) == {(what, size) for what in expected_baselines for size in SIZES}
    for (what, _), figure in figures.items():
        assert figure["baseline"] in expected_baselines[what]
        assert figure["value"] > 0
        assert figure["baseline_value"] > 0
        assert figure["ratio"] == pytest.approx(figure["value"] / figure["baseline_value"])
    figure_lines = printed.partition("figures (against a baseline from this run):")[2].partition("targets:")[
        0
    ]
    assert len(figure_lines.strip().splitlines()) == len(document["figures"])


def test_relay_is_measured_against_the_slower_of_get_alone_and_put_alone(bench_run):
    # Given / When: a small benchmark run
    _, _, document, _ = bench_run

    # Then: the limit is whichever half had the lower throughput at that size
    results = _results(document)
    for size in SIZES:
        figure = _figures(document)[("throughput", size)]
        halves = [
            results[(GET_ALONE, size)]["throughput_mib_s"],
            results[(PUT_ALONE, size)]["throughput_mib_s"],
        ]
        assert figure["baseline_value"] == min(halves)
        assert figure["value"] == results[(RELAY, size)]["throughput_mib_s"]


def test_lambda_gb_seconds_are_ingest_memory_times_the_relays_seconds(bench_run):
    # Given / When: a small benchmark run
    _, _, document, _ = bench_run

    # Then: GB-s = MemorySize / 1024 x the relay's measured seconds, at template.yaml's MemorySize
    assert document["ingest_memory_mb"] == ingest_memory_mb()
    for size in SIZES:
        figure = _figures(document)[(f"Lambda GB-s at {document['ingest_memory_mb']} MB", size)]
        seconds = _results(document)[(RELAY, size)]["seconds"]
        assert figure["value"] == pytest.approx(document["ingest_memory_mb"] / 1024 * seconds)


def test_stem_copies_and_get_alone_move_every_byte_of_the_object(bench_run):
    # Given / When: a small benchmark run
    _, _, document, _ = bench_run

    # Then: both stems' copies landed with the object's digest, twice its size; GET alone read it all
    results = _results(document)
    for size in SIZES:
        expected = hashlib.sha256(b"".join(generated_blocks(size, object_seed(size)))).hexdigest()
        for variant in (STEMS_AT_ONCE, STEMS_IN_TURN):
            (run,) = results[(variant, size)]["runs"]
            assert run["received_sha256"] == expected
            assert run["bytes_sent"] == 2 * size
        (get,) = results[(GET_ALONE, size)]["runs"]
        assert get["bytes_sent"] == size
