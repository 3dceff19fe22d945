"""`lassodrop run` end to end: the real template and functions on moto, the emulator as AudioLasso."""

import json

import pytest

from lassodrop_local.cli import main

pytestmark = pytest.mark.slow


def test_run_without_files_separates_a_demo_tone_and_downloads_its_outputs(tmp_path, capsys):
    # Given nothing but an output directory
    out = tmp_path / "out"

    # When the pipeline runs on the demo tone
    code = main(["run", "--out", str(out), "--prompt", "isolate the tone", "--timeout", "120"])

    # Then it completed, the stems and result.json were downloaded, and the summary says so
    printed = capsys.readouterr().out
    assert code == 0, printed
    files = sorted(path.name for path in (out / "demo-tone.wav").iterdir())
    assert files == ["residual.wav", "result.json", "target.wav"]
    result = json.loads((out / "demo-tone.wav" / "result.json").read_text())
    assert result["prompt"] == "isolate the tone"
    assert "demo-tone.wav  COMPLETED" in printed
    assert "REPORT RequestId: " in printed
    assert (out / "lassodrop-run.log").read_text().count("START RequestId: ") >= 2


def test_run_reports_a_failed_job_and_exits_1(tmp_path, capsys):
    # Given a file whose prompt makes the emulator's job fail
    source = tmp_path / "song.wav"
    source.write_bytes(b"RIFF" + b"\0" * 2048)
    out = tmp_path / "out"

    # When the pipeline runs on it
    code = main(["run", str(source), "--prompt", "[fail] anything", "--out", str(out), "--timeout", "120"])

    # Then the summary names the failure and the exit code is 1
    printed = capsys.readouterr().out
    assert code == 1, printed
    assert "song.wav  FAILED" in printed
    assert "MODEL_FAILED" in printed
