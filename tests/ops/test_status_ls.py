"""`lassodrop status` and `lassodrop ls` read what the pipeline wrote, through --local."""

import pytest

from tests.ops.conftest import Pipeline


def test_status_shows_a_completed_file_with_its_outputs_and_no_next_step(pipeline: Pipeline) -> None:
    # Given a file that went all the way through
    pipeline.drop("songs/done.wav")
    pipeline.process()

    # When its status is asked for
    result = pipeline.cli("status", f"s3://{pipeline.bucket}/songs/done.wav", "--local", "--json")

    # Then its one row is COMPLETED with the request id, the attempt and every output as an S3 URI
    assert result.code == 0
    [row] = result.json
    assert (row["status"], row["code"], row["attempts"]) == ("COMPLETED", None, 1)
    assert row["request_id"].startswith("req_")
    assert row["outputs"]
    assert all(
        uri.startswith(f"s3://{pipeline.stack.info.output_bucket}/") for uri in row["outputs"].values()
    )
    assert row["next_step"].startswith("none")


def test_status_of_a_failed_job_gives_the_code_reason_and_the_retry_command(pipeline: Pipeline) -> None:
    pipeline.emulator.state.fail_next_jobs(1)
    pipeline.drop("broken.wav")
    pipeline.process()

    result = pipeline.cli("status", f"s3://{pipeline.bucket}/broken.wav", "--local", "--json")

    [row] = result.json
    assert (row["status"], row["code"]) == ("FAILED", "MODEL_FAILED")
    assert row["reason"]
    assert f"lassodrop retry 's3://{pipeline.bucket}/broken.wav?etag=" in row["next_step"]


def test_status_lists_every_version_newest_first_and_prints_a_table(pipeline: Pipeline) -> None:
    # Given one key uploaded twice: the first version processed, the second still queued
    pipeline.drop("twice.wav", b"RIFF" + b"\0" * 2000)
    pipeline.ingest()
    pipeline.drop("twice.wav")
    pipeline.ingest()

    as_json = pipeline.cli("status", f"s3://{pipeline.bucket}/twice.wav", "--local", "--json")
    table = pipeline.cli("status", f"s3://{pipeline.bucket}/twice.wav", "--local")

    assert [row["status"] for row in as_json.json] == ["SUBMITTED", "SUBMITTED"]
    assert as_json.json[0]["created_at"] >= as_json.json[1]["created_at"]
    assert table.code == 0
    assert table.out.count("next step") == 2


def test_status_of_an_unknown_object_exits_1_and_a_malformed_uri_2(pipeline: Pipeline) -> None:
    missing = pipeline.cli("status", f"s3://{pipeline.bucket}/never.wav", "--local")
    with pytest.raises(SystemExit) as usage:
        pipeline.cli("status", "not-a-uri", "--local")
    assert missing.code == 1
    assert "no job" in missing.err
    assert usage.value.code == 2


def test_ls_filters_by_status_and_prefix_newest_first_with_counts(pipeline: Pipeline) -> None:
    # Given two completed files, one failed, one rejected (not audio) under two prefixes
    pipeline.drop("a/one.wav")
    pipeline.drop("a/two.wav")
    pipeline.process()
    pipeline.emulator.state.fail_next_jobs(1)
    pipeline.drop("b/three.wav")
    pipeline.process()
    pipeline.drop("b/notes.txt", b"plain text, not audio", content_type="text/plain")
    pipeline.process()

    everything = pipeline.cli("ls", "--local", "--json", "--since", "1d").json
    failed = pipeline.cli("ls", "--local", "--json", "--status", "FAILED,REJECTED").json
    under_a = pipeline.cli("ls", "--local", "--json", "--prefix", "a/").json
    table = pipeline.cli("ls", "--local")

    assert everything["counts"] == {"COMPLETED": 2, "FAILED": 1, "REJECTED": 1}
    created = [row["created_at"] for row in everything["jobs"]]
    assert created == sorted(created, reverse=True)
    assert sorted(row["status"] for row in failed["jobs"]) == ["FAILED", "REJECTED"]
    assert [row["reason"] is not None for row in failed["jobs"]] == [True, True]
    assert {row["uri"] for row in under_a["jobs"]} == {
        f"s3://{pipeline.bucket}/a/{n}.wav" for n in ("one", "two")
    }
    assert table.code == 0
    assert "COMPLETED: 2" in table.out


def test_ls_with_an_unknown_status_or_age_is_a_usage_error(pipeline: Pipeline) -> None:
    for args in (("--status", "DONE"), ("--since", "yesterday")):
        with pytest.raises(SystemExit) as exit_:
            pipeline.cli("ls", "--local", *args)
        assert exit_.value.code == 2
