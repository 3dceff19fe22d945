"""Real audio outputs, so a pipeline test can check what lands in S3 without running a model.

A PCM WAV input separates into itself (target, byte for byte) and silence of the same format and length
(residual), which makes end-to-end checks exact. Anything else (MP3, video, undecodable bytes) gets a short
tone and its silence: small, valid WAV files.
"""

import math
import os
import shutil
import struct
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_SAMPLE_RATE = 44100
CHUNK_BYTES = 1024 * 1024
_TONE_SECONDS = 0.25
_TONE_HZ = 440.0


@dataclass(frozen=True)
class PcmFormat:
    channels: int
    sample_width: int
    frame_rate: int
    frames: int


@dataclass(frozen=True)
class Outputs:
    target: Path
    residual: Path
    sample_rate: int


def pcm_format(path: Path | None) -> PcmFormat | None:
    """The input's format, or None when it is not a PCM WAV file the `wave` module can read."""
    if path is None:
        return None
    try:
        with wave.open(str(path), "rb") as reader:
            params = reader.getparams()
    except (wave.Error, EOFError, struct.error):
        return None
    return PcmFormat(params.nchannels, params.sampwidth, params.framerate, params.nframes)


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
    frame_bytes = fmt.channels * fmt.sample_width
    # 8-bit WAV is unsigned: its silence is 0x80, not 0x00.
    silence = b"\x80" if fmt.sample_width == 1 else b"\x00"
    frames_per_chunk = max(1, CHUNK_BYTES // frame_bytes)
    with _open_writer(path, fmt) as writer:
        remaining = fmt.frames
        while remaining > 0:
            count = min(remaining, frames_per_chunk)
            writer.writeframesraw(silence * (count * frame_bytes))
            remaining -= count


def _write_tone(path: Path, fmt: PcmFormat) -> None:
    step = 2 * math.pi * _TONE_HZ / fmt.frame_rate
    samples = (int(12000 * math.sin(step * i)) for i in range(fmt.frames))
    with _open_writer(path, fmt) as writer:
        writer.writeframes(b"".join(struct.pack("<h", sample) for sample in samples))


def _open_writer(path: Path, fmt: PcmFormat) -> wave.Wave_write:
    writer = wave.open(str(path), "wb")  # noqa: SIM115 - the callers close it with `with`
    writer.setnchannels(fmt.channels)
    writer.setsampwidth(fmt.sample_width)
    writer.setframerate(fmt.frame_rate)
    # The frame count goes in the header up front; `wave` patches it on close if it differs.
    writer.setnframes(fmt.frames)
    return writer


def _write_once(path: Path, write: Callable[[Path], object]) -> None:
    # Write beside and rename, so a concurrent reader sees either nothing or the whole file.
    if path.exists():
        return
    partial = path.with_name(f"{path.name}.{os.getpid()}.part")
    write(partial)
    partial.replace(path)
