"""`lassodrop run` end to end: the real template and functions on moto, the emulator as AudioLasso."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest

from lassodrop_local.cli import main
from lassodrop_local.runner.demo import write_tone
from tests.runner.helpers import wait_until

pytestmark = pytest.mark.slow

# A function's line on the console: "  [IngestFunction] REPORT RequestId: ..."
CONSOLE_REPORT = re.compile(r"^  \[(?P<function>\w+)\] REPORT RequestId: [0-9a-f-]{36}  Duration: ")
LOG_START = re.compile(r"^\[(?P<function>\w+)\] START RequestId: ")


def summary_rows(printed: str) -> dict[str, list[str]]:
    """The summary table's rows by file name, split into their columns."""
    lines = printed.splitlines()
    header = next(n for n, line in enumerate(lines) if line.startswith("file ") and line.endswith(" reason"))
    rows = {}
    for line in lines[header + 2 :]:
        if not line.strip():
            break
        cells = re.split(r"\s{2,}", line.strip(), maxsplit=4)
        rows[cells[0]] = cells
    return rows


def invocation_counts(printed: str) -> dict[str, int]:
    line = next(line for line in printed.splitlines() if line.startswith("invocations: "))
    return {name: int(count) for name, count in re.findall(r"(\w+) (\d+) \(\d+ failed\)", line)}


def test_run_without_files_separates_a_demo_tone_and_reports_every_invocation(tmp_path, capsys):
    # Given nothing but an output directory
    out = tmp_path / "out"

    # When the pipeline runs on the demo tone
    code = main(["run", "--out", str(out), "--prompt", "isolate the tone", "--timeout", "120"])

    # Then it completed, the demo input is kept beside its stems and result.json, and the emulator's target
    # is exactly what went in
    printed = capsys.readouterr().out
    assert code == 0, printed
    demo = out / "demo-tone.wav"
    files = sorted(path.name for path in demo.iterdir())
    assert files == ["input.wav", "residual.wav", "result.json", "target.wav"]
    assert (demo / "target.wav").read_bytes() == (demo / "input.wav").read_bytes()
    assert (demo / "input.wav").read_bytes() == write_tone(tmp_path / "again.wav").read_bytes()
    result = json.loads((demo / "result.json").read_text())
    assert result["prompt"] == "isolate the tone"
    assert summary_rows(printed)["demo-tone.wav"][1] == "COMPLETED"
    # And every invocation, as counted by the runtime and as started in the log, has its REPORT line
    reports = Counter(m["function"] for line in printed.splitlines() if (m := CONSOLE_REPORT.match(line)))
    log = (out / "lassodrop-run.log").read_text().splitlines()
    starts = Counter(m["function"] for line in log if (m := LOG_START.match(line)))
    assert reports["IngestFunction"] >= 1
    assert reports["CollectFunction"] >= 1
    assert reports == starts
    assert {name: n for name, n in invocation_counts(printed).items() if n} == reports


def test_run_on_good_and_bad_files_completes_the_good_one_and_names_why_the_others_were_rejected(
    tmp_path, capsys
):
    # Given a real WAV, a text file and an empty file
    good = write_tone(tmp_path / "song.wav")
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio at all\n")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    out = tmp_path / "out"

    # When the pipeline runs on all three
    code = main(["run", str(good), str(notes), str(empty), "--out", str(out), "--timeout", "120"])

    # Then the WAV completed, each bad file is REJECTED with its reason, and the exit code says not all went
    printed = capsys.readouterr().out
    assert code == 1, printed
    rows = summary_rows(printed)
    assert rows["song.wav"][1] == "COMPLETED"
    assert rows["song.wav"][4] == "residual.wav, result.json, target.wav"
    assert (out / "song.wav" / "target.wav").read_bytes() == good.read_bytes()
    assert rows["notes.txt"][1] == "REJECTED"
    assert "UNSUPPORTED_CONTENT_TYPE" in rows["notes.txt"][4]
    assert "text/plain" in rows["notes.txt"][4]
    assert rows["empty.wav"][1] == "REJECTED"
    assert "EMPTY_OBJECT" in rows["empty.wav"][4]
    assert "empty" in rows["empty.wav"][4].removeprefix("EMPTY_OBJECT")
    assert not (out / "notes.txt").exists()


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
    row = summary_rows(printed)["song.wav"]
    assert row[1] == "FAILED"
    assert row[4].startswith("MODEL_FAILED: ")


def process_table() -> dict[int, tuple[int, str]]:
    """Every live process: pid -> (parent pid, start time in clock ticks), from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # ended while we looked
            continue
        # The command name is in parentheses and may contain anything; the fields after it are fixed.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            table[int(entry.name)] = (int(fields[1]), fields[19])
    return table


def descendants(root: int) -> dict[int, str]:
    """The live descendants of `root`: pid -> start time (to tell a reused pid apart)."""
    table = process_table()
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in table.items() if ppid == parent and pid not in found]
        found.update({pid: table[pid][1] for pid in children})
        frontier.extend(children)
    return found


def still_running(processes: dict[int, str]) -> list[int]:
    table = process_table()
    return [pid for pid, started in processes.items() if pid in table and table[pid][1] == started]


def test_ctrl_c_stops_the_run_promptly_and_leaves_no_process_behind(tmp_path):
    # Given `lassodrop run` (the console script) mid-run: the stack is up and a function has run
    script = Path(sys.executable).with_name("lassodrop")
    assert script.is_file(), f"console script missing: {script}"
    run = subprocess.Popen(
        [str(script), "run", "--out", str(tmp_path / "out")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # A process group of its own, like a shell job: a Ctrl-C goes to the whole foreground group.
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(run.stdout or ()), daemon=True)
    reader.start()
    children: dict[int, str] = {}
    try:
        wait_until(lambda: any("REPORT RequestId: " in line for line in lines) or run.poll() is not None, 90)
        assert run.poll() is None, "".join(lines)
        children = descendants(run.pid)
        assert children, "no function worker was running"

        # When the user presses Ctrl-C
        os.killpg(run.pid, signal.SIGINT)

        # Then it stops within a bound, says so, and no process it started is left
        code = run.wait(timeout=30)
        reader.join(timeout=10)
        assert code == 130, "".join(lines)
        assert "interrupted: the stack is stopped\n" in lines
        assert wait_until(lambda: not still_running(children), timeout=10, interval=0.1)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=10)
        for pid in still_running(children):
            os.kill(pid, signal.SIGKILL)
