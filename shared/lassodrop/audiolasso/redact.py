"""What errors, rows, events and logs may carry of a URL or of a body the provider or storage sent back.

A signed URL is a credential until it expires: its query holds the signature (X-Amz-Signature,
X-Amz-Credential, sig=, token=...), so only scheme, host and path are ever shown. A provider or storage error
body is the other way secrets and bulk get in (S3 echoes the canonical request and the signature it was given
in a 403), so what is kept of it is redacted and bounded by the one MAX_ERROR_TEXT.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

# The one bound on provider and storage text kept in an error, a row, an event or a log line.
MAX_ERROR_TEXT = 300

# A query string anywhere in free text: "?" then name=value (in a URL, or in a request line's path).
_QUERY = re.compile(r"\?[\w.~%+-]+=[^\s\"'<>]*")
# Signed-URL parameters that appear without their "?", as in the canonical request S3 echoes back.
_SIGNED_PARAM = re.compile(
    r"\b(?:x-amz-[\w-]+|signature|awsaccesskeyid|key-pair-id|policy|expires|sig|token)=[^&\s\"'<>]*",
    re.IGNORECASE,
)
# The parts of an S3 XML error body worth keeping; the rest (StringToSign, SignatureProvided, ...) is not.
_XML_CODE = re.compile(r"<Code>([^<]*)</Code>")
_XML_MESSAGE = re.compile(r"<Message>([^<]*)</Message>")
_WHITESPACE = re.compile(r"\s+")


def redact_url(url: str) -> str:
    """The URL as scheme://host/path: without the query (and fragment) that make a signed URL usable."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed URL still must not be shown whole
        return url.split("?", 1)[0].split("#", 1)[0]
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


def redact_text(text: str) -> str:
    """`text` with every query string and every signed-URL parameter removed."""
    return _SIGNED_PARAM.sub("", _QUERY.sub("", text))


def short_text(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    """Redacted, whitespace collapsed, and cut to `limit` characters (the cut marked with an ellipsis)."""
    flat = _WHITESPACE.sub(" ", redact_text(text)).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def storage_error_text(body: str) -> str:
    """What to keep of a non-JSON error body: an S3 XML error's Code and Message, else the text itself.

    The result still goes through `short_text`; picking the two elements first keeps the useful words inside
    the bound instead of the XML prolog and the echoed signature.
    """
    code, message = _XML_CODE.search(body), _XML_MESSAGE.search(body)
    if code or message:
        return ": ".join(match.group(1).strip() for match in (code, message) if match)
    return body
