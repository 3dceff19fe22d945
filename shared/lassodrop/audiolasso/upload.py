"""The exact-length upload body, the pre-upload checks, and the session used for signed URLs."""

from __future__ import annotations

import re
from typing import Any, Protocol

import requests
from requests.adapters import HTTPAdapter

from lassodrop.audiolasso.errors import InvalidInputError, SourceLengthError

# The upload guide says "500 MB"; read as decimal megabytes, the stricter of the two readings.
MAX_UPLOAD_BYTES = 500_000_000
DEFAULT_BLOCK_SIZE = 1024 * 1024
_ALLOWED_TYPE = re.compile(r"^(audio/[\w.+-]+|video/[\w.+-]+|application/octet-stream)$")


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def check_upload_input(content_type: str, size: int) -> None:
    """Refuse, before any request, what the service would refuse: bad size or content type."""
    check_upload_size(size)
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not _ALLOWED_TYPE.match(media_type):
        raise InvalidInputError(
            f"content type {content_type!r} is not audio/*, video/* or application/octet-stream",
            param="content_type",
        )


def check_upload_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise InvalidInputError(f"file size must be a positive byte count, got {size!r}", param="file_size")
    if size > MAX_UPLOAD_BYTES:
        raise InvalidInputError(f"file size {size} is over {MAX_UPLOAD_BYTES} bytes", param="file_size")


class ExactLengthBody:
    """A request body of exactly `length` bytes read from `source`.

    requests sizes a body through `__len__`, so it sends Content-Length instead of chunked transfer encoding.
    Reads are capped at what remains; a source that ends early, or holds more than declared, raises
    SourceLengthError in the middle of the send, so the server sees an aborted body rather than a wrong one.
    """

    def __init__(self, source: Readable, length: int) -> None:
        self._source = source
        self._length = length
        self._remaining = length

    def __len__(self) -> int:
        return self._length

    @property
    def sent(self) -> int:
        return self._length - self._remaining

    def read(self, size: int = -1) -> bytes:
        if self._remaining == 0:
            return b""
        wanted = self._remaining if size < 0 else min(size, self._remaining)
        block = self._source.read(wanted)
        if not block:
            raise SourceLengthError(f"source ended after {self.sent} of {self._length} bytes")
        self._remaining -= len(block)
        if self._remaining < 0:
            raise SourceLengthError(f"source returned more than the {wanted} bytes asked for")
        if self._remaining == 0:
            self._expect_end()
        return block

    def _expect_end(self) -> None:
        if self._source.read(1):
            raise SourceLengthError(f"source holds more than the declared {self._length} bytes")


class _StripAuthorization(requests.auth.AuthBase):
    """Installed as the session's auth so neither .netrc nor a caller can put credentials on a signed URL."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.pop("Authorization", None)
        return request


class _BlockSizeAdapter(HTTPAdapter):
    """Makes urllib3 read the body in `block_size` reads (its default is 16 KiB)."""

    def __init__(self, block_size: int) -> None:
        self._block_size = block_size
        super().__init__()

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs["blocksize"] = self._block_size
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


def signed_url_session(block_size: int, user_agent: str) -> requests.Session:
    """A session for signed upload and output URLs: no credentials, large blocks, only our User-Agent."""
    session = requests.Session()
    session.auth = _StripAuthorization()
    session.headers.clear()
    session.headers["User-Agent"] = user_agent
    for prefix in ("https://", "http://"):
        session.mount(prefix, _BlockSizeAdapter(block_size))
    return session
