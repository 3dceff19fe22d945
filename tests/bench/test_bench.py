"""The relay benchmark, run small: every variant measured, the relay's bytes intact, table and JSON out."""

import contextlib
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pytest

from lassodrop_local.bench.cli import main
from lassodrop_local.bench.objects import generated_blocks, object_seed
from lassodrop_local.bench.spec import RELAY, VARIANTS

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
    for result in results.values():
        assert result["throughput_mib_s"] > 0
        assert result["peak_rss_mib"] > 0
        assert [run["intact"] for run in result["runs"]] == [True]


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
    table, _, after = printed.partition("targets:")
    for variant in VARIANTS:
        assert table.count(f"{variant} ") == len(SIZES)
    marks = [line.split()[0] for line in after.strip().splitlines()[: len(document["targets"])]]
    # peak RSS per size, flatness, throughput vs curl per size, public read vs the raw stream per size
    assert len(marks) == 2 + 1 + 2 + 2
    assert set(marks) <= {"PASS", "FAIL"}
    assert str(out) in printed
