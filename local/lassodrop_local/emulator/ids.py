"""IDs and timestamps shaped like the service's: `file_01...`, ISO-8601 UTC with milliseconds."""

import secrets
import time
from datetime import UTC, datetime

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    """A ULID with a prefix: time-ordered like the real IDs, so they also start with `01` for decades."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    chars = [_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5)]
    return f"{prefix}_{''.join(chars)}"


def iso(epoch: float) -> str:
    """ISO-8601 in UTC with milliseconds and a `Z`, the service's timestamp format."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
