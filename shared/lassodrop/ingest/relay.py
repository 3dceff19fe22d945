"""The hot path: S3 object -> AudioLasso upload URL, streamed with an exact Content-Length in flat memory.

Every read is pinned to the object the event named (its VersionId, else If-Match on its ETag), so a retry that
re-opens the object sends the same bytes, and an object overwritten or deleted in between is noticed (412/404)
instead of silently uploading something else.
"""

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lassodrop.audiolasso import AudioLassoClient
from lassodrop.audiolasso.models import Upload
from lassodrop.ingest.rejections import RejectCode, Rejection
from lassodrop.observability import tracer


@dataclass(frozen=True)
class PinnedObject:
    """One exact version of an object: reads use VersionId when known, else If-Match on the ETag."""

    bucket: str
    key: str
    version_id: str | None = None
    etag: str | None = None

    def request(self) -> dict[str, str]:
        args = {"Bucket": self.bucket, "Key": self.key}
        if self.version_id:
            args["VersionId"] = self.version_id
        elif self.etag:
            args["IfMatch"] = f'"{self.etag}"'
        return args


@dataclass(frozen=True)
class ObjectHead:
    size: int
    content_type: str | None
    version_id: str | None
    etag: str
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RelayResult:
    upload: Upload
    bytes_sent: int
    seconds: float
    opens: int


class S3Source:
    """The object's body as a plain `read(n)` stream, counting what was read.

    Reads go through botocore's public `StreamingBody.read(n)` in whatever block size the reader asks (the
    client asks for 1 MiB), so memory stays flat however large the object is. `StreamingBody` also checks
    the bytes it handed out against the response's Content-Length when the stream ends, so a connection
    that S3 closes early raises IncompleteReadError here instead of sending a short file. `make bench`
    measures this against reading the private raw stream underneath: no slower beyond its noise.
    """

    def __init__(self, body: Any) -> None:
        self._body = body
        self.bytes_read = 0

    def read(self, size: int = -1) -> bytes:
        block = self._body.read(size) if size >= 0 else self._body.read()
        self.bytes_read += len(block)
        return bytes(block)

    def close(self) -> None:
        self._body.close()


class S3Objects:
    """The S3 calls ingest makes, with the answers that mean "not this object any more" made terminal."""

    def __init__(self, s3: Any) -> None:
        self.client = s3

    def head(self, obj: PinnedObject) -> ObjectHead:
        with _terminal_when_gone(obj):
            response = self.client.head_object(**obj.request())
        return ObjectHead(
            size=int(response["ContentLength"]),
            content_type=response.get("ContentType"),
            version_id=response.get("VersionId") if response.get("VersionId") not in (None, "null") else None,
            etag=str(response["ETag"]).strip('"'),
            metadata={k.lower(): v for k, v in response.get("Metadata", {}).items()},
        )

    def read_head(self, obj: PinnedObject, size: int) -> bytes:
        """The first `size` bytes (a ranged GET), to sniff the container."""
        with _terminal_when_gone(obj):
            response = self.client.get_object(**obj.request(), Range=f"bytes=0-{size - 1}")
        with response["Body"] as body:
            return bytes(body.read(size))

    def open(self, obj: PinnedObject) -> S3Source:
        with _terminal_when_gone(obj):
            response = self.client.get_object(**obj.request())
        return S3Source(response["Body"])


@contextlib.contextmanager
def _terminal_when_gone(obj: PinnedObject) -> Iterator[None]:
    """Turns 404 (deleted) and 412 (overwritten since the event) into terminal rejections."""
    try:
        yield
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        where = f"s3://{obj.bucket}/{obj.key}"
        if status == 404:
            raise Rejection(RejectCode.OBJECT_GONE, f"{where} was deleted before it could be sent") from exc
        if status == 412:
            raise Rejection(
                RejectCode.OBJECT_CHANGED,
                f"{where} was overwritten after the event; the new version has its own",
            ) from exc
        raise


@tracer.capture_method(capture_response=False)
def relay(
    client: AudioLassoClient, objects: S3Objects, obj: PinnedObject, *, content_type: str, size: int
) -> RelayResult:
    """Upload the pinned object to AudioLasso; the client re-opens it via `open_source` for each attempt."""
    sources: list[S3Source] = []

    def open_source() -> S3Source:
        source = objects.open(obj)
        sources.append(source)
        return source

    started = time.monotonic()
    upload = client.upload(file_name(obj.key), content_type, size, open_source)
    return RelayResult(
        upload=upload,
        bytes_sent=sources[-1].bytes_read,
        seconds=time.monotonic() - started,
        opens=len(sources),
    )


def file_name(key: str) -> str:
    return key.rsplit("/", 1)[-1] or "upload"
