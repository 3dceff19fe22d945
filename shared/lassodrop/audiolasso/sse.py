"""A minimal server-sent events reader: yields (event, data) per blank-line-terminated block."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def split_lines(chunks: Iterable[bytes]) -> Iterator[str]:
    """Lines of a byte stream as it arrives, LF or CRLF terminated (a CRLF split across reads stays one)."""
    pending = b""
    for chunk in chunks:
        *lines, pending = (pending + chunk).split(b"\n")
        for line in lines:
            yield line.removesuffix(b"\r").decode("utf-8", errors="replace")
    if pending:
        yield pending.removesuffix(b"\r").decode("utf-8", errors="replace")


def parse_events(lines: Iterable[str]) -> Iterator[tuple[str, str]]:
    """Turn SSE lines (without line endings) into (event name, data) pairs; comments and ids are skipped."""
    event = "message"
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
