"""A readable view of an output being downloaded, so it can be streamed on without being held in memory."""

from __future__ import annotations

import requests
import urllib3

from lassodrop.audiolasso.errors import ConnectionFailedError


class OutputStream:
    """An output response body: `read(n)` blocks of bytes, and the declared length when there is one."""

    def __init__(self, response: requests.Response) -> None:
        self._raw = response.raw
        self.content_type: str | None = response.headers.get("Content-Type")
        self.content_length = _int_or_none(response.headers.get("Content-Length"))

    def read(self, size: int = -1) -> bytes:
        try:
            return bytes(self._raw.read(None if size < 0 else size, decode_content=True))
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as error:
            failure = ConnectionFailedError(f"output download interrupted: {type(error).__name__}")
        # Raised outside the except block, so urllib3's error (whose text may name the signed URL) is neither
        # chained nor kept as context; its kind is in the message.
        raise failure

    def readable(self) -> bool:
        return True


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None
