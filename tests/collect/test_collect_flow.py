import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from lassodrop.audiolasso import AuthenticationError, ConnectionFailedError
from lassodrop.messages import CheckMessage
from tests.collect.conftest import OUTPUT_PREFIX, Pipeline
from tests.fixtures.audio import pcm_wav


def check(object_id: str, reason: str = "first-check") -> CheckMessage:
    return CheckMessage(object_id, None, reason)


def body(pipeline: Pipeline, key: str) -> bytes:
    return pipeline.stack.s3.get_object(Bucket=pipeline.stack.output_bucket, Key=key)["Body"].read()


def test_completed_job_lands_both_stems_and_result_json(pipeline: Pipeline) -> None:
    # Given a WAV dropped into the input bucket and submitted
    audio = pcm_wav(8000, rate=8000)
    object_id = pipeline.drop("music/song.wav", audio)

    # When its first check is processed
    outcome = pipeline.collector().handle(check(object_id))

    # Then the target is the input byte for byte, the residual is there, and result.json describes both
    assert outcome == "COMPLETED"
    prefix = pipeline.folder(object_id)
    assert prefix.startswith(f"{OUTPUT_PREFIX}music/song.wav/")
    assert body(pipeline, f"{prefix}target.wav") == audio
    residual = body(pipeline, f"{prefix}residual.wav")
    doc = json.loads(body(pipeline, f"{prefix}result.json"))
    assert doc["source"]["bucket"] == pipeline.stack.input_bucket
    assert doc["source"]["key"] == "music/song.wav"
    assert doc["source"]["version_id"]
    assert doc["prompt"] == "isolate the lead vocal"
    assert doc["request_id"].startswith("req_")
    assert doc["sample_rate"] == 8000
    assert doc["outputs"]["target"]["sha256"] == hashlib.sha256(audio).hexdigest()
    assert doc["outputs"]["target"]["size"] == len(audio)
    assert doc["outputs"]["residual"]["sha256"] == hashlib.sha256(residual).hexdigest()
    assert doc["outputs"]["residual"]["content_type"] == "audio/wav"
    assert doc["timings"]["durations_seconds"]["end_to_end"] >= 0
    row = pipeline.row(object_id)
    assert row["status"] == "COMPLETED"
    assert row["outputs"]["result"]["uri"] == f"s3://{pipeline.stack.output_bucket}/{prefix}result.json"
    assert row["event_published"] is True
    events: list[dict[str, Any]] = pipeline.stack.events()
    assert [(e["detail-type"], e["detail"]["status"]) for e in events] == [
        ("Separation Completed", "COMPLETED")
    ]


def test_failed_job_records_the_service_error_and_publishes_one_failure(pipeline: Pipeline) -> None:
    object_id = pipeline.drop("take1.wav", prompt="isolate the drums [fail]")

    outcome = pipeline.collector().handle(check(object_id))

    assert outcome == "FAILED"
    row = pipeline.row(object_id)
    assert row["status"] == "FAILED"
    assert row["error"]["code"] == "MODEL_FAILED"
    assert row["error"]["message"]
    assert "outputs" not in row
    events = pipeline.stack.events()
    assert [(e["detail-type"], e["detail"]["error"]["code"]) for e in events] == [
        ("Separation Failed", "MODEL_FAILED")
    ]
    listed = pipeline.stack.s3.list_objects_v2(Bucket=pipeline.stack.output_bucket)
    assert listed.get("KeyCount", 0) == 0


def test_slow_job_is_rechecked_with_doubling_delays_up_to_the_cap(pipeline: Pipeline) -> None:
    # Given a job that stays queued
    pipeline.emulator.state.set_timings(queue_seconds=3600)
    object_id = pipeline.drop("slow.wav")
    collector = pipeline.collector()

    # When the first check and then every re-enqueued poll are processed
    outcomes = [collector.handle(check(object_id))]
    for _ in range(6):
        outcomes.append(
            collector.handle(CheckMessage.from_body(pipeline.stack.sent.calls[-1]["MessageBody"]))
        )

    # Then each re-check waits twice as long, never more than SQS's 900 s
    assert set(outcomes) == {"re-enqueued"}
    assert pipeline.stack.sent.delays == [30, 60, 120, 240, 480, 900, 900]
    assert {b["reason"] for b in pipeline.stack.sent.bodies} == {"poll"}
    row = pipeline.row(object_id)
    assert (row["status"], row["checks"], row["next_check_delay"]) == ("SUBMITTED", 7, 900)
    assert pipeline.stack.events() == []


def test_configured_cap_below_sqs_maximum_bounds_the_delay(pipeline: Pipeline) -> None:
    pipeline.emulator.state.set_timings(queue_seconds=3600)
    object_id = pipeline.drop("slow.wav")
    collector = pipeline.collector(max_check_delay_seconds=100)

    for _ in range(4):
        collector.handle(check(object_id, "poll"))

    assert pipeline.stack.sent.delays == [30, 60, 100, 100]


def test_job_past_the_give_up_age_is_recorded_timed_out(pipeline: Pipeline) -> None:
    pipeline.emulator.state.set_timings(queue_seconds=3600)
    object_id = pipeline.drop("forever.wav")
    later = datetime.now(UTC) + timedelta(seconds=3601)

    outcome = pipeline.collector(clock=lambda: later, give_up_after_seconds=3600).handle(
        check(object_id, "poll")
    )

    assert outcome == "TIMED_OUT"
    row = pipeline.row(object_id)
    assert (row["status"], row["reason"], row["error"]["code"]) == ("TIMED_OUT", "timed out", "TIMED_OUT")
    assert pipeline.stack.sent.calls == []
    events = pipeline.stack.events()
    assert [(e["detail-type"], e["detail"]["reason"]) for e in events] == [("Separation Failed", "timed out")]


def test_last_recheck_is_shortened_to_land_on_the_give_up_age(pipeline: Pipeline) -> None:
    pipeline.emulator.state.set_timings(queue_seconds=3600)
    object_id = pipeline.drop("late.wav")
    almost = datetime.now(UTC) + timedelta(seconds=3590)

    pipeline.collector(clock=lambda: almost).handle(check(object_id, "poll"))

    assert 0 < pipeline.stack.sent.delays[0] <= 11


def test_expired_result_is_recorded_expired_with_a_reason(pipeline: Pipeline) -> None:
    pipeline.emulator.state.set_timings(result_retention_seconds=0)
    object_id = pipeline.drop("gone.wav")

    outcome = pipeline.collector().handle(check(object_id))

    assert outcome == "EXPIRED"
    row = pipeline.row(object_id)
    assert row["status"] == "EXPIRED"
    assert row["reason"] == "result expired before collection"
    assert row["error"]["code"] == "EXPIRED"
    assert [e["detail"]["status"] for e in pipeline.stack.events()] == ["EXPIRED"]


def test_expired_output_url_is_recorded_expired_and_writes_nothing(pipeline: Pipeline) -> None:
    object_id = pipeline.drop("outputs-gone.wav")
    pipeline.emulator.state.expire_output_urls()

    outcome = pipeline.collector().handle(check(object_id))

    assert outcome == "EXPIRED"
    assert pipeline.row(object_id)["reason"] == "output expired before collection"
    assert pipeline.stack.s3.list_objects_v2(Bucket=pipeline.stack.output_bucket).get("KeyCount", 0) == 0
    assert [e["detail-type"] for e in pipeline.stack.events()] == ["Separation Failed"]


@pytest.mark.parametrize(
    "key",
    ["a b+c.wav", "100%/mix%20down.wav", "été/déjà vu – ünïcode.wav", "x/y/z/plus+and space.wav"],  # noqa: RUF001
)
def test_tricky_input_keys_map_verbatim_to_output_keys(pipeline: Pipeline, key: str) -> None:
    object_id = pipeline.drop(key)

    pipeline.collector().handle(check(object_id))

    listed = pipeline.stack.s3.list_objects_v2(Bucket=pipeline.stack.output_bucket)["Contents"]
    folder = f"{OUTPUT_PREFIX}{key}/{pipeline.row(object_id)['version_id']}/"
    assert sorted(item["Key"] for item in listed) == [
        f"{folder}residual.wav",
        f"{folder}result.json",
        f"{folder}target.wav",
    ]
    doc = json.loads(body(pipeline, f"{folder}result.json"))
    assert doc["source"]["key"] == key


def test_an_older_version_finishing_last_leaves_the_newer_versions_outputs_intact(pipeline: Pipeline) -> None:
    # Given two versions of one key, both submitted
    older_audio, newer_audio = pcm_wav(4000, rate=8000), pcm_wav(6000, rate=8000)
    older = pipeline.drop("takes/vocal.wav", older_audio)
    newer = pipeline.drop("takes/vocal.wav", newer_audio)
    collector = pipeline.collector()

    # When the newer one is collected first and the slow older one finishes last
    assert collector.handle(check(newer)) == "COMPLETED"
    assert collector.handle(check(older)) == "COMPLETED"

    # Then each version has its own folder and the newer's stems and result.json are still its own
    assert pipeline.folder(older) != pipeline.folder(newer)
    assert body(pipeline, f"{pipeline.folder(newer)}target.wav") == newer_audio
    assert body(pipeline, f"{pipeline.folder(older)}target.wav") == older_audio
    doc = json.loads(body(pipeline, f"{pipeline.folder(newer)}result.json"))
    assert doc["source"]["version_id"] == pipeline.row(newer)["version_id"]
    assert doc["source"]["version"] == pipeline.row(newer)["version_id"]
    assert doc["outputs"]["target"]["sha256"] == hashlib.sha256(newer_audio).hexdigest()


def test_output_over_the_size_cap_fails_the_job_and_leaves_no_parts(pipeline: Pipeline) -> None:
    object_id = pipeline.drop("huge.wav", pcm_wav(8000, rate=8000))

    outcome = pipeline.collector(max_output_bytes=1000).handle(check(object_id))

    assert outcome == "FAILED"
    assert pipeline.row(object_id)["error"]["code"] == "OUTPUT_TOO_LARGE"
    assert pipeline.stack.s3.list_objects_v2(Bucket=pipeline.stack.output_bucket).get("KeyCount", 0) == 0
    assert (
        pipeline.stack.s3.list_multipart_uploads(Bucket=pipeline.stack.output_bucket).get("Uploads", []) == []
    )


def test_interrupted_download_hands_the_job_back_and_the_retry_completes(pipeline: Pipeline) -> None:
    audio = pcm_wav(8000, rate=8000)
    object_id = pipeline.drop("flaky.wav", audio)
    # A stream cut mid-body cannot be resumed by the client, so the first check fails as a whole.
    pipeline.emulator.state.drop_output_after(100, count=1)
    collector = pipeline.collector()

    with pytest.raises(ConnectionFailedError):
        collector.handle(check(object_id))
    assert pipeline.row(object_id)["status"] == "SUBMITTED"

    assert collector.handle(check(object_id)) == "COMPLETED"
    assert body(pipeline, f"{pipeline.folder(object_id)}target.wav") == audio


def test_status_url_on_a_foreign_host_is_recorded_not_fetched_or_retried(pipeline: Pipeline) -> None:
    # Given a submitted job whose stored status URL points somewhere the client must not go
    object_id = pipeline.drop("foreign.wav")
    pipeline.stack.table.update_item(
        Key={"object_id": object_id},
        UpdateExpression="SET status_url = :url",
        ExpressionAttributeValues={":url": "https://attacker.example/v1/queue/requests/req_1/status"},
    )

    # When its check is processed
    outcome = pipeline.collector().handle(check(object_id))

    # Then the job ends FAILED with the reason, the message is not retried, and a failure event says so
    assert outcome == "FAILED"
    row = pipeline.row(object_id)
    assert row["error"]["code"] == "UNSAFE_URL"
    assert row["reason"] == "the job could not be followed"
    assert [e["detail-type"] for e in pipeline.stack.events()] == ["Separation Failed"]


def test_request_unknown_to_the_service_is_recorded_not_retried(pipeline: Pipeline) -> None:
    object_id = pipeline.drop("unknown.wav")
    pipeline.emulator.state.fail_next("status", 404)

    outcome = pipeline.collector().handle(check(object_id))

    assert outcome == "FAILED"
    assert pipeline.row(object_id)["error"]["code"] == "NOT_FOUND"


def test_revoked_key_is_retried_so_a_fixed_key_and_a_redrive_resume_the_job(pipeline: Pipeline) -> None:
    object_id = pipeline.drop("revoked.wav")
    pipeline.emulator.state.fail_next("status", 401)

    with pytest.raises(AuthenticationError):
        pipeline.collector().handle(check(object_id))

    assert pipeline.row(object_id)["status"] == "SUBMITTED"
    assert pipeline.collector().handle(check(object_id)) == "COMPLETED"
