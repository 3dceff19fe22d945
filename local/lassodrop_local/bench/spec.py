"""What the benchmark hands each measured subprocess, and what that subprocess hands back, as JSON."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

RELAY = "lassodrop relay"
RELAY_SMALL_BLOCKS = "lassodrop relay, 16 KiB blocks"
# The relay reading botocore's private raw stream instead of StreamingBody.read: the price of the public API.
RELAY_RAW_STREAM = "lassodrop relay, private raw stream"
READ_ALL = "read all, then PUT"
DOWNLOAD_FILE = "download to file, then PUT"
CURL = "curl GET | curl -T -"
VARIANTS = (RELAY, RELAY_SMALL_BLOCKS, RELAY_RAW_STREAM, READ_ALL, DOWNLOAD_FILE, CURL)
SMALL_BLOCK_SIZE = 16 * 1024


@dataclass(frozen=True)
class VariantSpec:
    """One run of one variant: where the object is, where it goes, and the limits."""

    variant: str
    s3_endpoint: str
    bucket: str
    key: str
    size: int
    content_type: str
    block_size: int
    timeout_seconds: float
    emulator_url: str
    api_key: str
    # A fresh signed upload for the baselines; the lassodrop relay creates its own, as ingest does.
    upload_url: str | None = None
    upload_file_id: str | None = None
    upload_headers: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> VariantSpec:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class VariantResult:
    """Measured by the subprocess itself: the transfer only, not interpreter start-up or upload creation."""

    bytes_sent: int
    seconds: float
    peak_rss_bytes: int
    rss_source: str
    file_id: str | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> VariantResult:
        return cls(**json.loads(text))
