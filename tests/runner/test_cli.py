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
from lassodrop_local.runner import embedded
from lassodrop_local.runner.demo import write_tone
from tests.runner.helpers import wait_until

pytestmark = pytest.mark.slow

# A function's line on the console: "  [IngestFunction] REPORT RequestId: ..."
CONSOLE_REPORT = re.compile(r"^  \[(?P<function>\w+)\] REPORT RequestId: [0-9a-f-]{36}  Duration: ")
LOG_START = re.compile(r"^\[(?P<function>\w+)\] START RequestId: ")


# The demo file's progress line: "demo-tone.wav  queued (req_...)"
PROGRESS_LINE = re.compile(r"^demo-tone\.wav  (?P<stage>[a-z][A-Za-z ]*[a-z])(?: \(req_\w+\))?$")
STAGE_ORDER = [
    "uploading",
    "uploaded",
    "sending to AudioLasso",
    "submitted",
    "queued",
    "processing",
    "collecting",
    "done",
]


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
    # And the emulator's address is given, and the file's stages come in the order it went through them
    assert re.search(
        r"^stack ready: s3://\S+ -> the AudioLasso emulator at http://127\.0\.0\.1:\d+$", printed, re.M
    )
    stages = [m["stage"] for line in printed.splitlines() if (m := PROGRESS_LINE.match(line))]
    assert stages[:2] == ["uploading", "uploaded"]
    assert stages[-1] == "done"
    assert stages == sorted(stages, key=STAGE_ORDER.index), stages
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
    # Given a real WAV with spaces and wide characters in its name, a text file and an empty file, and what
    # an earlier run left in the output folder of the text file
    good = write_tone(tmp_path / "私の 歌 (live).wav")
    notes = tmp_path / "notes.txt"
    notes.write_text("not audio at all\n")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    out = tmp_path / "out"
    (out / "notes.txt").mkdir(parents=True)
    (out / "notes.txt" / "target.wav").write_bytes(b"an earlier run's stem")

    # When the pipeline runs on all three
    code = main(["run", str(good), str(notes), str(empty), "--out", str(out), "--timeout", "120"])

    # Then the WAV completed, each bad file is REJECTED with its reason, and the exit code says not all went
    printed = capsys.readouterr().out
    assert code == 1, printed
    rows = summary_rows(printed)
    assert rows["私の 歌 (live).wav"][1] == "COMPLETED"
    assert rows["私の 歌 (live).wav"][4] == "residual.wav, result.json, target.wav"
    assert (out / good.name / "target.wav").read_bytes() == good.read_bytes()
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


# A file's progress line once its job exists at the provider: "demo-tone.wav  queued (req_...)"
SUBMITTED_LINE = re.compile(r"^(?P<name>\S+)\s+(?:submitted|queued|processing) \((?P<request_id>req_\w+)\)$")
LEFT_RUNNING = re.compile(
    r"^1 submitted job not collected by this run: (?P<name>\S+) \((?P<request_id>req_\w+)\)\.$"
)


def test_ctrl_c_prints_each_files_last_row_then_stops_the_stack_and_leaves_no_process(tmp_path):
    # Given `lassodrop run` (the console script) mid-run: the file's job is submitted to the emulator
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
        submitted = wait_until(lambda: submitted_line(lines) or run.poll() is not None, 90)
        assert run.poll() is None, "".join(lines)
        children = descendants(run.pid)
        assert children, "no function worker was running"

        # When the user presses Ctrl-C
        os.killpg(run.pid, signal.SIGINT)

        # Then it stops within a bound with 130, and no process it started is left
        code = run.wait(timeout=30)
        reader.join(timeout=10)
        printed = "".join(lines)
        assert code == 130, printed
        assert wait_until(lambda: not still_running(children), timeout=10, interval=0.1)
        # And the summary shows the row as the stopped functions left it, with its request id, and says
        # that the job goes on at AudioLasso, before the stack is reported stopped
        row = summary_rows(printed)["demo-tone.wav"]
        assert row[1] == "SUBMITTED", printed
        assert row[3] == submitted["request_id"]
        assert row[4].endswith(" when the run stopped")
        left = [m for line in printed.splitlines() if (m := LEFT_RUNNING.match(line))]
        assert [(m["name"], m["request_id"]) for m in left] == [("demo-tone.wav", submitted["request_id"])]
        assert "go on at AudioLasso" in printed
        stopped = lines.index("interrupted: the stack is stopped\n")
        assert stopped > next(n for n, line in enumerate(lines) if line.startswith("file "))
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait(timeout=10)
        for pid in still_running(children):
            os.kill(pid, signal.SIGKILL)


def submitted_line(lines: list[str]) -> re.Match[str] | None:
    return next((m for line in list(lines) if (m := SUBMITTED_LINE.match(line.rstrip("\n")))), None)


def test_at_the_timeout_the_summary_shows_the_submitted_job_and_the_exit_code_is_124(
    tmp_path, capsys, monkeypatch
):
    # Given an emulator whose jobs run far longer than the run waits
    monkeypatch.setattr(embedded, "EMULATOR_RUN_SECONDS", 300.0)
    song = write_tone(tmp_path / "song.wav")

    # When the run gives up after a few seconds
    code = main(["run", str(song), "--out", str(tmp_path / "out"), "--timeout", "10"])

    # Then the summary shows the job's row as it was (submitted, processing at the provider) with its request
    # id, names the job left behind, and the exit code says the run timed out
    printed = capsys.readouterr().out
    assert code == 124, printed
    assert "gave up waiting after 10 s: stopping the functions" in printed
    row = summary_rows(printed)["song.wav"]
    assert row[1] == "SUBMITTED", printed
    assert row[4] == "processing when the run stopped"
    assert re.fullmatch(r"req_\w+", row[3])
    assert f"song.wav  processing ({row[3]})" in printed.splitlines()
    assert f"1 submitted job not collected by this run: song.wav ({row[3]})." in printed.splitlines()
    assert not (tmp_path / "out" / "song.wav").exists()
