"""Turn every event shape the ingest function accepts into typed `ObjectRef` records.

Accepted: an SQS message whose body is an S3 event notification, an EventBridge "Object Created" event or an
SNS notification wrapping an S3 notification; and, invoked directly, an S3 notification or an
EventBridge event.
S3 notification keys are URL-encoded (`a b+c.wav` arrives as `a+b%2Bc.wav`) and are decoded here, once;
EventBridge keys arrive decoded and are kept as they are.
"""

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, unquote_plus


class UnrecognizedEventError(ValueError):
    """The payload is none of the accepted shapes (the message should land in the DLQ to be looked at)."""


@dataclass(frozen=True)
class ObjectRef:
    """One created object as an event describes it (the object may have changed or gone since)."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None
    size: int | None = None
    event_name: str = ""
    event_time: str | None = None

    @property
    def is_folder(self) -> bool:
        return self.key.endswith("/")


def is_sqs_batch(event: Mapping[str, Any]) -> bool:
    records = event.get("Records") or []
    return bool(records) and all(r.get("eventSource") == "aws:sqs" for r in records)


def parse_message_body(body: str) -> list[ObjectRef]:
    """Records in one SQS message body (empty for `s3:TestEvent` and events about anything but creation)."""
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        raise UnrecognizedEventError(f"message body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise UnrecognizedEventError("message body is not a JSON object")
    if payload.get("Type") == "Notification" and isinstance(payload.get("Message"), str):
        return parse_message_body(payload["Message"])
    return parse_event(payload)


def parse_event(event: Mapping[str, Any]) -> list[ObjectRef]:
    """Records in an S3 notification or an EventBridge event (a direct invocation or a decoded SQS body)."""
    if event.get("Event") == "s3:TestEvent":
        return []
    if "Records" in event:
        return list(_s3_notification_refs(event["Records"]))
    if event.get("source") == "aws.s3" and "detail" in event:
        return _eventbridge_refs(event)
    raise UnrecognizedEventError(f"not an S3 notification or EventBridge event (keys: {sorted(event)})")


def _s3_notification_refs(records: list[Mapping[str, Any]]) -> Iterator[ObjectRef]:
    for record in records:
        name = str(record.get("eventName", ""))
        if record.get("eventSource") != "aws:s3" or not name.startswith("ObjectCreated:"):
            continue
        s3 = record["s3"]
        obj = s3["object"]
        yield ObjectRef(
            bucket=s3["bucket"]["name"],
            key=unquote_plus(obj["key"]),
            version_id=obj.get("versionId") or None,
            etag=_bare_etag(obj.get("eTag")),
            size=_optional_int(obj.get("size")),
            event_name=name,
            event_time=record.get("eventTime"),
        )


def _eventbridge_refs(event: Mapping[str, Any]) -> list[ObjectRef]:
    if event.get("detail-type") != "Object Created":
        return []
    detail = event["detail"]
    obj = detail["object"]
    return [
        ObjectRef(
            bucket=detail["bucket"]["name"],
            key=obj["key"],
            version_id=obj.get("version-id") or None,
            etag=_bare_etag(obj.get("etag")),
            size=_optional_int(obj.get("size")),
            event_name=f"Object Created:{detail.get('reason', '')}".rstrip(":"),
            event_time=event.get("time"),
        )
    ]


def notification_body(ref: ObjectRef) -> str:
    """One object's own S3 notification, as a message body that `parse_message_body` reads back as `ref`.

    A parked object is re-sent alone in this shape whatever it arrived in (a batch, EventBridge, a direct
    invocation), so its next delivery handles just it, exactly as the first did.
    """
    obj: dict[str, Any] = {"key": quote_plus(ref.key, safe="/")}
    obj |= {"versionId": ref.version_id} if ref.version_id else {}
    obj |= {"eTag": ref.etag} if ref.etag else {}
    obj |= {"size": ref.size} if ref.size is not None else {}
    record: dict[str, Any] = {
        "eventSource": "aws:s3",
        "eventName": ref.event_name if ref.event_name.startswith("ObjectCreated:") else "ObjectCreated:Put",
        "s3": {"bucket": {"name": ref.bucket}, "object": obj},
    }
    record |= {"eventTime": ref.event_time} if ref.event_time else {}
    return json.dumps({"Records": [record]})


def _bare_etag(etag: Any) -> str | None:
    # Events carry the ETag bare, HeadObject quotes it: the job key always uses the bare form.
    bare = str(etag).strip('"') if etag else ""
    return bare or None


def _optional_int(value: Any) -> int | None:
    return int(value) if value is not None else None
