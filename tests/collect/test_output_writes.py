"""S3 refusing an output write: terminal with a code on the row for 4xx, retried for 5xx and throttling."""

import io

import pytest
from botocore.exceptions import ClientError

from lassodrop.collect.outputs import STEM_EXTENSIONS, OutputLayout
from lassodrop.messages import CheckMessage
from tests.collect.conftest import Pipeline
from tests.fixtures.aws import S3_MAX_KEY_BYTES, StrictS3

# 1,007 bytes of UTF-8 (504 characters): a key S3 takes as an input, but not with the outputs' suffixes.
LONG_KEY = "long/" + "é" * 499 + ".wav"


def check(object_id: str) -> CheckMessage:
    return CheckMessage(object_id, None, "first-check")


def listed_keys(pipeline: Pipeline) -> list[str]:
    listed = pipeline.stack.s3.list_objects_v2(Bucket=pipeline.stack.output_bucket)
    return [item["Key"] for item in listed.get("Contents", [])]


def test_the_strict_wrapper_refuses_keys_over_the_s3_limit_on_every_write_path(pipeline: Pipeline) -> None:
    s3 = StrictS3(pipeline.stack.s3)
    bucket = pipeline.stack.output_bucket
    longest_allowed, too_long = "k" * S3_MAX_KEY_BYTES, "é" * 512 + "x"

    s3.put_object(Bucket=bucket, Key=longest_allowed, Body=b"ok")
    with pytest.raises(ClientError, match="KeyTooLongError"):
        s3.put_object(Bucket=bucket, Key=too_long, Body=b"no")
    with pytest.raises(ClientError, match="KeyTooLongError"):
        s3.create_multipart_upload(Bucket=bucket, Key=too_long)
    with pytest.raises(ClientError, match="KeyTooLongError"):
        s3.upload_fileobj(io.BytesIO(b"no"), bucket, too_long)

    assert listed_keys(pipeline) == [longest_allowed]


def test_an_output_key_s3_refuses_as_too_long_fails_the_job_with_its_code_instead_of_retrying(
    pipeline: Pipeline,
) -> None:
    # Given a job whose input key leaves no room for the output keys (it never went through ingest's check)
    assert len(LONG_KEY.encode()) == 1007
    object_id = pipeline.drop(LONG_KEY)
    s3 = StrictS3(pipeline.stack.s3)

    # When collect copies its outputs to an S3 that enforces the key limit
    outcome = pipeline.collector(s3=s3).handle(check(object_id))

    # Then the job ended FAILED with the refusal on its row (no exception, so no retries into the DLQ)
    assert outcome == "FAILED"
    assert s3.refused
    row = pipeline.row(object_id)
    assert row["status"] == "FAILED"
    assert row["error"]["code"] == "OUTPUT_WRITE_REFUSED"
    assert "KeyTooLongError" in row["error"]["message"]
    assert "HTTP 400" in row["error"]["message"]
    assert len(row["error"]["message"]) < 500
    assert listed_keys(pipeline) == []
    assert [e["detail-type"] for e in pipeline.stack.events()] == ["Separation Failed"]


@pytest.mark.parametrize(
    ("suffix", "code", "status"),
    [("result.json", "AccessDenied", 403), ("residual.wav", "InvalidArgument", 400)],
)
def test_a_client_error_from_s3_on_an_output_write_is_terminal(
    pipeline: Pipeline, suffix: str, code: str, status: int
) -> None:
    object_id = pipeline.drop("refused.wav")
    s3 = StrictS3(pipeline.stack.s3)
    s3.refuse(suffix, code, status)

    outcome = pipeline.collector(s3=s3).handle(check(object_id))

    assert outcome == "FAILED"
    error = pipeline.row(object_id)["error"]
    assert error["code"] == "OUTPUT_WRITE_REFUSED"
    assert f"{code} (HTTP {status})" in error["message"]
    assert suffix in error["message"]


@pytest.mark.parametrize(
    ("code", "status"),
    [("InternalError", 500), ("SlowDown", 503), ("RequestTimeout", 400), ("Throttling", 429)],
)
def test_a_server_error_or_throttling_on_an_output_write_is_retried(
    pipeline: Pipeline, code: str, status: int
) -> None:
    # Given an S3 that fails the target's write once with a transient error
    object_id = pipeline.drop("transient.wav")
    s3 = StrictS3(pipeline.stack.s3)
    s3.refuse("target.wav", code, status)

    # When collect handles the check, the message fails (to be redelivered) and the job is handed back
    with pytest.raises(ClientError, match=code):
        pipeline.collector(s3=s3).handle(check(object_id))
    assert pipeline.row(object_id)["status"] == "SUBMITTED"

    # And the redelivery completes it once S3 answers again
    assert pipeline.collector().handle(check(object_id)) == "COMPLETED"


def test_the_longest_output_key_is_the_residual_with_the_longest_allowed_extension() -> None:
    layout = OutputLayout.for_input("separated/", "é.wav", "v1", None)

    longest = layout.longest_key()

    widest = max(len(ext) for ext in STEM_EXTENSIONS)
    assert longest.startswith("separated/é.wav/v1/residual.")
    assert len(longest.encode()) == len("separated/é.wav/v1/residual.".encode()) + widest
