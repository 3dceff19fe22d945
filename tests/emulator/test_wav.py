"""Output files: the PCM WAV rule and the fallback for anything else, the same on every supported Python."""

import struct
import wave
from pathlib import Path

import pytest

from lassodrop_local.emulator import wav
from tests.fixtures.audio import write_wav

# Written by `sox -n -r 8000 -b BITS -c CHANNELS FILE synth 0.05 sine 440`: sox uses WAVE_FORMAT_EXTENSIBLE
# for more than 16 bits or more than two channels, as most tools do.
SOX_FILES = sorted((Path(__file__).parent / "wavs").glob("sox-*.wav"))
PCM_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def build_wav(
    path: Path, *, width: int, channels: int, frames: int = 300, extensible: bool = False, tag: int = 1
) -> Path:
    """A WAV file built byte by byte (not with `wave`, whose formats differ by Python version)."""
    block_align = channels * width
    fmt = struct.pack(
        "<HHIIH", 0xFFFE if extensible else tag, channels, 8000, 8000 * block_align, block_align
    )
    fmt += struct.pack("<H", width * 8)
    if extensible:
        fmt += (
            struct.pack("<HHI", 22, width * 8, (1 << channels) - 1) + struct.pack("<H", tag) + PCM_GUID_TAIL
        )
    data = bytes((i * 7 + 3) % 256 for i in range(frames * block_align))
    # A LIST chunk of odd length before the data, as editors write: it must be skipped with its pad byte.
    info = b"LIST" + struct.pack("<I", 7) + b"INFOabc\x00"
    body = (
        b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + info + b"data" + struct.pack("<I", len(data))
    )
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data)
    return path


def chunks(path: Path) -> dict[bytes, bytes]:
    data = path.read_bytes()
    assert data[:4] == b"RIFF"
    assert data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    found, offset = {}, 12
    while offset < len(data):
        chunk_id, size = struct.unpack("<4sI", data[offset : offset + 8])
        found[chunk_id] = data[offset + 8 : offset + 8 + size]
        offset += 8 + size + size % 2
    return found


def assert_silent_copy_of_format(residual: Path, source: Path, width: int) -> None:
    original, silent = chunks(source), chunks(residual)
    assert silent[b"fmt "] == original[b"fmt "]
    assert len(silent[b"data"]) == len(original[b"data"])
    assert set(silent[b"data"]) == ({0x80} if width == 1 else {0})


@pytest.mark.parametrize("extensible", [False, True], ids=["plain", "extensible"])
@pytest.mark.parametrize("channels", [1, 2, 6])
@pytest.mark.parametrize("width", [1, 2, 3, 4], ids=["8bit", "16bit", "24bit", "32bit"])
def test_pcm_input_gives_identical_target_and_silent_residual_with_the_same_header(
    tmp_path: Path, width: int, channels: int, extensible: bool
) -> None:
    # Given an integer PCM WAV of any width and channel count, with either header
    source = build_wav(tmp_path / "in.wav", width=width, channels=channels, extensible=extensible)

    # When the emulator separates it
    outputs = wav.build_outputs(source, tmp_path / "out")

    # Then the target is the input byte for byte and the residual its silence, header and all
    assert outputs.target.read_bytes() == source.read_bytes()
    assert outputs.sample_rate == 8000
    assert_silent_copy_of_format(outputs.residual, source, width)


@pytest.mark.parametrize("source", SOX_FILES, ids=[path.stem for path in SOX_FILES])
def test_files_written_by_sox_separate_into_themselves(tmp_path: Path, source: Path) -> None:
    outputs = wav.build_outputs(source, tmp_path / "out")

    assert outputs.target.read_bytes() == source.read_bytes()
    assert outputs.sample_rate == 8000
    width = struct.unpack("<H", chunks(source)[b"fmt "][14:16])[0] // 8
    assert_silent_copy_of_format(outputs.residual, source, width)


def test_pcm_input_gives_identical_target_and_silent_residual_of_the_same_format(tmp_path: Path) -> None:
    source = write_wav(tmp_path / "in.wav", frames=3000, rate=8000, channels=1)

    outputs = wav.build_outputs(source, tmp_path / "out")

    assert outputs.target.read_bytes() == source.read_bytes()
    assert outputs.sample_rate == 8000
    with wave.open(str(source)) as original, wave.open(str(outputs.residual)) as residual:
        assert residual.getparams() == original.getparams()
        assert set(residual.readframes(residual.getnframes())) == {0}


def test_8_bit_residual_is_unsigned_silence(tmp_path: Path) -> None:
    source = tmp_path / "in.wav"
    with wave.open(str(source), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(1)
        writer.setframerate(8000)
        writer.writeframes(bytes(range(200)))

    outputs = wav.build_outputs(source, tmp_path / "out")

    with wave.open(str(outputs.residual)) as residual:
        assert set(residual.readframes(200)) == {0x80}


def test_a_header_claiming_more_data_than_the_file_holds_gives_silence_of_what_is_there(
    tmp_path: Path,
) -> None:
    source = build_wav(tmp_path / "in.wav", width=2, channels=2, frames=100)
    streamed = bytearray(source.read_bytes())
    data_at = streamed.index(b"data")
    streamed[data_at + 4 : data_at + 8] = struct.pack("<I", 0xFFFFFFFF)
    source.write_bytes(bytes(streamed))

    found = wav.pcm_format(source)

    assert found is not None
    assert found.frames == 100


@pytest.mark.parametrize("extensible", [False, True], ids=["plain", "extensible"])
def test_float_wav_is_not_pcm_and_gets_the_tone(tmp_path: Path, extensible: bool) -> None:
    # WAVE_FORMAT_IEEE_FLOAT: the same widths, but not the integer PCM the rule is about
    source = build_wav(tmp_path / "in.wav", width=4, channels=2, extensible=extensible, tag=3)

    outputs = wav.build_outputs(source, tmp_path / "out")

    assert outputs.target.read_bytes() != source.read_bytes()
    assert outputs.sample_rate == 44100


def test_non_wav_input_gives_small_valid_wav_files(tmp_path: Path) -> None:
    source = tmp_path / "in.mp3"
    source.write_bytes(b"ID3" + b"\x00" * 500)

    outputs = wav.build_outputs(source, tmp_path / "out")

    for path in (outputs.target, outputs.residual):
        with wave.open(str(path)) as reader:
            assert reader.getframerate() == 44100
            assert 0 < reader.getnframes() <= 44100
    assert outputs.sample_rate == 44100
