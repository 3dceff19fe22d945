"""Copy one output stem from its signed URL into S3: streamed, hashed and size-capped on the way through."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from lassodrop.audiolasso.models import Output

if TYPE_CHECKING:
    from lassodrop.audiolasso import AudioLassoClient

MIB = 1024 * 1024


def transfer_config(chunk_bytes: int = 8 * MIB, concurrency: int = 4) -> TransferConfig:
    """Managed multipart settings for a stream of unknown length.

    A non-seekable source is read in the caller's thread one part at a time; each part is held in memory
    until its UploadPart finishes. So memory is about (in-memory chunks + 1) x part size, whatever the
    output size: 8 MiB parts (S3's minimum is 5 MiB, and 10,000 parts still allow ~78 GiB) with four
    uploads in flight keep the S3 side busy while the next part is read from the provider, for a peak
    near 40 MiB. The in-memory cap is not a boto3 argument, so it is set on the object.
    """
    config = TransferConfig(
        multipart_threshold=chunk_bytes,
        multipart_chunksize=chunk_bytes,
        max_concurrency=concurrency,
        use_threads=True,
    )
    config.max_in_memory_upload_chunks = concurrency
    return config


class OutputTooLargeError(Exception):
    """The output is bigger than MAX_OUTPUT_BYTES; the copy was abandoned."""

    def __init__(self, limit: int, seen: int) -> None:
        super().__init__(f"output exceeds the {limit}-byte limit (at least {seen} bytes)")
        self.limit = limit
        self.seen = seen


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class HashingReader:
    """Read-only, non-seekable view of a stream that hashes and counts what passes and enforces a cap.

    Each read returns exactly what was asked for unless the stream ends: S3 refuses non-final multipart
    parts under 5 MiB, and an HTTP stream may hand back less than asked.
    """

    def __init__(self, raw: Readable, limit: int, block: int = MIB) -> None:
        self._raw = raw
        self._limit = limit
        self._block = block
        self._sha256 = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def read(self, n: int = -1) -> bytes:
        wanted = None if n is None or n < 0 else n
        pieces: list[bytes] = []
        got = 0
        while wanted is None or got < wanted:
            ask = self._block if wanted is None else min(self._block, wanted - got)
            piece = self._raw.read(ask)
            if not piece:
                break
            pieces.append(piece)
            got += len(piece)
            self._count(piece)
        return b"".join(pieces)

    def _count(self, piece: bytes) -> None:
        self.size += len(piece)
        if self.size > self._limit:
            raise OutputTooLargeError(self._limit, self.size)
        self._sha256.update(piece)

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()


@dataclass(frozen=True)
class StoredOutput:
    """One output as it landed in S3."""

    name: str
    bucket: str
    key: str
    size: int
    sha256: str
    content_type: str

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "uri": self.uri,
            "size": self.size,
            "sha256": self.sha256,
            "content_type": self.content_type,
        }


class OutputRefusedError(Exception):
    """An output that must not be written (or that S3 refused): the job ends FAILED with `code`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


# The only extensions a stem is written with, and the audio type each stands for. A stem is only ever
# written as audio: its key, Content-Type and download name all say so, whatever the provider declared.
STEM_EXTENSIONS = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "opus": "audio/opus",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "webm": "audio/webm",
    "aiff": "audio/aiff",
}
LONGEST_STEM_EXTENSION = max(STEM_EXTENSIONS, key=len)
# Declared audio types (and common aliases) -> the allow-listed extension, for a file name that has none.
_TYPE_EXTENSIONS = {
    **{media_type: ext for ext, media_type in STEM_EXTENSIONS.items()},
    "audio/wave": "wav",
    "audio/x-wav": "wav",
    "audio/vnd.wave": "wav",
    "audio/x-flac": "flac",
    "audio/mp3": "mp3",
    "audio/x-m4a": "m4a",
    "audio/x-aiff": "aiff",
}
# A declared audio type kept as the stem's Content-Type: a bare token, never parameters or odd bytes.
_AUDIO_TYPE = re.compile(r"^audio/[a-z0-9][a-z0-9.+-]{0,62}$")


@dataclass(frozen=True)
class StemFormat:
    """How one stem is written: the allow-listed extension and an audio/* Content-Type."""

    extension: str
    content_type: str

    def file_name(self, name: str) -> str:
        return f"{name}.{self.extension}"

    def extra_args(self, name: str) -> dict[str, str]:
        """Upload headers: a browser opening the object downloads it as an audio file, never renders it."""
        return {
            "ContentType": self.content_type,
            "ContentDisposition": f'attachment; filename="{self.file_name(name)}"',
        }


def stem_format(output: Output) -> StemFormat:
    """The extension from the provider's file name if allow-listed, else from its declared audio type.

    The declared type is kept when it is a plain audio/* type; anything else becomes the extension's type.
    Raises OutputRefusedError (OUTPUT_NOT_AUDIO) when neither says which audio format the stem is.
    """
    declared = (output.content_type or "").split(";")[0].strip().lower()
    ext = _name_extension(output.file_name) or _TYPE_EXTENSIONS.get(declared)
    if ext is None:
        raise OutputRefusedError(
            "OUTPUT_NOT_AUDIO",
            f"the output {_bounded(output.file_name)!r} declared {_bounded(output.content_type)!r}: neither "
            f"an allowed audio extension ({', '.join(STEM_EXTENSIONS)}) nor a known audio type",
        )
    content_type = declared if _AUDIO_TYPE.match(declared) else STEM_EXTENSIONS[ext]
    return StemFormat(ext, content_type)


def _name_extension(file_name: str | None) -> str | None:
    name = file_name or ""
    if "." not in name:
        return None
    ext = name.rsplit(".", 1)[1].lower()
    return ext if ext in STEM_EXTENSIONS else None


def _bounded(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else f"{text[:limit]}..."


# A version id or ETag used as it is in a key: one S3 path segment, never `.` or `..`, bounded.
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def version_folder(version_id: str | None, etag: str | None) -> str:
    """The folder naming one version of an input, so two versions of a key never share outputs.

    The S3 version id, else `etag-<ETag>` on an unversioned bucket. A value with characters that are unsafe
    in a key segment (S3 version ids may hold `/`, `+`, `=`) becomes `sha256-<hex digest>` of it instead.
    """
    if version_id and version_id != "null":
        segment = version_id
    elif etag:
        segment = f"etag-{etag.strip(chr(34))}"
    else:
        raise ValueError("an input needs a version id or an ETag to name its output folder")
    if _SAFE_SEGMENT.match(segment):
        return segment
    return f"sha256-{hashlib.sha256(segment.encode('utf-8')).hexdigest()}"


# S3 refuses longer keys (KeyTooLongError); the limit counts the key's UTF-8 bytes.
S3_MAX_KEY_BYTES = 1024
STEM_NAMES = ("target", "residual")
RESULT_DOC_NAME = "result.json"


def utf8_length(key: str) -> int:
    return len(key.encode("utf-8"))


@dataclass(frozen=True)
class OutputLayout:
    """Every key one input version's outputs get: the one definition collect writes by and ingest checks.

    `folder` is `<OutputPrefix><input key>/<version>/`, the input key verbatim (spaces, +, %, non-ASCII kept
    as they are).
    """

    folder: str

    @classmethod
    def for_input(cls, prefix: str, input_key: str, version_id: str | None, etag: str | None) -> OutputLayout:
        return cls(f"{prefix}{input_key}/{version_folder(version_id, etag)}/")

    def stem_key(self, name: str, stem: StemFormat) -> str:
        return f"{self.folder}{stem.file_name(name)}"

    @property
    def result_key(self) -> str:
        return f"{self.folder}{RESULT_DOC_NAME}"

    def longest_key(self) -> str:
        """The longest key this layout can produce, whatever extensions the provider's stems end up with."""
        widest = StemFormat(LONGEST_STEM_EXTENSION, STEM_EXTENSIONS[LONGEST_STEM_EXTENSION])
        keys = [self.result_key, *(self.stem_key(name, widest) for name in STEM_NAMES)]
        return max(keys, key=utf8_length)


# 4xx answers a later attempt can pass: what botocore's standard retry mode retries (its lists are private),
# S3's OperationAborted (a conflicting operation in progress), and expired credentials or a skewed clock.
_RETRYABLE_4XX_CODES = frozenset(
    {
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "OperationAborted",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
        "RequestTimeTooSkewed",
    }
)


def write_refusal(error: ClientError, key: str) -> OutputRefusedError | None:
    """OUTPUT_WRITE_REFUSED for an S3 4xx that asking again cannot change (KeyTooLongError, AccessDenied,
    InvalidArgument, NoSuchBucket, ...); None for 5xx, throttling, timeouts and answers without a status."""
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = str(error.response.get("Error", {}).get("Code") or "")
    if (
        not isinstance(status, int)
        or not 400 <= status < 500
        or status == 429
        or code in _RETRYABLE_4XX_CODES
    ):
        return None
    message = str(error.response.get("Error", {}).get("Message") or "")
    return OutputRefusedError(
        "OUTPUT_WRITE_REFUSED",
        f"S3 refused writing {_bounded(key.rsplit('/', 1)[-1])!r} ({utf8_length(key)}-byte key): "
        f"{_bounded(code, 64) or 'no code'} (HTTP {status}) {_bounded(message, 200)}".strip(),
    )


@contextmanager
def refused_writes(key: str) -> Iterator[None]:
    """Turn a terminal S3 refusal of a write to `key` into OutputRefusedError; anything else passes."""
    try:
        yield
    except ClientError as error:
        refusal = write_refusal(error, key)
        if refusal is None:
            raise
        raise refusal from error


def upload_stream(
    s3: Any,
    stream: Readable,
    *,
    bucket: str,
    key: str,
    extra_args: dict[str, str],
    max_bytes: int,
    config: TransferConfig,
) -> tuple[int, str]:
    """Stream `stream` into s3://bucket/key; returns (size, sha256 hex).

    Raises OutputTooLargeError, or OutputRefusedError when S3 refuses the write for good.

    On any failure s3transfer aborts the multipart upload, so no partial object or parts are left.
    """
    reader = HashingReader(stream, max_bytes)
    fileobj: BinaryIO = reader  # type: ignore[assignment]
    with refused_writes(key):
        s3.upload_fileobj(fileobj, bucket, key, ExtraArgs=extra_args, Config=config)
    return reader.size, reader.sha256


@dataclass(frozen=True)
class OutputTarget:
    """Where and how big: the output bucket, the input version's layout and the size cap."""

    bucket: str
    layout: OutputLayout
    max_bytes: int
    config: TransferConfig


def copy_output(
    api: AudioLassoClient, s3: Any, name: str, output: Output, stem: StemFormat, where: OutputTarget
) -> StoredOutput:
    """Copy the `name` stem (target or residual) from its signed URL to `<folder><name>.<ext>`.

    The API client validates the URL and never sends it the API key; a 410 surfaces as ExpiredError.
    """
    key = where.layout.stem_key(name, stem)
    with api.open_output(output) as stream:
        announced = getattr(stream, "content_length", None)
        if announced is not None and announced > where.max_bytes:
            raise OutputTooLargeError(where.max_bytes, announced)
        size, digest = upload_stream(
            s3,
            stream,
            bucket=where.bucket,
            key=key,
            extra_args=stem.extra_args(name),
            max_bytes=where.max_bytes,
            config=where.config,
        )
    return StoredOutput(name, where.bucket, key, size, digest, stem.content_type)
