"""End to end through the deployed handler: moto S3 -> SQS notification -> ingest -> emulator -> job row."""

import json
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from botocore.exceptions import ClientError

from lassodrop.jobs import Status, object_id_for
from lassodrop.messages import CheckQueue
from lassodrop.runtime import ConfigError
from lassodrop.webhook import WebhookReceiver
from lassodrop_local.emulator import EmulatorServer
from tests.fixtures.audio import riff_blob
from tests.fixtures.events import function_url_event, load_event, sqs_event
from tests.ingest.conftest import PROMPT, Ingest, Stack, sha256


def _only_row(stack: Stack) -> Any:
    rows = stack.rows()
    assert len(rows) == 1, rows
    return rows[0]


def test_dropped_file_reaches_audiolasso_byte_for_byte_and_is_submitted(
    stack: Stack, make_ingest: Any, emulator: EmulatorServer
) -> None:
    # Given a WAV dropped into the input bucket
    ingest = make_ingest(FIRST_CHECK_DELAY_SECONDS="45")
    ingest.record_check_sends()
    data = riff_blob(3 * 1024 * 1024 + 17)
    put = stack.drop("music/take.wav", data, ContentType="audio/wav")

    # When the S3 notification is delivered
    response = ingest(stack.receive_ingest())

    # Then the emulator holds exactly those bytes, and one job was submitted with the default prompt
    assert response == {"batchItemFailures": []}
    [upload] = emulator.state.uploads
    assert (upload.size, upload.sha256, upload.content_type) == (len(data), sha256(data), "audio/wav")
    [submission] = emulator.state.submissions
    assert submission["input"] == {"file_id": upload.file_id, "prompt": PROMPT}
    # And the row is SUBMITTED with the request id, keyed on bucket, key and ETag
    row = _only_row(stack)
    assert row.object_id == object_id_for(stack.bucket, "music/take.wav", etag=put["ETag"])
    assert (row.status, row.attempts, row.size, row.file_id) == (
        Status.SUBMITTED,
        1,
        len(data),
        upload.file_id,
    )
    assert row.request_id
    assert row.request_id.startswith("req_")
    assert row.status_url
    assert row.result_url
    # And the first status check is queued, delayed, with the contract's body
    [sent] = ingest.sent_checks
    assert (sent["QueueUrl"], sent["DelaySeconds"]) == (stack.check_queue_url, 45)
    assert json.loads(sent["MessageBody"]) == {
        "object_id": row.object_id,
        "request_id": row.request_id,
        "reason": "first-check",
        "link": 0,
    }
    assert stack.check_messages() == []  # not visible before its delay


def test_tricky_keys_are_decoded_once_end_to_end(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given keys with spaces, "+", "%" and non-ASCII characters (S3 URL-encodes them in the notification)
    keys = ["My Song+Live 100%/Déjà vu.wav", "a b+c%2B.wav"]
    for key in keys:
        stack.drop(key, riff_blob(2048), ContentType="audio/wav")

    # When both notifications are delivered in one batch
    response = ingest(stack.receive_ingest(expected=2))

    # Then each object was read under its real key and submitted
    assert response == {"batchItemFailures": []}
    assert sorted(row.key for row in stack.rows()) == sorted(keys)
    assert {row.status for row in stack.rows()} == {Status.SUBMITTED}
    assert sorted(u.file_name for u in _emulator_files(emulator)) == sorted(["Déjà vu.wav", "a b+c%2B.wav"])


def _emulator_files(emulator: EmulatorServer) -> list[Any]:
    return [emulator.state.get_file(upload.file_id) for upload in emulator.state.uploads]


def test_duplicate_events_for_one_object_version_submit_once(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given one object and its notification delivered twice (S3 is at-least-once)
    stack.drop("dup.wav", riff_blob(4096), ContentType="audio/wav")
    event = stack.receive_ingest()
    body = event["Records"][0]["body"]

    # When both copies arrive, in one batch and again later
    first = ingest(sqs_event(body, body))
    second = ingest(sqs_event(body))

    # Then exactly one job exists and one first check was queued
    assert first == second == {"batchItemFailures": []}
    assert len(emulator.state.submissions) == 1
    assert _only_row(stack).status == Status.SUBMITTED
    assert len(stack.check_messages()) == 1


@pytest.mark.parametrize(
    ("key", "body", "content_type", "code"),
    [
        ("empty.wav", b"", "audio/wav", "EMPTY_OBJECT"),
        ("notes.txt", b"just some text, not audio", "text/plain", "UNSUPPORTED_CONTENT_TYPE"),
        (
            "blob.bin",
            b"\x00\x01\x02 not a known container" * 10,
            "binary/octet-stream",
            "UNSUPPORTED_CONTENT_TYPE",
        ),
    ],
)
def test_unusable_objects_are_rejected_with_a_reason_and_nothing_is_uploaded(
    stack: Stack,
    ingest: Ingest,
    emulator: EmulatorServer,
    key: str,
    body: bytes,
    content_type: str,
    code: str,
) -> None:
    # Given an object AudioLasso cannot use
    stack.drop(key, body, ContentType=content_type)

    # When it is delivered
    response = ingest(stack.receive_ingest())

    # Then the record succeeds (terminal, not retried), the row says why, and nothing was sent
    assert response == {"batchItemFailures": []}
    row = _only_row(stack)
    assert row.status == Status.REJECTED
    assert row.error.code == code
    assert row.reason
    assert emulator.state.uploads == []
    assert emulator.state.submissions == []
    assert stack.check_messages() == []


def test_generic_content_type_is_sniffed_from_the_first_bytes(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a WAV uploaded as binary/octet-stream under a key with no extension
    stack.drop("recording", riff_blob(5000), ContentType="binary/octet-stream")

    # When it is delivered
    ingest(stack.receive_ingest())

    # Then it was sent as audio/wav
    [upload] = emulator.state.uploads
    assert upload.content_type == "audio/wav"
    assert _only_row(stack).content_type == "audio/wav"


def test_oversized_object_is_rejected_before_any_upload(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given an object whose HeadObject reports 600 MB. Storing 600 MB in moto is too heavy for a unit run, so
    # the object holds a few bytes and a botocore hook rewrites the ContentLength HeadObject returns.
    stack.drop("huge.wav", riff_blob(1024), ContentType="audio/wav")
    event = stack.receive_ingest()
    s3 = ingest.service.objects.client

    def report_600_mb(http_response: Any, parsed: dict[str, Any], **_: Any) -> None:
        parsed["ContentLength"] = 600_000_000

    s3.meta.events.register("after-call.s3.HeadObject", report_600_mb)

    # When it is delivered
    ingest(event)

    # Then it is rejected as too large and nothing reached AudioLasso
    row = _only_row(stack)
    assert (row.status, row.error.code) == (Status.REJECTED, "TOO_LARGE")
    assert "600000000" in row.reason
    assert emulator.state.uploads == []


def test_object_deleted_before_processing_is_rejected_as_gone(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a notification for an object deleted since
    stack.drop("gone.wav", riff_blob(1024), ContentType="audio/wav")
    event = stack.receive_ingest()
    stack.s3.delete_object(Bucket=stack.bucket, Key="gone.wav")

    # When it is delivered
    response = ingest(event)

    # Then the row records OBJECT_GONE and the message is not retried
    assert response == {"batchItemFailures": []}
    row = _only_row(stack)
    assert (row.status, row.error.code) == (Status.REJECTED, "OBJECT_GONE")
    assert emulator.state.uploads == []


def test_object_overwritten_after_the_event_is_rejected_as_changed(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a notification for content that was overwritten since (unversioned bucket: pinned by ETag)
    stack.drop("take.wav", riff_blob(1024), ContentType="audio/wav")
    first_event = stack.receive_ingest()
    stack.drop("take.wav", riff_blob(2048), ContentType="audio/wav")

    # When the first notification is delivered
    ingest(first_event)

    # Then the old version is rejected as changed, and the new one goes through on its own event
    assert _only_row(stack).error.code == "OBJECT_CHANGED"
    ingest(stack.receive_ingest())
    [upload] = emulator.state.uploads
    assert upload.size == 2048


def test_metadata_prompt_and_spans_are_sent(stack: Stack, ingest: Ingest, emulator: EmulatorServer) -> None:
    # Given an object carrying its own prompt and spans
    spans = [{"start": 1.5, "end": 4, "include": True}]
    stack.drop(
        "talks/panel/q.wav",
        riff_blob(1024),
        ContentType="audio/wav",
        Metadata={"prompt": "isolate the applause", "spans": json.dumps(spans)},
    )

    # When it is delivered
    ingest(stack.receive_ingest())

    # Then the submission uses them
    [submission] = emulator.state.submissions
    assert submission["input"]["prompt"] == "isolate the applause"
    assert submission["input"]["spans"] == spans


def test_longest_prefix_prompt_applies_without_metadata(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    stack.drop("talks/panel/q.wav", riff_blob(1024), ContentType="audio/wav")

    ingest(stack.receive_ingest())

    assert emulator.state.submissions[0]["input"]["prompt"] == "keep the moderator"


def test_malformed_spans_metadata_is_rejected(stack: Stack, ingest: Ingest, emulator: EmulatorServer) -> None:
    stack.drop("s.wav", riff_blob(1024), ContentType="audio/wav", Metadata={"spans": "[{start: 1}"})

    ingest(stack.receive_ingest())

    row = _only_row(stack)
    assert (row.status, row.error.code) == (Status.REJECTED, "INVALID_SPANS")
    assert emulator.state.uploads == []


def test_undecodable_encoded_prompt_metadata_is_rejected_not_retried(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given an object whose prompt metadata names a charset nobody knows
    metadata = {"prompt": "=?x-no-such-charset?q?isolate_the_vocals?="}
    stack.drop("p.wav", riff_blob(1024), ContentType="audio/wav", Metadata=metadata)

    # When it is delivered
    response = ingest(stack.receive_ingest())

    # Then it is rejected for good with a reason, instead of failing every delivery into the DLQ
    assert response == {"batchItemFailures": []}
    row = _only_row(stack)
    assert (row.status, row.error.code) == (Status.REJECTED, "INVALID_INPUT")
    assert "prompt" in row.reason
    assert emulator.state.uploads == []


def test_two_502s_from_create_upload_are_retried_and_one_job_is_submitted(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given AudioLasso answering 502 twice when the upload is created
    emulator.state.fail_next("create_file", 502, count=2)
    stack.drop("flaky.wav", riff_blob(2048), ContentType="audio/wav")

    # When the object is delivered
    response = ingest(stack.receive_ingest())

    # Then the client's retries absorb it: one upload, one job
    assert response == {"batchItemFailures": []}
    assert len(emulator.state.uploads) == 1
    assert len(emulator.state.submissions) == 1
    assert _only_row(stack).status == Status.SUBMITTED


def test_502_on_submit_fails_the_record_and_the_redelivery_submits_once(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given submit answering 502 twice (the client never repeats a submit that may have reached the service)
    emulator.state.fail_next("submit", 502, count=2)
    stack.drop("flaky.wav", riff_blob(2048), ContentType="audio/wav")
    event = stack.receive_ingest()

    # When the message is delivered three times (SQS redelivers after each failure)
    results = [ingest(event) for _ in range(3)]

    # Then the first two fail retryably, the lease was released each time, and the third submits one job
    failed = [{"itemIdentifier": event["Records"][0]["messageId"]}]
    assert results == [{"batchItemFailures": failed}] * 2 + [{"batchItemFailures": []}]
    assert len(emulator.state.submissions) == 1
    row = _only_row(stack)
    assert (row.status, row.attempts) == (Status.SUBMITTED, 3)


def test_upload_dropped_midway_is_retried_from_a_fresh_get_object(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given an upload connection that drops after 1 MiB
    data = riff_blob(3 * 1024 * 1024)
    put = stack.drop("drop.wav", data, ContentType="audio/wav")
    emulator.state.drop_upload_after(1024 * 1024)
    ingest.count_get_object()

    # When the object is delivered
    response = ingest(stack.receive_ingest())

    # Then the object was opened again (pinned to the same version) and the emulator got the exact bytes once
    assert response == {"batchItemFailures": []}
    full_reads = [call for call in ingest.get_object_calls if "Range" not in call]
    assert len(full_reads) == 2
    assert {call["VersionId"] for call in full_reads} == {put["VersionId"]}
    [upload] = emulator.state.uploads
    assert (upload.size, upload.sha256) == (len(data), sha256(data))
    assert len(emulator.state.submissions) == 1


def test_upload_interrupted_by_a_crash_is_redone_after_its_lease_expires(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a row left UPLOADING by a worker that crashed, its lease long expired
    put = stack.drop("crash.wav", riff_blob(1024), ContentType="audio/wav")
    stack.put_stale_upload_row("crash.wav", put, lease_until=1_000)

    # When the message is redelivered
    response = ingest(stack.receive_ingest())

    # Then this worker reclaims the row, uploads and submits; the attempt is counted
    assert response == {"batchItemFailures": []}
    row = _only_row(stack)
    assert (row.status, row.attempts) == (Status.SUBMITTED, 2)
    assert len(emulator.state.submissions) == 1


def test_duplicate_event_during_a_live_upload_is_acknowledged_at_once(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a row another worker is uploading right now
    put = stack.drop("busy.wav", riff_blob(1024), ContentType="audio/wav")
    stack.put_stale_upload_row("busy.wav", put, lease_until=4_000_000_000)
    event = stack.receive_ingest()

    # When a duplicate event arrives
    response = ingest(event)

    # Then it is acknowledged (the uploading worker's own message carries the object), and nothing was sent
    # or changed
    assert response == {"batchItemFailures": []}
    row = _only_row(stack)
    assert (row.status, row.attempts, row.lease_until) == (Status.UPLOADING, 1, 4_000_000_000)
    assert emulator.state.uploads == []


def test_one_failing_record_fails_alone_in_a_batch(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given three objects, and AudioLasso refusing the first submit with its own 502
    for key in ("one.wav", "two.wav", "three.wav"):
        stack.drop(key, riff_blob(1024), ContentType="audio/wav")
    event = stack.receive_ingest(expected=3)
    emulator.state.fail_next("submit", 502)

    # When the batch is processed
    response = ingest(event)

    # Then exactly that record is reported failed, and the other two were submitted
    first_message = event["Records"][0]["messageId"]
    assert response == {"batchItemFailures": [{"itemIdentifier": first_message}]}
    assert len(emulator.state.submissions) == 2


def test_check_enqueue_failure_is_retried_without_resubmitting(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a check queue that refuses the first message
    stack.drop("q.wav", riff_blob(1024), ContentType="audio/wav")
    event = stack.receive_ingest()
    sqs = ingest.service.checks.sqs
    real_send = sqs.send_message
    calls: list[dict[str, Any]] = []

    def flaky_send(**kwargs: Any) -> Any:
        calls.append(kwargs)
        if len(calls) == 1:
            raise ClientError(
                {"Error": {"Code": "ServiceUnavailable", "Message": "try later"}}, "SendMessage"
            )
        return real_send(**kwargs)

    monkeypatch.setattr(sqs, "send_message", flaky_send)

    # When the message is delivered, fails, and is redelivered
    first = ingest(event)
    second = ingest(event)

    # Then the first delivery failed after recording the submission, and the second only queued the check
    assert first == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert second == {"batchItemFailures": []}
    assert len(emulator.state.submissions) == 1
    row = _only_row(stack)
    assert row.status == Status.SUBMITTED
    assert row.first_check_enqueued_at
    assert stack.check_messages() == [
        {"object_id": row.object_id, "request_id": row.request_id, "reason": "first-check", "link": 0}
    ]
    # And a later duplicate starts no second polling chain
    assert ingest(event) == {"batchItemFailures": []}
    assert stack.check_messages() == []


def test_an_event_delivered_three_times_around_its_submit_queues_only_copies_of_the_first_link(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the same S3 event delivered twice more just after the submit, before its first check is noted
    stack.drop("thrice.wav", riff_blob(1024), ContentType="audio/wav")
    event = stack.receive_ingest()
    jobs = ingest.service.jobs
    real_note = jobs.mark_check_enqueued
    duplicates: list[dict[str, Any]] = []
    entered: list[bool] = []

    def duplicates_first(object_id: str) -> Any:
        if not entered:  # only the first delivery lets the two duplicates in
            entered.append(True)
            duplicates.extend([ingest(event), ingest(event)])
        return real_note(object_id)

    monkeypatch.setattr(jobs, "mark_check_enqueued", duplicates_first)

    # When the first delivery is processed (the two others run inside it)
    response = ingest(event)

    # Then one job was submitted, every delivery was acknowledged, and each check queued is link 0 of the
    # job's one chain: collect keeps one copy of a link and drops the others unread
    assert response == {"batchItemFailures": []}
    assert duplicates == [{"batchItemFailures": []}] * 2
    assert len(emulator.state.submissions) == 1
    checks = stack.check_messages()
    assert 1 <= len(checks) <= 3
    assert {(check["reason"], check["link"]) for check in checks} == {("first-check", 0)}


def test_webhook_url_carries_an_opaque_id_and_the_rows_unguessable_token(
    stack: Stack, make_ingest: Any, emulator: EmulatorServer
) -> None:
    # Given webhooks enabled
    ingest = make_ingest(WEBHOOK_BASE_URL="https://hooks.example.com/")
    stack.drop("private-folder/w.wav", riff_blob(1024), ContentType="audio/wav")

    # When an object is submitted
    ingest(stack.receive_ingest())

    # Then the webhook URL names neither bucket nor key, only the row's webhook id and its token
    row = _only_row(stack)
    url = emulator.state.submissions[0]["webhookUrl"]
    query = parse_qs(urlsplit(url).query)
    assert url.startswith("https://hooks.example.com/?")
    assert set(query) == {"id", "token"}
    for private in (stack.bucket, "private-folder", "w.wav", row.object_id):
        assert private not in url
        assert quote(private, safe="") not in url
    assert query["id"] == [row.webhook_id]
    assert query["token"] == [row.webhook_token]
    assert len(row.webhook_token or "") >= 43
    # And the id resolves to the row with one GetItem, through a pointer that expires with the row (written
    # a moment after it, so up to a few seconds later)
    pointer = stack.jobs().resolve_webhook(query["id"][0])
    assert pointer is not None
    assert pointer.points_to == row.object_id
    assert 0 <= pointer.expires_at_epoch - (row.expires_at_epoch or 0) <= 5


def test_the_webhook_url_ingest_sent_enqueues_a_check(
    stack: Stack, make_ingest: Any, emulator: EmulatorServer
) -> None:
    # Given a job submitted with webhooks enabled
    ingest = make_ingest(WEBHOOK_BASE_URL="https://hooks.example.com/")
    stack.drop("w.wav", riff_blob(1024), ContentType="audio/wav")
    ingest(stack.receive_ingest())
    stack.check_messages()  # the first check ingest queued
    sent = parse_qs(urlsplit(emulator.state.submissions[0]["webhookUrl"]).query)
    query = {name: values[0] for name, values in sent.items()}
    receiver = WebhookReceiver(stack.jobs(), CheckQueue(stack.sqs, stack.check_queue_url))

    # When the provider calls it, and someone calls it with the same id and a wrong token
    forged = receiver.handle(function_url_event({**query, "token": "x" * 43}, {}))
    called = receiver.handle(function_url_event(query, {}))

    # Then the forgery is refused as an unknown job would be, and the real call enqueues a check of the row
    row = _only_row(stack)
    assert (forged.status_code, forged.body["error"]["code"]) == (403, "FORBIDDEN")
    assert called.status_code == 202
    assert stack.check_messages() == [
        {"object_id": row.object_id, "request_id": row.request_id, "reason": "webhook"}
    ]


def test_a_retried_upload_gets_a_new_webhook_id_and_the_old_one_stops_working(
    stack: Stack, make_ingest: Any, emulator: EmulatorServer
) -> None:
    # Given a submit refused with a 502 after the webhook pointer was written, and the redelivery submitted
    ingest = make_ingest(WEBHOOK_BASE_URL="https://hooks.example.com/")
    emulator.state.fail_next("submit", 502)
    stack.drop("w.wav", riff_blob(1024), ContentType="audio/wav")
    event = stack.receive_ingest()
    ingest(event)
    ingest(event)

    # Then two pointers exist, and only the id the row names (the one sent) reaches it
    row = _only_row(stack)
    ids = [item["object_id"].removeprefix("hook#") for item in stack.webhook_pointers()]
    assert len(ids) == 2
    assert row.webhook_id in ids
    receiver = WebhookReceiver(stack.jobs(), CheckQueue(stack.sqs, stack.check_queue_url))
    stale = next(i for i in ids if i != row.webhook_id)
    reply = receiver.handle(function_url_event({"id": stale, "token": row.webhook_token or ""}, {}))
    assert reply.status_code == 403


def test_direct_s3_notification_is_processed(stack: Stack, ingest: Ingest, emulator: EmulatorServer) -> None:
    # Given the sample direct S3 event, pointed at a real object
    put = stack.drop("incoming/interview.wav", riff_blob(1024), ContentType="audio/wav")
    stack.receive_ingest()
    event = load_event("s3-put.json")
    obj = event["Records"][0]["s3"]["object"]
    event["Records"][0]["s3"]["bucket"]["name"] = stack.bucket
    obj.update(eTag=put["ETag"].strip('"'), size=1024)
    del obj["versionId"]

    # When the function is invoked with it directly
    response = ingest(event)

    # Then the object is submitted
    assert response == {"outcomes": ["SUBMITTED"]}
    assert len(emulator.state.submissions) == 1


@pytest.mark.parametrize("sample", ["eventbridge-object-created.json", "sqs-eventbridge.json"])
def test_eventbridge_events_direct_and_queued_are_processed(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer, sample: str
) -> None:
    # Given an EventBridge "Object Created" sample pointed at a real object (EventBridge keys are not encoded)
    event = load_event(sample)
    eb = event if "detail" in event else json.loads(event["Records"][0]["body"])
    key = eb["detail"]["object"]["key"]
    put = stack.drop(key, riff_blob(4096), ContentType="audio/wav")
    eb["detail"]["bucket"]["name"] = stack.bucket
    eb["detail"]["object"].update(etag=put["ETag"].strip('"'), size=4096)
    del eb["detail"]["object"]["version-id"]
    if "Records" in event:
        event["Records"][0]["body"] = json.dumps(eb)

    # When it is delivered
    ingest(event)

    # Then the object under that exact key was submitted
    row = _only_row(stack)
    assert (row.key, row.status) == (key, Status.SUBMITTED)
    assert len(emulator.state.submissions) == 1


def test_test_event_and_folder_keys_are_skipped_without_rows(stack: Stack, ingest: Ingest) -> None:
    response_test = ingest(load_event("sqs-s3-test-event.json"))
    response_folder = ingest(load_event("sqs-s3-folder-key.json"))

    assert response_test == response_folder == {"batchItemFailures": []}
    assert stack.rows() == []


def test_versioned_object_is_keyed_and_read_by_version(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a versioned bucket whose notification names the version
    stack.s3.put_bucket_versioning(Bucket=stack.bucket, VersioningConfiguration={"Status": "Enabled"})
    first = stack.drop("v.wav", riff_blob(1024), ContentType="audio/wav")
    stack.drop("v.wav", riff_blob(2048), ContentType="audio/wav")
    event = stack.receive_ingest(expected=2)
    body = json.loads(event["Records"][0]["body"])
    body["Records"][0]["s3"]["object"]["versionId"] = first["VersionId"]  # moto leaves it out; S3 sends it
    ingest.count_get_object()

    # When the first version's notification is delivered after the object was overwritten
    ingest(sqs_event(body))

    # Then the first version's bytes were sent, read by VersionId
    row = _only_row(stack)
    assert row.object_id == object_id_for(stack.bucket, "v.wav", version_id=first["VersionId"])
    assert emulator.state.uploads[0].size == 1024
    assert all(call.get("VersionId") == first["VersionId"] for call in ingest.get_object_calls)


def test_version_found_by_head_object_is_recorded_and_every_read_pinned_to_it(
    stack: Stack, ingest: Ingest, emulator: EmulatorServer
) -> None:
    # Given a versioned bucket whose notification names no version (moto's never do)
    put = stack.drop("noversion.wav", riff_blob(2048), ContentType="binary/octet-stream")
    event = stack.receive_ingest()
    assert "versionId" not in json.loads(event["Records"][0]["body"])["Records"][0]["s3"]["object"]
    ingest.count_get_object()

    # When it is delivered
    ingest(event)

    # Then the row is still keyed on the ETag, but records the version HeadObject found
    row = _only_row(stack)
    assert row.object_id == object_id_for(stack.bucket, "noversion.wav", etag=put["ETag"])
    assert row.version_id == put["VersionId"]
    # And every read (the sniffing ranged GET and the upload) asked for that version
    assert len(ingest.get_object_calls) == 2
    assert all(call.get("VersionId") == put["VersionId"] for call in ingest.get_object_calls)
    assert emulator.state.uploads[0].size == 2048


def test_keys_outside_the_input_prefix_are_skipped_without_rows(
    stack: Stack, make_ingest: Any, emulator: EmulatorServer
) -> None:
    # Given an input prefix, and an object created elsewhere in the bucket (outputs written beside inputs)
    ingest = make_ingest(INPUT_PREFIX="incoming/")
    stack.drop("outputs/take.wav/target.wav", riff_blob(1024), ContentType="audio/wav")

    # When its notification arrives
    response = ingest(stack.receive_ingest())

    # Then nothing happens: no row, no upload (no trigger loop)
    assert response == {"batchItemFailures": []}
    assert stack.rows() == []
    assert emulator.state.uploads == []


def test_a_missing_setting_fails_the_invocation_naming_it(make_ingest: Any) -> None:
    ingest = make_ingest(DEFAULT_PROMPT="")

    with pytest.raises(ConfigError, match="DEFAULT_PROMPT"):
        ingest(load_event("sqs-s3.json"))
