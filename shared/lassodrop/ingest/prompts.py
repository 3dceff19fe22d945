"""Which prompt (and optional spans) an object is separated with.

Order: a prompt an operator gave when retrying the job (`lassodrop retry --prompt`), else the object's own
metadata (`prompt`, `spans`), else the longest configured key prefix, else the stack's default.
"""

import email.header
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lassodrop.ingest.rejections import RejectCode, Rejection

MAX_SPANS = 100


@dataclass(frozen=True)
class PromptChoice:
    prompt: str
    spans: list[dict[str, Any]] | None
    source: str  # "override", "metadata", "prefix:<prefix>" or "default": logged so a user can see why


def choose_prompt(
    key: str,
    metadata: Mapping[str, str],
    prefix_prompts: Mapping[str, str],
    default_prompt: str,
    override: str | None = None,
) -> PromptChoice:
    spans = parse_spans(metadata["spans"]) if metadata.get("spans") else None
    if override:
        return PromptChoice(override, spans, "override")
    own = _decode_metadata(metadata.get("prompt", ""), "prompt").strip()
    if own:
        return PromptChoice(own, spans, "metadata")
    matches = [prefix for prefix in prefix_prompts if key.startswith(prefix)]
    if matches:
        longest = max(matches, key=len)
        return PromptChoice(prefix_prompts[longest], spans, f"prefix:{longest}")
    return PromptChoice(default_prompt, spans, "default")


def parse_spans(raw: str) -> list[dict[str, Any]]:
    """Spans from metadata JSON: a list of {"start", "end", "include"?} in seconds; Rejection if malformed."""
    try:
        value = json.loads(_decode_metadata(raw, "spans"))
    except json.JSONDecodeError as exc:
        raise _bad_spans(f"metadata 'spans' is not JSON ({exc.msg})") from exc
    if not isinstance(value, list) or not value or len(value) > MAX_SPANS:
        raise _bad_spans(f"metadata 'spans' must be a list of 1 to {MAX_SPANS} spans")
    return [_span(item, index) for index, item in enumerate(value)]


def _span(item: Any, index: int) -> dict[str, Any]:
    if not isinstance(item, dict) or not {"start", "end"} <= item.keys():
        raise _bad_spans(f"span {index} must be an object with 'start' and 'end'")
    start, end, include = item["start"], item["end"], item.get("include", True)
    if not (_is_seconds(start) and _is_seconds(end) and start < end):
        raise _bad_spans(f"span {index} needs numeric seconds with 0 <= start < end")
    if not isinstance(include, bool) or set(item) - {"start", "end", "include"}:
        raise _bad_spans(f"span {index} allows only start, end and a boolean include")
    return {"start": start, "end": end, "include": include}


def _is_seconds(value: Any) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    )


def _bad_spans(reason: str) -> Rejection:
    return Rejection(RejectCode.INVALID_SPANS, reason)


def _decode_metadata(value: str, name: str) -> str:
    # S3 metadata is ASCII on the wire; non-ASCII values set through SDKs arrive as RFC 2047 encoded words.
    if not value.startswith("=?"):
        return value
    try:
        parts = email.header.decode_header(value)
        return "".join(
            part.decode(charset or "utf-8") if isinstance(part, bytes) else part for part, charset in parts
        )
    except (LookupError, UnicodeDecodeError) as exc:  # an unknown charset, or bytes not in it
        raise Rejection(
            RejectCode.INVALID_INPUT, f"metadata {name!r} is a malformed RFC 2047 encoded word ({exc})"
        ) from exc
