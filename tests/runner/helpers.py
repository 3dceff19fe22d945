"""Small helpers for the runtime tests."""

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from lassodrop_local.runner import FunctionSpec
from tests import support

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float = 30.0, interval: float = 0.05) -> T:
    """`tests.support.wait_until` with a generous default: it only costs time when the test fails, and a
    loaded machine needs slack."""
    return support.wait_until(predicate, timeout, interval)


def queue_depth(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(attributes[names[0]]), int(attributes[names[1]])


@dataclass
class LogLines:
    """A log sink that keeps every line, for assertions."""

    lines: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, function: str, line: str) -> None:
        with self._lock:
            self.lines.append((function, line))

    def text(self) -> list[str]:
        with self._lock:
            return [line for _, line in self.lines]

    def reports(self) -> list[str]:
        return [line for line in self.text() if line.startswith("REPORT RequestId: ")]


@dataclass
class Toy:
    """A function written into a temporary directory, and what it recorded."""

    spec: FunctionSpec
    record_file: Path

    def calls(self) -> list[dict[str, Any]]:
        if not self.record_file.exists():
            return []
        # A worker may be appending right now: only lines with their newline are complete.
        complete = self.record_file.read_text().split("\n")[:-1]
        return [json.loads(line) for line in complete]


@dataclass
class Queues:
    url: str
    arn: str
    dlq_url: str | None
