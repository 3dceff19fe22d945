"""The one way the pipeline writes and reads times: ISO-8601 UTC with milliseconds and a `Z`, like the API."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(moment: datetime | float) -> str:
    """`2026-09-21T14:13:20.000Z` for a datetime or epoch seconds."""
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, tz=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def parse_iso(value: object) -> datetime | None:
    """The moment an ISO string names (naive ones are UTC); None for anything but a non-empty string."""
    if not isinstance(value, str) or not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def epoch(moment: datetime) -> int:
    """Whole epoch seconds, the unit of the row's lease and TTL attributes."""
    return int(moment.timestamp())


def utcnow() -> datetime:
    return datetime.now(UTC)
