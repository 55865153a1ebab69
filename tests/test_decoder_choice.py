"""`--decoder` of `soundnet classify` / `soundnet extract` and the `decoder` argument of `classify_files` and
`extract_files`: either decoder gives the same records and features; `auto` takes the `ffmpeg` program for a few
files (the command then never imports torchcodec) and torchcodec for many or without the program."""

import json
import os
import re
import shutil

import numpy as np
import pytest
from _helpers_downstream import run_script
from conftest import save_tiny_checkpoint

from hf_soundnet.cli import main
from hf_soundnet.cli.common import AUTO_FFMPEG_MAX_FILES, UsageError, choose_decoder
from hf_soundnet.inference.classify import classify_files
from hf_soundnet.inference.extract import extract_files, probe_duration
from hf_soundnet.inference.light_loading import load_fast_classifier


RECORDINGS = ("railroad.wav", "forest_track.mp3", "short_stereo_48k.wav")

pytestmark = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None, reason="needs the ffmpeg and ffprobe programs"
)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny"))


def imported_modules(stderr: str) -> set[str]:
    """Module names from `python -X importtime` output."""
    return {m.group(1) for m in re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)$", stderr, re.MULTILINE)}


def imports_torchcodec(stderr: str) -> bool:
    return any(name == "torchcodec" or name.startswith("torchcodec.") for name in imported_modules(stderr))


def test_auto_takes_the_program_for_a_few_files_and_torchcodec_otherwise(monkeypatch, tmp_path):
    assert choose_decoder("auto", 1) == "ffmpeg"
    assert choose_decoder("auto", AUTO_FFMPEG_MAX_FILES) == "ffmpeg"
    assert choose_decoder("auto", AUTO_FFMPEG_MAX_FILES + 1) == "torchcodec"
    assert choose_decoder("torchcodec", 1) == "torchcodec"
    assert choose_decoder("ffmpeg", 1000) == "ffmpeg"
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without the program
    assert choose_decoder("auto", 1) == "torchcodec"
    with pytest.raises(UsageError, match="--decoder ffmpeg needs the ffmpeg program on PATH"):
        choose_decoder("ffmpeg", 1)


def test_explicit_program_without_it_on_path_is_a_usage_error(monkeypatch, tmp_path, audio_dir, tiny_checkpoint):
    monkeypatch.setenv("PATH", str(tmp_path))
    argv = [str(audio_dir / "railroad.wav"), "--model", str(tiny_checkpoint), "--num-workers", "0", "--quiet"]
    assert main(["classify", *argv, "--decoder", "ffmpeg"]) == 2
    extract = ["extract", *argv, "--layer", "conv2", "--output-dir", str(tmp_path / "out"), "--decoder", "ffmpeg"]
    assert main(extract) == 2
    assert main(["classify", *argv]) == 0  # auto: torchcodec


def test_help_says_what_auto_does(capsys):
    assert main(["classify", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "--decoder {auto,torchcodec,ffmpeg}" in text
    assert f"ffmpeg for at most {AUTO_FFMPEG_MAX_FILES} input files when the program is on PATH" in text


@pytest.mark.slow
def test_classify_records_are_equal_with_either_decoder(released_checkpoint, audio_dir, tmp_path):
    """The real weights on a stereo 44.1 kHz MP3 (downmixed and resampled): the same samples give the same records."""
    records = {}
    for decoder in ("ffmpeg", "torchcodec"):
        output = tmp_path / f"{decoder}.jsonl"
        argv = ["classify", str(audio_dir / "forest_track.mp3"), str(audio_dir / "short_stereo_48k.wav")]
        argv += ["--model", str(released_checkpoint), "--num-workers", "0", "--quiet"]
        assert main([*argv, "--output-file", str(output), "--decoder", decoder]) == 0
        records[decoder] = sorted(output.read_text().splitlines())
    assert len(records["ffmpeg"]) == 2 and "forest_track.mp3" in records["ffmpeg"][0]
    assert records["ffmpeg"] == records["torchcodec"]


def test_classify_files_passes_the_decoder(tiny_checkpoint, audio_dir, monkeypatch, tmp_path):
    model, extractor = load_fast_classifier(tiny_checkpoint)
    files = [str(audio_dir / name) for name in RECORDINGS]
    by_decoder = {
        decoder: sorted(
            classify_files(model, extractor, files, num_workers=0, decoder=decoder), key=lambda r: r["path"]
        )
        for decoder in ("ffmpeg", "torchcodec")
    }
    assert [r["path"] for r in by_decoder["ffmpeg"]] == sorted(files)
    assert by_decoder["ffmpeg"] == by_decoder["torchcodec"]
    with pytest.raises(ValueError, match="`decoder` must be one of"):
        classify_files(model, extractor, files, decoder="auto")
    monkeypatch.setenv("PATH", str(tmp_path))  # the program is what decodes: without it, each file fails alone
    records = list(classify_files(model, extractor, files, num_workers=0, decoder="ffmpeg"))
    assert all("needs `ffmpeg` on PATH" in record["error"] for record in records) and len(records) == len(files)


@pytest.mark.parametrize("name", RECORDINGS)
def test_ffprobe_reads_the_header_duration_torchcodec_reads(audio_dir, name):
    path = audio_dir / name
    assert probe_duration(path, "ffmpeg") == pytest.approx(probe_duration(path, "torchcodec"), abs=1e-6)


def test_extract_files_gives_the_same_features_with_either_decoder(tiny_checkpoint, audio_dir, monkeypatch, tmp_path):
    """Batched and streamed files (forest_track.mp3, 29.2 s, is streamed past 25 s: `ffprobe` read its duration)."""
    model, extractor = load_fast_classifier(tiny_checkpoint)
    files = [str(audio_dir / name) for name in RECORDINGS]
    results = {}
    for decoder in ("ffmpeg", "torchcodec"):
        outputs = extract_files(
            model, extractor, files, layer="conv2", num_workers=0, stream_longer_than=25.0, decoder=decoder
        )
        results[decoder] = {r.name: r for r in outputs}
    assert set(results["ffmpeg"]) == set(files)
    for path in files:
        by_program, by_torchcodec = results["ffmpeg"][path], results["torchcodec"][path]
        assert by_program.streamed == by_torchcodec.streamed == path.endswith("forest_track.mp3")
        assert by_program.duration_s == pytest.approx(by_torchcodec.duration_s, abs=1e-6)
        np.testing.assert_array_equal(by_program.features, by_torchcodec.features)
    monkeypatch.setenv("PATH", str(tmp_path))  # the program is what decodes: without it, each file fails alone
    outputs = list(extract_files(model, extractor, files, layer="conv2", num_workers=0, decoder="ffmpeg"))
    assert all("needs `ffmpeg` on PATH" in output.error for output in outputs) and len(outputs) == len(files)


@pytest.mark.slow
def test_one_file_is_classified_without_importing_torchcodec(released_checkpoint, audio_dir, tmp_path):
    """`soundnet classify one.mp3` (auto) never imports torchcodec and writes the record of `--decoder torchcodec`,
    which imports it; so do more than `AUTO_FFMPEG_MAX_FILES` files, and one file without the program on PATH."""
    command = ["-X", "importtime", "-m", "hf_soundnet.cli", "classify", "--model", str(released_checkpoint)]
    command += ["--num-workers", "0", "--quiet"]
    mp3 = str(audio_dir / "forest_track.mp3")
    auto = run_script([*command, mp3])
    assert auto.returncode == 0, auto.stderr[-3000:]
    assert "hf_soundnet.decoding_soundnet" in imported_modules(auto.stderr)  # the parse sees imports
    assert not imports_torchcodec(auto.stderr)
    forced = run_script([*command, mp3, "--decoder", "torchcodec"])
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert imports_torchcodec(forced.stderr)
    assert json.loads(auto.stdout) == json.loads(forced.stdout)

    many_files = [str(audio_dir / name) for name in RECORDINGS]
    for index in range(AUTO_FFMPEG_MAX_FILES + 1 - len(RECORDINGS)):  # distinct paths: duplicates are dropped
        (tmp_path / f"copy{index}.wav").symlink_to(audio_dir / "short_stereo_48k.wav")
        many_files.append(str(tmp_path / f"copy{index}.wav"))
    listing = tmp_path / "many.txt"
    listing.write_text("".join(f"{path}\n" for path in many_files))
    many = run_script([*command, str(listing)])
    assert many.returncode == 0, many.stderr[-3000:]
    assert len(many.stdout.splitlines()) == AUTO_FFMPEG_MAX_FILES + 1
    assert imports_torchcodec(many.stderr)

    environment = {"PATH": str(tmp_path), "HF_HUB_OFFLINE": "1"}  # no ffmpeg on PATH
    environment.update({k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "HOME")})
    without = run_script([*command, mp3], env=environment)
    assert without.returncode == 0, without.stderr[-3000:]
    assert imports_torchcodec(without.stderr)
