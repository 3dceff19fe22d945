"""What `lassodrop run` shows per file, the summary of however the run ended, and the demo tone."""

import wave

from rich.cells import cell_len

from lassodrop.jobs import Job
from lassodrop_local.runner.demo import SAMPLE_RATE, write_tone
from lassodrop_local.runner.progress import FileProgress, latest, left_running, stage_of, summary_table


def job(status: str, **item) -> Job:
    return Job.from_item({"object_id": "s3://in/a.wav?version=1", "status": status, **item})


def in_s3(name: str) -> FileProgress:
    item = FileProgress(name, name)
    item.mark_uploaded()
    return item


def test_stages_follow_the_row_and_the_provider():
    assert stage_of(None) == "uploaded"
    assert stage_of(job("UPLOADING")) == "sending to AudioLasso"
    assert stage_of(job("SUBMITTED")) == "submitted"
    assert stage_of(job("SUBMITTED"), "IN_QUEUE") == "queued"
    assert stage_of(job("SUBMITTED"), "IN_PROGRESS") == "processing"
    assert stage_of(job("SUBMITTED"), "COMPLETED") == "collecting"
    assert stage_of(job("COLLECTING")) == "collecting"
    assert stage_of(job("COMPLETED")) == "done"
    assert stage_of(job("TIMED_OUT")) == "timed out"


def test_a_file_shows_uploading_then_uploaded_then_the_rows_stages():
    item = FileProgress("a.wav", "a.wav")
    seen = [item.stage]

    item.mark_uploaded()
    seen.append(item.stage)
    for status, provider in [("UPLOADING", None), ("SUBMITTED", "IN_QUEUE"), ("COMPLETED", None)]:
        item.update(job(status, request_id="req_1"), provider)
        seen.append(item.stage)

    assert seen == ["uploading", "uploaded", "sending to AudioLasso", "queued", "done"]


def test_update_reports_only_changes_and_stops_the_clock_when_terminal():
    item = in_s3("a.wav")

    changes = [item.update(job("SUBMITTED"), None), item.update(job("SUBMITTED"), None)]
    changes.append(item.update(job("COMPLETED", request_id="req_1"), None))

    assert changes == [True, False, True]
    assert item.completed
    assert item.finished is not None


def test_a_waiting_row_says_what_it_waits_for():
    item = in_s3("a.wav")

    item.update(job("WAITING", waiting_for="api key", waiting_step="upload"), None)

    assert item.describe() == "a.wav  waiting for api key"
    assert item.status() == "WAITING"
    assert item.outcome() == "waiting for api key when the run stopped"


def test_the_last_cause_is_on_the_progress_line_and_a_new_cause_is_a_change():
    item = in_s3("a.wav")
    item.update(job("UPLOADING", last_cause="AudioLasso unreachable: connection refused"), None)
    first = item.describe()

    changed = item.update(job("UPLOADING", last_cause="AudioLasso overloaded: 503"), None)

    assert first == "a.wav  sending to AudioLasso  last cause: AudioLasso unreachable: connection refused"
    assert changed
    assert item.describe() == "a.wav  sending to AudioLasso  last cause: AudioLasso overloaded: 503"


def test_a_row_with_no_cause_and_no_wait_shows_neither():
    item = in_s3("a.wav")

    item.update(job("UPLOADING"), None)

    assert item.describe() == "a.wav  sending to AudioLasso"
    assert item.status() == "UPLOADING"


def summary_cells(table: str) -> dict[str, list[str]]:
    lines = table.splitlines()
    return {line.split("  ")[0]: [c.strip() for c in line.split("  ") if c.strip()] for line in lines[2:]}


def test_summary_of_a_stopped_run_shows_each_rows_last_state():
    # Given files at every point a run can stop at
    submitted = in_s3("queued.wav")
    submitted.update(job("SUBMITTED", request_id="req_9"), "IN_QUEUE")
    sending = in_s3("sending.wav")
    sending.update(job("UPLOADING"), None)
    waiting = in_s3("waiting.wav")
    waiting.update(job("WAITING", waiting_for="api key", waiting_step="upload"), None)
    failed = in_s3("failed.wav")
    failed.update(job("FAILED", error={"code": "MODEL_FAILED", "message": "no stems"}), None)
    unclaimed = in_s3("unclaimed.wav")
    not_uploaded = FileProgress("later.wav", "later.wav")

    # When the summary is made
    cells = summary_cells(summary_table([submitted, sending, waiting, failed, unclaimed, not_uploaded]))

    # Then each row says where it stood, with its request id where it has one
    assert cells["queued.wav"][1] == "SUBMITTED"
    assert cells["queued.wav"][3:] == ["req_9", "queued when the run stopped"]
    assert cells["sending.wav"][1] == "UPLOADING"
    assert cells["sending.wav"][4] == "sending to AudioLasso when the run stopped"
    assert cells["waiting.wav"][1] == "WAITING"
    assert cells["waiting.wav"][4] == "waiting for api key when the run stopped"
    assert cells["failed.wav"][1] == "FAILED"
    assert cells["failed.wav"][4] == "MODEL_FAILED: no stems"
    assert cells["unclaimed.wav"][1] == "NOT STARTED"
    assert cells["unclaimed.wav"][4] == "ingest had not picked it up when the run stopped"
    assert cells["later.wav"][1:] == ["NOT UPLOADED", "-", "-", "the run stopped before uploading it"]


def test_summary_names_the_outputs_or_the_reason():
    done = in_s3("a.wav")
    done.outputs = ["result.json", "target.wav"]
    done.update(job("COMPLETED", request_id="req_1"), None)
    failed = in_s3("b.wav")
    failed.update(job("FAILED", request_id="req_2", error={"code": "MODEL_FAILED", "message": "no"}), None)
    rejected = in_s3("c.txt")
    rejected.update(job("REJECTED", reason="content type text/plain is not audio or video"), None)

    table = summary_table([done, failed, rejected]).splitlines()

    assert table[0].split() == ["file", "status", "time", "request", "id", "outputs", "/", "reason"]
    assert "COMPLETED" in table[2]
    assert "req_1" in table[2]
    assert "result.json, target.wav" in table[2]
    assert "MODEL_FAILED: no" in table[3]
    assert "REJECTED" in table[4]
    assert "text/plain is not audio" in table[4]


def test_summary_columns_line_up_with_long_and_wide_character_names():
    names = ["a.wav", "私の歌 (ライブ).wav", "a-file-name-much-longer-than-any-column-title-at-all.wav"]
    files = []
    for name in names:
        item = in_s3(name)
        item.update(job("COMPLETED", request_id=f"req_{len(name)}"), None)
        files.append(item)

    header, _, *rows = summary_table(files).splitlines()

    # Then each column starts at the same cell on every line (a CJK character takes two cells)
    def starts(word: str) -> set[int]:
        return {cell_len(line[: line.index(word)]) for line in rows}

    assert len(rows) == 3
    assert starts("COMPLETED") == {cell_len(header[: header.index("status")])}
    assert starts("req_") == {cell_len(header[: header.index("request id")])}
    assert starts("(no outputs found)") == {cell_len(header[: header.index("outputs / reason")])}


def test_summary_shows_a_name_that_looks_like_markup_as_it_is():
    item = in_s3("[bold]loud[/bold] :fire:.wav")

    assert "[bold]loud[/bold] :fire:.wav" in summary_table([item])


def test_summary_folds_the_reason_to_a_narrow_terminal_and_keeps_every_word():
    item = in_s3("a.wav")
    item.update(job("REJECTED", error={"code": "EMPTY_OBJECT", "message": "the object is empty " * 4}), None)

    lines = summary_table([item], width=60).splitlines()

    assert max(cell_len(line) for line in lines) <= 60
    assert " ".join(" ".join(lines).split()).count("the object is empty") == 4


def test_progress_line_aligns_names_and_shows_the_request_while_running():
    item = in_s3("a.wav")
    first = item.describe(9)
    wide = in_s3("歌.wav")

    item.update(job("SUBMITTED", request_id="req_1"), "IN_PROGRESS")

    assert first == "a.wav      uploaded"
    assert item.describe(9) == "a.wav      processing (req_1)"
    assert wide.describe(9) == "歌.wav     uploaded"


def test_failure_shows_the_services_message_not_the_generic_reason():
    failed = in_s3("b.wav")
    failure = job(
        "FAILED",
        request_id="req_2",
        reason="the service failed the job",
        error={"code": "MODEL_FAILED", "message": "the model could not separate the prompt"},
    )

    failed.update(failure, None)

    assert failed.outcome() == "MODEL_FAILED: the model could not separate the prompt"
    assert failed.describe(6) == "b.wav   failed (MODEL_FAILED)"


def test_jobs_left_behind_are_named_and_said_to_go_on_at_audiolasso():
    # Given a submitted job, one whose submit started without a recorded request id, and a finished one
    submitted = in_s3("a.wav")
    submitted.update(job("SUBMITTED", request_id="req_1"), None)
    unconfirmed = in_s3("b.wav")
    unconfirmed.update(job("UPLOADING", submit_started_at="2026-01-01T00:00:00Z"), None)
    done = in_s3("c.wav")
    done.update(job("COMPLETED", request_id="req_3"), None)

    # When the run names what it leaves behind, with a real key and with the emulator
    real = left_running([submitted, unconfirmed, done], real_provider=True)
    local = left_running([submitted, unconfirmed, done], real_provider=False)

    # Then both name the jobs, and say that submitted jobs go on at AudioLasso and are paid for
    assert real[0] == "1 submitted job not collected by this run: a.wav (req_1)."
    assert "b.wav" in real[1]
    assert "c.wav" not in " ".join(real)
    assert real[2] == "Submitted jobs go on at AudioLasso after the run stops, and are paid for."
    assert "go on at AudioLasso" in local[2]
    assert "emulator" in local[2]
    assert left_running([done], real_provider=True) == []


def test_latest_row_wins_for_a_reuploaded_key():
    rows = [
        job("FAILED", created_at="2026-01-01T00:00:00Z"),
        job("COMPLETED", created_at="2026-01-02T00:00:00Z"),
    ]

    assert latest(rows).status == "COMPLETED"
    assert latest([]) is None


def test_demo_tone_is_a_two_second_wav(tmp_path):
    path = write_tone(tmp_path / "tone.wav")

    with wave.open(str(path)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth(), audio.getframerate()) == (1, 2, SAMPLE_RATE)
        assert audio.getnframes() == 2 * SAMPLE_RATE
        assert max(audio.readframes(audio.getnframes())) > 0
