"""The cold scenario's figures and report: medians, ratios to boto3's import, targets, table and JSON."""

import contextlib
import io
import json

import pytest

from lassodrop_local.bench.cli import main
from lassodrop_local.bench.coldstart import (
    BOTO3,
    MAX_RATIO,
    TRACING_MODES,
    ColdTarget,
    document,
    format_table,
    measure,
    summarize,
    targets,
)

FUNCTIONS = ("IngestFunction", "CollectFunction", "WebhookFunction")


def _target(name: str, tracing: str) -> ColdTarget:
    return ColdTarget(name, tracing, BOTO3 if name == BOTO3 else "app", None, {}, "/")


def test_every_import_is_timed_once_per_round_and_judged_by_its_ratio_to_boto3():
    # Given: boto3 taking 100 ms; ingest 200 ms (2 x), webhook 300 ms (3 x)
    times = {
        BOTO3: [90.0, 100.0, 110.0],
        "IngestFunction": [200.0, 190.0, 210.0],
        "WebhookFunction": [300.0] * 3,
    }
    imports = [_target(BOTO3, "-"), _target("IngestFunction", "on"), _target("WebhookFunction", "on")]
    calls = {name: iter(figures) for name, figures in times.items()}

    # When: three rounds are measured and summarized
    figures = measure(imports, 3, timer=lambda target: next(calls[target.name]))
    boto3_ms, summaries = summarize(figures)
    checks = targets(summaries)

    # Then: medians, ratios to boto3's median, and a target per function that only the faster one passes
    assert boto3_ms == 100.0
    assert [(s.name, s.median_ms, s.ratio_to_boto3) for s in summaries] == [
        ("IngestFunction", 200.0, 2.0),
        ("WebhookFunction", 300.0, 3.0),
    ]
    assert [check.passed for check in checks] == [True, False]
    assert checks[0].measured == "200 ms, 2.00 x"
    assert "<= 250 ms" in checks[0].description
    assert f"<= {MAX_RATIO:g} x a bare boto3 import" in checks[0].description
    table = format_table(boto3_ms, summaries, checks)
    assert "FAIL  WebhookFunction cold import, tracing on" in table
    written = json.loads(json.dumps(document(boto3_ms, summaries, checks, {})))
    assert written["results"][1]["runs_ms"] == [300.0, 300.0, 300.0]
    assert written["boto3_import_ms"] == 100.0


@pytest.mark.slow
def test_cold_run_reports_each_function_in_each_tracing_mode(tmp_path):
    # Given / When: the cold scenario, one fresh interpreter per import
    out = tmp_path / "cold.json"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exit_code = main(["--cold", "--cold-runs", "1", "--out", str(out)])

    # Then: a positive figure per function and tracing mode (on and off in Lambda, and outside it), each with
    # its target, in the table and the JSON
    report = json.loads(out.read_text())
    assert exit_code == 0
    assert report["scenario"] == "cold"
    assert report["boto3_import_ms"] > 0
    rows = {(r["name"], r["tracing"]): r for r in report["results"]}
    assert set(rows) == {(name, tracing) for name in FUNCTIONS for tracing in TRACING_MODES}
    assert all(r["median_ms"] > 0 and len(r["runs_ms"]) == 1 for r in rows.values())
    assert len(report["targets"]) == len(rows)
    for name, tracing in rows:
        assert f"{name} cold import, tracing {tracing}" in printed.getvalue()
    assert str(out) in printed.getvalue()
