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
# The two halves of a relay on their own: together they bound what any relay can do on this machine.
GET_ALONE = "GET alone"
PUT_ALONE = "PUT alone"
# An interpreter that imports what the relay imports and moves nothing: the floor under the relay's peak RSS.
IMPORTS_ONLY = "relay imports, nothing moved"
# Collect's side: two stems of the object's size copied from signed URLs into S3 with copy_output.
STEMS_AT_ONCE = "copy 2 stems at once"
STEMS_IN_TURN = "copy 2 stems in turn"
VARIANTS = (
    RELAY,
    RELAY_SMALL_BLOCKS,
    RELAY_RAW_STREAM,
    READ_ALL,
    DOWNLOAD_FILE,
    CURL,
    GET_ALONE,
    PUT_ALONE,
    IMPORTS_ONLY,
    STEMS_AT_ONCE,
    STEMS_IN_TURN,
)
# Variants that upload nothing to the emulator: checked by their byte count, not by the emulator's digest.
UPLOADS_NOTHING = (GET_ALONE, IMPORTS_ONLY, STEMS_AT_ONCE, STEMS_IN_TURN)
STEM_COUNT = 2
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
    # CPU time (user + system) the transfer itself took, in this process and any it waited for.
    cpu_seconds: float | None = None
    # The digest of what arrived, for variants whose bytes do not go to the emulator.
    sha256: str | None = None

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> VariantResult:
        return cls(**json.loads(text))
