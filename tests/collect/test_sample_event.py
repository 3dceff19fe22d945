"""The sample in events/ for collect, handed to the deployed handler."""

import json

from tests.collect.conftest import OUTPUT_PREFIX, Pipeline, check_queue_arn
from tests.fixtures.events import load_event
from tests.fixtures.handlers import FakeLambdaContext, load_handler


def test_the_sample_first_check_collects_its_job(pipeline: Pipeline, environment: dict[str, str]) -> None:
    # Given the sample check message, pointed at a submitted job and delivered from the stack's check queue
    object_id = pipeline.drop("incoming/interview.wav")
    event = load_event("sqs-check.json")
    [record] = event["Records"]
    check = json.loads(record["body"])
    assert set(check) == {"object_id", "request_id", "reason"}
    check.update(object_id=object_id, request_id=pipeline.row(object_id)["request_id"])
    record.update(body=json.dumps(check), eventSourceARN=check_queue_arn(pipeline))

    # When the collect handler takes it
    result = load_handler("collect").lambda_handler(event, FakeLambdaContext("lassodrop-collect"))

    # Then the job is collected: stems written, row finished, completion published
    assert check["reason"] == "first-check"
    assert result == {"batchItemFailures": []}
    assert pipeline.row(object_id)["status"] == "COMPLETED"
    listing = pipeline.stack.s3.list_objects_v2(Bucket=pipeline.stack.output_bucket)
    prefix = pipeline.folder(object_id)
    assert prefix.startswith(f"{OUTPUT_PREFIX}incoming/interview.wav/")
    assert sorted(o["Key"] for o in listing["Contents"]) == [
        f"{prefix}{name}" for name in ("residual.wav", "result.json", "target.wav")
    ]
    assert [e["detail-type"] for e in pipeline.stack.events()] == ["Separation Completed"]
