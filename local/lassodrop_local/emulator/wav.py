"""Real audio outputs, so a pipeline test can check what lands in S3 without running a model.

A PCM WAV input separates into itself (target, byte for byte) and silence of the same format and length
(residual), which makes end-to-end checks exact. Anything else (MP3, video, undecodable bytes) gets a short
tone and its silence: small, valid WAV files.

PCM WAV is recognised by reading the RIFF header here rather than with the `wave` module, whose formats
differ by Python version (3.11 refuses WAVE_FORMAT_EXTENSIBLE, which 24-bit and multichannel files use):
the answer must not depend on which Python runs the emulator. Only the header is read; samples never are.
"""

import math
import os
import shutil
import struct
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

DEFAULT_SAMPLE_RATE = 44100
CHUNK_BYTES = 1024 * 1024
_TONE_SECONDS = 0.25
_TONE_HZ = 440.0
_WAVE_FORMAT_PCM = 1
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
# The SubFormat GUID of WAVE_FORMAT_EXTENSIBLE is the format tag followed by these 14 bytes.
_KSDATAFORMAT_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_PCM_SAMPLE_WIDTHS = (1, 2, 3, 4)


@dataclass(frozen=True)
class PcmFormat:
    channels: int
    sample_width: int
    frame_rate: int
    frames: int
    # The input's "fmt " chunk as it was, so its silence carries the very same header (extensible or not).
    fmt_chunk: bytes = b""


@dataclass(frozen=True)
class Outputs:
    target: Path
    residual: Path
    sample_rate: int


def pcm_format(path: Path | None) -> PcmFormat | None:
    """The input's format, or None when it is not an integer PCM WAV file (8, 16, 24 or 32 bits a sample)."""
    if path is None:
        return None
    try:
        with path.open("rb") as stream:
            return _read_pcm_format(stream)
    except (OSError, struct.error):
        return None


def _read_pcm_format(stream: BinaryIO) -> PcmFormat | None:
    riff, _, form = struct.unpack("<4sI4s", stream.read(12))
    if riff != b"RIFF" or form != b"WAVE":
        return None
    fmt_chunk = None
    for chunk_id, size in _chunks(stream):
        if chunk_id == b"fmt ":
            fmt_chunk = stream.read(size)
        elif chunk_id == b"data":
            # A header may claim more (or, when streamed, 0xFFFFFFFF) than the file holds.
            available = os.fstat(stream.fileno()).st_size - stream.tell()
            return _pcm(fmt_chunk, min(size, available)) if fmt_chunk else None
        else:
            stream.seek(size, os.SEEK_CUR)
        stream.seek(size % 2, os.SEEK_CUR)  # chunks are padded to an even length
    return None


def _chunks(stream: BinaryIO) -> Iterator[tuple[bytes, int]]:
    while len(header := stream.read(8)) == 8:
        chunk_id, size = struct.unpack("<4sI", header)
        yield chunk_id, size


def _pcm(fmt_chunk: bytes, data_size: int) -> PcmFormat | None:
    tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", fmt_chunk[:16])
    if tag == _WAVE_FORMAT_EXTENSIBLE and len(fmt_chunk) >= 40 and fmt_chunk[26:40] == _KSDATAFORMAT_TAIL:
        (tag,) = struct.unpack("<H", fmt_chunk[24:26])
    width = bits // 8
    if tag != _WAVE_FORMAT_PCM or bits % 8 or width not in _PCM_SAMPLE_WIDTHS or channels < 1 or rate < 1:
        return None
    if block_align != channels * width:
        return None
    return PcmFormat(channels, width, rate, data_size // block_align, fmt_chunk)


def sample_rate_of(path: Path | None) -> int:
    found = pcm_format(path)
    return found.frame_rate if found else DEFAULT_SAMPLE_RATE


def build_outputs(source: Path | None, out_dir: Path) -> Outputs:
    """Write the target and residual WAV files for one job into `out_dir` (idempotent)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target, residual = out_dir / "target.wav", out_dir / "residual.wav"
    found = pcm_format(source)
    if source is not None and found is not None:
        _write_once(target, lambda tmp: shutil.copyfile(source, tmp))
        _write_once(residual, lambda tmp: write_silence(tmp, found))
        return Outputs(target, residual, found.frame_rate)
    tone = PcmFormat(1, 2, DEFAULT_SAMPLE_RATE, int(DEFAULT_SAMPLE_RATE * _TONE_SECONDS))
    _write_once(target, lambda tmp: _write_tone(tmp, tone))
    _write_once(residual, lambda tmp: write_silence(tmp, tone))
    return Outputs(target, residual, DEFAULT_SAMPLE_RATE)


def write_silence(path: Path, fmt: PcmFormat) -> None:
    """Zeroed frames in the given format, written in chunks so a long input never sits in memory."""
    fmt_chunk = fmt.fmt_chunk or _plain_fmt_chunk(fmt)
    data_size = fmt.frames * fmt.channels * fmt.sample_width
    # 8-bit WAV is unsigned: its silence is 0x80, not 0x00.
    silence = b"\x80" if fmt.sample_width == 1 else b"\x00"
    with path.open("wb") as out:
        riff_size = 4 + _chunk_length(len(fmt_chunk)) + _chunk_length(data_size)
        out.write(struct.pack("<4sI4s", b"RIFF", riff_size, b"WAVE"))
        out.write(struct.pack("<4sI", b"fmt ", len(fmt_chunk)) + fmt_chunk + b"\x00" * (len(fmt_chunk) % 2))
        out.write(struct.pack("<4sI", b"data", data_size))
        for offset in range(0, data_size, CHUNK_BYTES):
            out.write(silence * min(CHUNK_BYTES, data_size - offset))
        out.write(b"\x00" * (data_size % 2))


def _chunk_length(size: int) -> int:
    return 8 + size + size % 2


def _plain_fmt_chunk(fmt: PcmFormat) -> bytes:
    block_align = fmt.channels * fmt.sample_width
    return struct.pack(
        "<HHIIHH",
        _WAVE_FORMAT_PCM,
        fmt.channels,
        fmt.frame_rate,
        fmt.frame_rate * block_align,
        block_align,
        fmt.sample_width * 8,
    )


def _write_tone(path: Path, fmt: PcmFormat) -> None:
    step = 2 * math.pi * _TONE_HZ / fmt.frame_rate
    samples = (int(12000 * math.sin(step * i)) for i in range(fmt.frames))
    # Plain 16-bit mono, which `wave` writes the same way on every supported Python.
    with wave.open(str(path), "wb") as writer:
        writer.setnchannels(fmt.channels)
        writer.setsampwidth(fmt.sample_width)
        writer.setframerate(fmt.frame_rate)
        writer.writeframes(b"".join(struct.pack("<h", sample) for sample in samples))


def _write_once(path: Path, write: Callable[[Path], object]) -> None:
    # Write beside and rename, so a concurrent reader sees either nothing or the whole file.
    if path.exists():
        return
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    write(partial)
    partial.replace(path)
