"""`lassodrop retry`: a new attempt at the same object version, the earlier attempts kept."""

import contextlib

import pytest

from lassodrop.jobs import SUBMIT_UNCONFIRMED, Job, JobError, Status
from tests.ops.conftest import Pipeline


def _only_row(pipeline: Pipeline) -> Job:
    [row] = pipeline.rows()
    return row


def test_a_failed_file_retried_completes_and_keeps_both_attempts(pipeline: Pipeline) -> None:
    # Given a file whose job AudioLasso failed
    pipeline.emulator.state.fail_next_jobs(1)
    pipeline.drop("flaky.wav")
    pipeline.process()
    failed = _only_row(pipeline)
    assert failed.status is Status.FAILED

    # When it is retried by its S3 URI with another prompt, and the pipeline runs
    result = pipeline.cli(
        "retry", f"s3://{pipeline.bucket}/flaky.wav", "--prompt", "keep the drums", "--local", "--json"
    )
    pipeline.process()

    # Then the same row completed as attempt 2 with that prompt, and attempt 1 is in its history
    assert result.code == 0
    assert [(o["object_id"], o["action"]) for o in result.json] == [(failed.object_id, "reopened")]
    row = _only_row(pipeline)
    assert (row.object_id, row.status, row.attempts) == (failed.object_id, Status.COMPLETED, 2)
    assert (row.prompt, row.prompt_source) == ("keep the drums", "override")
    [first] = row.history or []
    assert (first.attempt, first.status, first.request_id) == (1, "FAILED", failed.request_id)
    assert first.error == failed.error
    assert row.request_id != failed.request_id
    assert [s["input"]["prompt"] for s in pipeline.emulator.state.submissions][-1] == "keep the drums"
    # And status shows both attempts
    [shown] = pipeline.cli("status", f"s3://{pipeline.bucket}/flaky.wav", "--local", "--json").json
    assert [(p["attempt"], p["status"]) for p in shown["history"]] == [(1, "FAILED")]
    assert shown["status"] == "COMPLETED"


def test_retry_by_status_with_dry_run_changes_nothing(pipeline: Pipeline) -> None:
    # Given two failed files
    pipeline.emulator.state.fail_next_jobs(2)
    pipeline.drop("one.wav")
    pipeline.drop("two.wav")
    pipeline.process()
    before = sorted(pipeline.rows(), key=lambda job: job.object_id)

    # When every FAILED row is retried with --dry-run
    result = pipeline.cli("retry", "--status", "FAILED", "--dry-run", "--local", "--json")

    # Then it says what it would do, and no row changed and nothing was queued
    assert result.code == 0
    assert sorted(o["action"] for o in result.json) == ["would-reopen", "would-reopen"]
    assert all("-> RECEIVED as attempt 2" in o["detail"] for o in result.json)
    assert sorted(pipeline.rows(), key=lambda job: job.object_id) == before
    assert pipeline.ingest() == 0


def test_a_submit_unconfirmed_row_is_refused_without_force_and_retried_with_it(pipeline: Pipeline) -> None:
    # Given a row whose submit may have reached AudioLasso unanswered
    pipeline.emulator.state.fail_next("submit", 504, process=True)
    pipeline.drop("maybe-paid.wav")
    pipeline.ingest()
    row = _only_row(pipeline)
    assert row.error == JobError(SUBMIT_UNCONFIRMED, row.error.message if row.error else "")
    submissions = len(pipeline.emulator.state.submissions)
    uri = f"s3://{pipeline.bucket}/maybe-paid.wav"

    # When it is retried without --force
    refused = pipeline.cli("retry", uri, "--local")

    # Then it is refused, saying why, and nothing changed
    assert refused.code == 1
    assert "second paid job" in refused.err
    assert "--force" in refused.err
    assert _only_row(pipeline) == row
    # And the help of --force names the risk
    help_text = _help(pipeline, "retry")
    assert "second paid job" in " ".join(help_text.split())

    # When it is retried with --force
    forced = pipeline.cli("retry", uri, "--force", "--local")
    pipeline.process()

    # Then it was submitted again and completed
    assert forced.code == 0
    assert len(pipeline.emulator.state.submissions) == submissions + 1
    assert _only_row(pipeline).status is Status.COMPLETED


def test_retry_of_a_job_in_progress_or_unknown_exits_1(pipeline: Pipeline) -> None:
    pipeline.drop("busy.wav")
    pipeline.ingest()  # SUBMITTED, not collected

    busy = pipeline.cli("retry", f"s3://{pipeline.bucket}/busy.wav", "--local", "--json")
    unknown = pipeline.cli("retry", f"s3://{pipeline.bucket}/nothing.wav", "--local", "--json")

    assert (busy.code, [o["action"] for o in busy.json]) == (1, ["skipped"])
    assert (unknown.code, [o["action"] for o in unknown.json]) == (1, ["not-found"])
    assert _only_row(pipeline).status is Status.SUBMITTED
    # And naming both URIs and --status, or neither, or a status that cannot be retried, is a usage error
    for args in ((f"s3://{pipeline.bucket}/busy.wav", "--status", "FAILED"), (), ("--status", "SUBMITTED")):
        with pytest.raises(SystemExit) as usage:
            pipeline.cli("retry", *args, "--local")
        assert usage.value.code == 2, args


def _help(pipeline: Pipeline, command: str) -> str:
    with contextlib.suppress(SystemExit):
        pipeline.cli(command, "--help")
    return pipeline.capsys.readouterr().out
