"""What `lassodrop run` shows per file, and the demo tone it uploads when given no files."""

import wave

from lassodrop.jobs import Job
from lassodrop_local.runner.demo import SAMPLE_RATE, write_tone
from lassodrop_local.runner.progress import FileProgress, latest, stage_of, summary_table


def job(status: str, **item) -> Job:
    return Job.from_item({"object_id": "s3://in/a.wav?version=1", "status": status, **item})


def test_stages_follow_the_row_and_the_provider():
    assert stage_of(None) == "uploaded"
    assert stage_of(job("UPLOADING")) == "uploading"
    assert stage_of(job("SUBMITTED")) == "submitted"
    assert stage_of(job("SUBMITTED"), "IN_QUEUE") == "queued"
    assert stage_of(job("SUBMITTED"), "IN_PROGRESS") == "processing"
    assert stage_of(job("SUBMITTED"), "COMPLETED") == "collecting"
    assert stage_of(job("COLLECTING")) == "collecting"
    assert stage_of(job("COMPLETED")) == "done"
    assert stage_of(job("TIMED_OUT")) == "timed out"


def test_update_reports_only_changes_and_stops_the_clock_when_terminal():
    item = FileProgress("a.wav", "a.wav")

    changes = [item.update(job("SUBMITTED"), None), item.update(job("SUBMITTED"), None)]
    changes.append(item.update(job("COMPLETED", request_id="req_1"), None))

    assert changes == [True, False, True]
    assert item.completed
    assert item.finished is not None


def test_summary_names_the_outputs_or_the_reason():
    done = FileProgress("a.wav", "a.wav", outputs=["result.json", "target.wav"])
    done.update(job("COMPLETED", request_id="req_1"), None)
    failed = FileProgress("b.wav", "b.wav")
    failed.update(job("FAILED", request_id="req_2", error={"code": "MODEL_FAILED", "message": "no"}), None)
    rejected = FileProgress("c.txt", "c.txt")
    rejected.update(job("REJECTED", reason="content type text/plain is not audio or video"), None)
    never = FileProgress("d.wav", "d.wav")

    table = summary_table([done, failed, rejected, never]).splitlines()

    assert table[0].split() == ["file", "status", "time", "request", "id", "outputs", "/", "reason"]
    assert "COMPLETED" in table[2]
    assert "req_1" in table[2]
    assert "result.json, target.wav" in table[2]
    assert "FAILED" in table[3]
    assert "MODEL_FAILED: no" in table[3]
    assert "REJECTED" in table[4]
    assert "text/plain is not audio" in table[4]
    assert "NOT STARTED" in table[5]
    assert "never picked up by ingest" in table[5]


def test_failure_shows_the_services_message_not_the_generic_reason():
    failed = FileProgress("b.wav", "b.wav")
    row = job(
        "FAILED",
        request_id="req_2",
        reason="the service failed the job",
        error={"code": "MODEL_FAILED", "message": "the model could not separate the prompt"},
    )

    failed.update(row, None)

    assert failed.outcome() == "MODEL_FAILED: the model could not separate the prompt"
    assert failed.describe(6) == "b.wav   failed (MODEL_FAILED)"


def test_progress_line_aligns_names_and_shows_the_request_while_running():
    item = FileProgress("a.wav", "a.wav")
    first = item.describe(9)

    item.update(job("SUBMITTED", request_id="req_1"), "IN_PROGRESS")

    assert first == "a.wav      uploaded"
    assert item.describe(9) == "a.wav      processing (req_1)"


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
