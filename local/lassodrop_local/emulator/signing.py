"""HMAC-signed, expiring URLs for uploads and outputs, which (like S3 presigned URLs) need no API key."""

import hashlib
import hmac
import math
import secrets
import time
from enum import Enum
from urllib.parse import urlencode


class Verdict(Enum):
    VALID = "valid"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"


class UrlSigner:
    """Signs `METHOD path expires` with a per-server secret: URLs from another emulator run never verify."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def query(self, method: str, path: str, expires_at: float) -> str:
        # Whole seconds, rounded up, so a URL never expires before the record it points to.
        expires = str(math.ceil(expires_at))
        return urlencode({"expires": expires, "sig": self._signature(method, path, expires)})

    def verify(self, method: str, path: str, query: dict[str, str]) -> Verdict:
        expires, sig = query.get("expires", ""), query.get("sig", "")
        if not expires.isdigit() or not hmac.compare_digest(sig, self._signature(method, path, expires)):
            return Verdict.BAD_SIGNATURE
        if time.time() >= int(expires):
            return Verdict.EXPIRED
        return Verdict.VALID

    def _signature(self, method: str, path: str, expires: str) -> str:
        message = f"{method}\n{path}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()
