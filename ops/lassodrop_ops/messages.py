"""Messages for the ingest queue in the shape ingest already parses: an S3 "ObjectCreated" notification."""

from __future__ import annotations

import json
from urllib.parse import quote_plus

from lassodrop.jobs import Job, object_id_for

EVENT_NAME = "ObjectCreated:Put"


def object_created(bucket: str, key: str, *, version_id: str | None, etag: str | None) -> str:
    """The body S3 would send for this object version (the key URL-encoded, as S3 does)."""
    obj: dict[str, str] = {"key": quote_plus(key, safe="/")}
    obj |= {"versionId": version_id} if version_id else {}
    obj |= {"eTag": etag.strip('"')} if etag else {}
    record = {
        "eventSource": "aws:s3",
        "eventName": EVENT_NAME,
        "s3": {"bucket": {"name": bucket}, "object": obj},
    }
    return json.dumps({"Records": [record]})


def for_job(job: Job) -> str:
    """The message that makes ingest claim this very row: it names the version only if the row is keyed on it
    (a row keyed on the ETag came from an event without a version; naming one would key a second row)."""
    keyed_on_version = bool(job.version_id) and job.object_id == object_id_for(
        job.bucket, job.key, version_id=job.version_id
    )
    if keyed_on_version:
        return object_created(job.bucket, job.key, version_id=job.version_id, etag=None)
    return object_created(job.bucket, job.key, version_id=None, etag=job.etag)
