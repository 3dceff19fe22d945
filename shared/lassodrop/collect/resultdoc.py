"""result.json: what a user reads next to the stems to learn where they came from."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lassodrop.collect.outputs import StoredOutput, refused_writes, version_folder
from lassodrop.timestamps import iso_or_none


@dataclass(frozen=True)
class Source:
    object_id: str
    bucket: str
    key: str
    version_id: str | None
    etag: str | None
    prompt: str
    request_id: str


@dataclass(frozen=True)
class Timings:
    """`completed_at` is when collect saw the job COMPLETED (the API gives no completion time)."""

    received_at: datetime | None
    submitted_at: datetime | None
    completed_at: datetime
    collected_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "received_at": iso_or_none(self.received_at),
            "submitted_at": iso_or_none(self.submitted_at),
            "completed_at": iso_or_none(self.completed_at),
            "collected_at": iso_or_none(self.collected_at),
            "durations_seconds": {
                "upload": _between(self.received_at, self.submitted_at),
                "processing": _between(self.submitted_at, self.completed_at),
                "collect": _between(self.completed_at, self.collected_at),
                "end_to_end": _between(self.received_at, self.collected_at),
            },
        }


def build(
    source: Source, sample_rate: int | None, outputs: list[StoredOutput], timings: Timings
) -> dict[str, Any]:
    return {
        "source": {
            "uri": f"s3://{source.bucket}/{source.key}",
            "bucket": source.bucket,
            "key": source.key,
            "version_id": source.version_id,
            "etag": source.etag,
            # The output folder this version's stems are in (the same rule collect used to name it).
            "version": version_folder(source.version_id, source.etag),
            "object_id": source.object_id,
        },
        "prompt": source.prompt,
        "request_id": source.request_id,
        "sample_rate": sample_rate,
        "outputs": {output.name: output.as_dict() for output in outputs},
        "timings": timings.as_dict(),
    }


def write(s3: Any, bucket: str, key: str, doc: dict[str, Any]) -> None:
    """Raises OutputRefusedError when S3 refuses the write for good."""
    body = json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")
    with refused_writes(key):
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json")


def _between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)
