"""Why an object is refused before any upload: a code and a reason, recorded on its row, never retried."""

from enum import StrEnum


class RejectCode(StrEnum):
    EMPTY_OBJECT = "EMPTY_OBJECT"
    TOO_LARGE = "TOO_LARGE"
    UNSUPPORTED_CONTENT_TYPE = "UNSUPPORTED_CONTENT_TYPE"
    INVALID_SPANS = "INVALID_SPANS"
    OBJECT_GONE = "OBJECT_GONE"
    OBJECT_CHANGED = "OBJECT_CHANGED"
    INVALID_INPUT = "INVALID_INPUT"
    KEY_TOO_LONG = "KEY_TOO_LONG"


class Rejection(Exception):
    """A terminal refusal of one object: recorded on its job row, never retried."""

    def __init__(self, code: RejectCode, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason
