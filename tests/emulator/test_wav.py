"""Output files: the PCM WAV rule and the fallback for anything else."""

import wave
from pathlib import Path

from lassodrop_local.emulator import wav
from tests.fixtures.audio import write_wav


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


def test_non_wav_input_gives_small_valid_wav_files(tmp_path: Path) -> None:
    source = tmp_path / "in.mp3"
    source.write_bytes(b"ID3" + b"\x00" * 500)

    outputs = wav.build_outputs(source, tmp_path / "out")

    for path in (outputs.target, outputs.residual):
        with wave.open(str(path)) as reader:
            assert reader.getframerate() == 44100
            assert 0 < reader.getnframes() <= 44100
    assert outputs.sample_rate == 44100
