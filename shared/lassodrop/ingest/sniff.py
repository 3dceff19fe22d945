"""What an object's first bytes say it is, whatever its name or declared content type claim."""

import codecs

import filetype

# The detector's names for types that have a registered or more common spelling.
_CANONICAL = {
    "audio/x-wav": "audio/wav",
    "audio/x-flac": "audio/flac",
    "audio/x-aiff": "audio/aiff",
    # One GUID opens every ASF file, WMA and WMV alike: the bytes name the container, not which of the two.
    "video/x-ms-wmv": "video/x-ms-asf",
}
_W64_RIFF = bytes.fromhex("726966662e91cf11a5d628db04c10000")
_W64_WAVE = bytes.fromhex("77617665f3acd3118cd100c04f8edb8a")
_TS_PACKET = 188
_M2TS_PACKET = 192  # a TS packet behind a 4-byte timestamp (Blu-ray, AVCHD)


def identify(head: bytes) -> str | None:
    """The media type the leading bytes name, or None when they cannot tell.

    The answer may be audio or video (a container), or another kind such as `image/png`, `application/pdf`
    or `text/plain`.
    """
    kind = filetype.guess(head)
    if kind is not None:
        return _CANONICAL.get(kind.mime, kind.mime)
    return _container(head) or ("text/plain" if _looks_like_text(head) else None)


def _container(head: bytes) -> str | None:
    # Signatures filetype 1.2.0 does not know (RF64, BW64, W64, AIFF-C, CAF, MPEG-TS, MPEG audio frames other
    # than the three it lists, ISO BMFF brands other than mp41/mp42/isom/M4A/qt), or that it misses when the
    # head is short (an ftyp box or Matroska doctype cut off).
    if head[:4] in (b"RF64", b"BW64") and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[:16] == _W64_RIFF and head[24:40] == _W64_WAVE:
        return "audio/x-w64"  # Sony Wave64 has no registered type
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return "audio/aiff"
    if head.startswith(b"caff\x00\x01"):
        return "audio/x-caf"
    if head[4:8] == b"ftyp":
        return _iso_bmff(head[8:12])
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm" if b"webm" in head else "video/x-matroska"
    if _transport_stream(head):
        return "video/mp2t"
    return _mpeg_frame(head)


def _iso_bmff(brand: bytes) -> str:
    if brand in (b"M4A ", b"M4B ", b"M4P "):
        return "audio/mp4"
    if brand.startswith(b"3g2"):
        return "video/3gpp2"
    if brand.startswith(b"3gp"):
        return "video/3gpp"
    return "video/quicktime" if brand == b"qt  " else "video/mp4"


def _transport_stream(head: bytes) -> bool:
    # One 0x47 ('G') proves nothing; a sync byte opening every packet the head holds, two at least, does.
    return any(
        len(head) > first + packet and all(head[i] == 0x47 for i in range(first, len(head), packet))
        for first, packet in ((0, _TS_PACKET), (4, _M2TS_PACKET))
    )


def _mpeg_frame(head: bytes) -> str | None:
    # A frame header without an ID3 tag in front: 11 sync bits, then fields whose reserved values rule out
    # most other bytes that happen to start with 0xFF. Layer bits 00 with 12 sync bits is AAC in ADTS framing.
    if len(head) < 3 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return None
    version, layer = (head[1] >> 3) & 0b11, (head[1] >> 1) & 0b11
    if layer == 0:
        return "audio/aac" if head[1] & 0xF0 == 0xF0 and (head[2] >> 2) & 0xF < 13 else None
    bitrate, sample_rate = head[2] >> 4, (head[2] >> 2) & 0b11
    return "audio/mpeg" if version != 1 and bitrate != 0xF and sample_rate != 0b11 else None


def _looks_like_text(head: bytes) -> bool:
    if head.startswith(b"NIST_1A\n"):
        return False  # NIST SPHERE audio opens with a 1024-byte text header
    try:
        # Not final: the head may end inside a multi-byte character.
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return bool(text) and all(char.isprintable() or char in "\t\n\r\f" for char in text)
