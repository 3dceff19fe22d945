"""Small builders shared by the client tests."""

import io
import time
from typing import Any
from urllib.parse import urlsplit

import requests

from lassodrop.audiolasso import AudioLassoClient, JobStatus


class Opener:
    """An `open_source` callable that counts how often the upload asked for a fresh source."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.opened = 0

    def __call__(self) -> io.BytesIO:
        self.opened += 1
        return io.BytesIO(self._data)


def wait_for_terminal(client: AudioLassoClient, status_url: str, timeout: float = 10.0) -> JobStatus:
    """Poll until the job is terminal, bounded by `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.status(status_url=status_url, logs=True)
        if job.is_terminal or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


class CountingSession(requests.Session):
    """A real session that also records the path of every API call the client makes through it."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def request(self, method: Any, url: Any, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        self.paths.append(urlsplit(str(url)).path)
        return super().request(method, url, *args, **kwargs)

    def calls(self, path_suffix: str) -> int:
        return sum(1 for path in self.paths if path.endswith(path_suffix))
