"""A short demo file for `lassodrop run` without arguments: a pure tone, written with the standard library."""

import math
import struct
import wave
from pathlib import Path

SAMPLE_RATE = 16_000


def write_tone(path: Path, seconds: float = 2.0, frequency: float = 440.0) -> Path:
    """A mono 16-bit PCM WAV of a sine tone at half scale."""
    frames = int(seconds * SAMPLE_RATE)
    samples = (int(16_383 * math.sin(2 * math.pi * frequency * n / SAMPLE_RATE)) for n in range(frames))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(b"".join(struct.pack("<h", sample) for sample in samples))
    return path
