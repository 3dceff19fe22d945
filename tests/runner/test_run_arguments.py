"""`lassodrop run` refuses what it cannot carry out in one plain line, before starting anything."""

import pytest

from lassodrop_local.cli import main
from lassodrop_local.runner.cli import EXIT_USAGE
from lassodrop_local.runner.demo import write_tone
from lassodrop_local.runner.inputs import clear_output_folder, input_files


def refusal(capsys, argv: list[str]) -> str:
    code = main(["run", *argv])
    captured = capsys.readouterr()
    assert code == EXIT_USAGE, captured.out
    assert "Traceback" not in captured.err
    assert captured.err.startswith("lassodrop run: error: ")
    return captured.err


def test_files_that_share_a_name_are_refused_by_name(tmp_path, capsys):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        write_tone(tmp_path / folder / "song.wav")
    (tmp_path / "other.wav").write_bytes(b"x")

    error = refusal(
        capsys,
        [
            str(tmp_path / "a" / "song.wav"),
            str(tmp_path / "other.wav"),
            str(tmp_path / "b" / "song.wav"),
            "--out",
            str(tmp_path / "out"),
        ],
    )

    assert f"song.wav ({tmp_path / 'a' / 'song.wav'}, {tmp_path / 'b' / 'song.wav'})" in error
    assert "other.wav" not in error
    assert not (tmp_path / "out").exists()


def test_out_naming_a_file_is_refused(tmp_path, capsys):
    song = write_tone(tmp_path / "song.wav")
    out = tmp_path / "results"
    out.write_text("not a folder")

    error = refusal(capsys, [str(song), "--out", str(out)])

    assert f"--out {out} is a file" in error


def test_an_output_folder_that_is_the_input_itself_is_refused(tmp_path, capsys):
    song = write_tone(tmp_path / "song.wav")

    error = refusal(capsys, [str(song), "--out", str(tmp_path)])

    assert f"{song} is a file, where the outputs of {song} go" in error
    assert song.is_file()


def test_an_input_inside_the_folder_the_run_clears_is_refused(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "song.wav").mkdir(parents=True)
    song = write_tone(out / "song.wav" / "song.wav")

    error = refusal(capsys, [str(song), "--out", str(out)])

    assert f"{song} lies in {out / 'song.wav'}, which the run clears" in error
    assert song.is_file()


def test_an_http_base_url_for_the_real_service_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AUDIOLASSO_API_KEY", "al_real_key")
    monkeypatch.setenv("AUDIOLASSO_BASE_URL", "http://audiolasso.dev")

    error = refusal(capsys, ["--out", str(tmp_path / "out")])

    assert "AUDIOLASSO_BASE_URL http://audiolasso.dev" in error
    assert "https required" in error


def test_a_missing_file_is_named(tmp_path, capsys):
    error = refusal(capsys, [str(tmp_path / "nope.wav"), "--out", str(tmp_path / "out")])

    assert f"not a file: {tmp_path / 'nope.wav'}" in error


def test_file_list_is_split_like_shell_words(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("my song.wav", 'it\'s "live".wav', "plain.wav"):
        (tmp_path / name).write_bytes(b"x")

    inputs = input_files([], """'my song.wav' "it's \\"live\\".wav" plain.wav""", tmp_path / "out")

    assert [item.name for item in inputs] == ["my song.wav", 'it\'s "live".wav', "plain.wav"]


def test_file_list_with_an_open_quote_is_refused(tmp_path, capsys):
    error = refusal(capsys, ["--file-list", "'my song.wav", "--out", str(tmp_path / "out")])

    assert "--file-list" in error
    assert "No closing quotation" in error


@pytest.mark.parametrize("stale", ["folder", "symlink"])
def test_an_earlier_runs_outputs_are_cleared(tmp_path, stale):
    out = tmp_path / "out"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.wav").write_bytes(b"x")
    out.mkdir()
    if stale == "folder":
        (out / "song.wav").mkdir()
        (out / "song.wav" / "target.wav").write_bytes(b"old")
    else:
        (out / "song.wav").symlink_to(elsewhere)

    clear_output_folder(out, "song.wav")

    assert not (out / "song.wav").exists()
    assert not (out / "song.wav").is_symlink()
    assert (elsewhere / "keep.wav").is_file()
