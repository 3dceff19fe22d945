"""Every accepted event shape, from the real-shaped samples in events/, parsed into ObjectRefs."""

import json
from urllib.parse import quote_plus

import pytest

from lassodrop.ingest.events import (
    ObjectRef,
    UnrecognizedEventError,
    is_sqs_batch,
    notification_body,
    parse_event,
    parse_message_body,
)
from tests.fixtures.events import SAMPLES, load_event, s3_notification, s3_record

BUCKET = "lassodrop-input-123456789012-us-east-1"


def _refs_in_sqs_sample(name: str) -> list[list[ObjectRef]]:
    event = load_event(name)
    assert is_sqs_batch(event)
    return [parse_message_body(record["body"]) for record in event["Records"]]


def test_every_sample_event_parses() -> None:
    for name in SAMPLES["ingest"]:
        event = load_event(name)
        if is_sqs_batch(event):
            for record in event["Records"]:
                parse_message_body(record["body"])
        else:
            parse_event(event)


def test_direct_s3_notification_names_the_version() -> None:
    event = load_event("s3-put.json")

    assert not is_sqs_batch(event)
    assert parse_event(event) == [
        ObjectRef(
            bucket=BUCKET,
            key="incoming/interview.wav",
            version_id="096fKKXTRTtl3on89fVO.nfljtsv6qko",
            etag="b1946ac92492d2347c6235b4d2611184",
            size=1048620,
            event_name="ObjectCreated:Put",
            event_time="2026-11-24T18:30:12.345Z",
        )
    ]


def test_s3_notification_in_an_sqs_body_without_version_keeps_the_etag() -> None:
    [[ref]] = _refs_in_sqs_sample("sqs-s3.json")

    assert (ref.key, ref.version_id, ref.etag) == (
        "incoming/interview.wav",
        None,
        "b1946ac92492d2347c6235b4d2611184",
    )


def test_s3_keys_are_url_decoded_once() -> None:
    [refs] = _refs_in_sqs_sample("sqs-s3-tricky-keys.json")

    assert [ref.key for ref in refs] == ["incoming/My Song+Live 100%/Déjà vu.wav", "incoming/a b+c.wav"]


def test_a_literal_percent_sequence_in_a_key_survives_decoding() -> None:
    # "%2B" typed into a key name must not turn into "+": one unquote_plus, never two
    key = "odd %2B name+.wav"
    body = s3_notification(s3_record(quote_plus(key)))

    [ref] = parse_message_body(json.dumps(body))

    assert ref.key == key


def test_eventbridge_keys_are_taken_as_they_are() -> None:
    [ref] = parse_event(load_event("eventbridge-object-created.json"))

    assert ref.key == "incoming/My Song+Live 100%/Déjà vu.wav"
    assert (ref.version_id, ref.etag, ref.size) == (
        "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrH",
        "d41d8cd98f00b204e9800998ecf8427e-2",
        2097196,
    )


def test_eventbridge_event_in_an_sqs_body() -> None:
    [[ref]] = _refs_in_sqs_sample("sqs-eventbridge.json")

    assert (ref.bucket, ref.key) == (BUCKET, "incoming/podcast episode 12.mp3")


def test_s3_test_event_yields_nothing() -> None:
    assert _refs_in_sqs_sample("sqs-s3-test-event.json") == [[]]


def test_folder_key_is_recognised() -> None:
    [[ref]] = _refs_in_sqs_sample("sqs-s3-folder-key.json")

    assert ref.is_folder
    assert ref.key == "incoming/new folder/"


def test_multi_record_batch_yields_every_object() -> None:
    refs = _refs_in_sqs_sample("sqs-batch.json")

    assert [[ref.key for ref in message] for message in refs] == [
        ["incoming/take 1.wav"],
        ["incoming/take 2.flac"],
        ["incoming/take 3.m4a"],
    ]


def test_every_record_of_one_notification_is_returned() -> None:
    body = s3_notification(
        s3_record("one.wav"),
        s3_record("two.wav"),
        s3_record("gone.wav", "ObjectRemoved:Delete"),
    )

    assert [ref.key for ref in parse_message_body(json.dumps(body))] == ["one.wav", "two.wav"]


def test_sns_wrapped_s3_notification_is_unwrapped() -> None:
    sns = {"Type": "Notification", "Message": json.dumps(s3_notification(s3_record("via+sns.wav")))}

    [ref] = parse_message_body(json.dumps(sns))

    assert ref.key == "via sns.wav"


def test_other_eventbridge_detail_types_yield_nothing() -> None:
    event = load_event("eventbridge-object-created.json")
    event["detail-type"] = "Object Deleted"

    assert parse_event(event) == []


@pytest.mark.parametrize("body", ["not json", "[1, 2]", json.dumps({"hello": "world"})])
def test_unrecognised_bodies_raise_so_the_message_reaches_the_dlq(body: str) -> None:
    with pytest.raises(UnrecognizedEventError):
        parse_message_body(body)


@pytest.mark.parametrize(
    "ref",
    [
        ObjectRef(
            BUCKET, "My Song+Live 100%/Déjà vu.wav", "v1", "abc", 10, "ObjectCreated:Put", "2026-01-01T00:00Z"
        ),
        ObjectRef(BUCKET, "a b+c%2B.wav", None, "e1", None, "Object Created:PutObject"),
    ],
)
def test_a_parked_object_is_re_sent_as_its_own_notification_and_reads_back_the_same(ref: ObjectRef) -> None:
    [parsed] = parse_message_body(notification_body(ref))

    expected_name = ref.event_name if ref.event_name.startswith("ObjectCreated:") else "ObjectCreated:Put"
    assert parsed == ObjectRef(
        ref.bucket, ref.key, ref.version_id, ref.etag, ref.size, expected_name, ref.event_time
    )
