"""`lassodrop redrive`: dead-letter messages go back to their queue and are processed."""

import json

from lassodrop.jobs import Status
from lassodrop_ops import messages
from tests.ops.conftest import Pipeline


def test_redrive_moves_ingest_and_check_dead_letters_back_and_they_are_processed(pipeline: Pipeline) -> None:
    # Given a notification and a status check that ended in their dead-letter queues
    put = pipeline.drop("dead/letter.wav")
    pipeline.discard_notifications()
    notification = messages.object_created(
        pipeline.bucket, "dead/letter.wav", version_id=None, etag=put["ETag"]
    )
    pipeline.stack.sqs.send_message(QueueUrl=pipeline.url("IngestDLQ"), MessageBody=notification)
    pipeline.drop("dead/check.wav")
    pipeline.ingest()
    [checked] = [row for row in pipeline.rows() if row.key == "dead/check.wav"]
    check = pipeline.stack.sqs.receive_message(QueueUrl=pipeline.url("CheckQueue"))["Messages"][0]
    pipeline.stack.sqs.send_message(QueueUrl=pipeline.url("CheckDLQ"), MessageBody=check["Body"])
    pipeline.stack.sqs.delete_message(
        QueueUrl=pipeline.url("CheckQueue"), ReceiptHandle=check["ReceiptHandle"]
    )

    # When both are redriven, and the pipeline runs
    ingest = pipeline.cli("redrive", "ingest", "--local", "--json")
    both = pipeline.cli("redrive", "--local", "--json")
    pipeline.process()

    # Then each was moved once, the queues are empty, and both files completed
    assert (ingest.code, ingest.json) == (0, {"moved": {"ingest": 1}})
    assert both.json == {"moved": {"ingest": 0, "check": 1}}
    assert json.loads(check["Body"])["object_id"] == checked.object_id
    for queue in ("IngestDLQ", "CheckDLQ"):
        assert "Messages" not in pipeline.stack.sqs.receive_message(QueueUrl=pipeline.url(queue))
    assert {row.key: row.status for row in pipeline.rows()} == {
        "dead/letter.wav": Status.COMPLETED,
        "dead/check.wav": Status.COMPLETED,
    }
