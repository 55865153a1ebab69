"""The `soundnet` CLI against transformers' own entry points, on a mixed-format folder with bad files."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from _helpers_downstream import BAD_FILES, GOOD_FILES, make_mixed_folder, run_script
from conftest import TINY_CONFIG, released_style_tiny_config
from safetensors.numpy import load_file
from transformers import AutoFeatureExtractor, AutoModel, AutoModelForAudioClassification, AutoModelForPreTraining

from hf_soundnet import SoundNetFeatureExtractor, SoundNetForAudioClassification, load_audio
from hf_soundnet.cli import main
from hf_soundnet.cli.feature_writers import read_parquet_features


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory) -> Path:
    from conftest import shared_dir

    audio = shared_dir() / "audio"
    if not audio.is_dir():
        pytest.skip(f"real recordings not found at {audio}")
    return make_mixed_folder(tmp_path_factory.mktemp("mixed"), audio)


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny random model with released-style heads (5 objects + 3 scenes) and the default feature extractor."""

    torch.manual_seed(0)
    config = released_style_tiny_config()
    model = SoundNetForAudioClassification(config).eval()
    for module in model.modules():  # non-trivial BN statistics so that every layer matters
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("tiny")
    model.save_pretrained(path)
    SoundNetFeatureExtractor().save_pretrained(path)
    return path


def api_inputs(checkpoint: Path, path: Path) -> dict:
    """One file through `load_audio` and `AutoFeatureExtractor`, unpadded."""
    extractor = AutoFeatureExtractor.from_pretrained(checkpoint)
    return extractor(
        [load_audio(path, extractor.sampling_rate)], sampling_rate=extractor.sampling_rate, return_tensors="pt"
    )


def read_jsonl(path: Path) -> dict[str, dict]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len({r["path"] for r in records}) == len(records), "one line per file"
    return {r["path"]: r for r in records}


@pytest.mark.slow
def test_classify_mixed_folder_equals_api_and_resumes(mixed_folder, released_checkpoint, tmp_path):
    output = tmp_path / "out.jsonl"
    args = ["-m", "hf_soundnet.cli", "classify", str(mixed_folder), "--model", str(released_checkpoint)]
    args += ["--output-file", str(output), "--top-k", "3", "--batch-size", "3", "--num-workers", "2"]
    result = run_script(args)
    assert result.returncode == 1, result.stderr
    records = read_jsonl(output)
    assert set(records) == {str(mixed_folder / name) for name in GOOD_FILES + BAD_FILES}
    for name in BAD_FILES:
        assert name in records[str(mixed_folder / name)]["error"]
        assert name in result.stderr

    model = AutoModelForAudioClassification.from_pretrained(released_checkpoint).eval()
    pretraining = AutoModelForPreTraining.from_pretrained(released_checkpoint).eval()
    objects = [model.config.id2label[i].removeprefix("object: ") for i in range(1000)]
    scenes = [model.config.id2label[1000 + i].removeprefix("scene: ") for i in range(401)]
    for name in GOOD_FILES:
        record = records[str(mixed_folder / name)]
        inputs = api_inputs(released_checkpoint, mixed_folder / name)
        with torch.no_grad():
            object_probs, scene_probs = (p[0].numpy() for p in model.clip_probabilities(**inputs))
            steps = pretraining(**inputs)
        top = np.argsort(-object_probs)[:3]
        assert [o["label"] for o in record["objects"]] == [objects[i] for i in top]
        # The command's fast forward (batched) against the eager model, both float32 with the released weights:
        # 1e-4, as in test_released_parity.py (sums of up to 8,192 products in another order; ~1e-5 typical).
        np.testing.assert_allclose([o["probability"] for o in record["objects"]], object_probs[top], atol=1e-4)
        top = np.argsort(-scene_probs)[:3]
        assert [s["label"] for s in record["scenes"]] == [scenes[i] for i in top]
        np.testing.assert_allclose([s["probability"] for s in record["scenes"]], scene_probs[top], atol=1e-4)
        step_objects = steps.object_logits[0].argmax(-1).tolist()
        step_scenes = steps.scene_logits[0].argmax(-1).tolist()
        assert [t["object"]["label"] for t in record["timeline"]] == [objects[i] for i in step_objects]
        assert [t["scene"]["label"] for t in record["timeline"]] == [scenes[i] for i in step_scenes]
        assert [t["start_s"] for t in record["timeline"]] == pytest.approx(
            [i * 65536 / 22050 for i in range(len(step_objects))]
        )
        assert record["duration_s"] == pytest.approx(load_audio(mixed_folder / name).shape[1] / 22050, abs=1e-3)

    # Resume: the 5 good files are skipped, the 2 bad ones retried; still one line per file.
    again = run_script(args)
    assert again.returncode == 1
    assert "5 files already" in again.stderr
    assert read_jsonl(output).keys() == records.keys()


@pytest.mark.numeric
def test_classify_matches_pipeline_on_tiny_model(mixed_folder, tiny_checkpoint, tmp_path):
    from transformers import pipeline

    from hf_soundnet import SoundNetAudioClassificationPipeline

    output = tmp_path / "tiny.jsonl"
    status = main(
        [
            "classify",
            str(mixed_folder / "sub"),
            str(mixed_folder / "railroad.wav"),
            "--model",
            str(tiny_checkpoint),
            "--output-file",
            str(output),
            "--top-k",
            "2",
            "--num-workers",
            "0",
            "--quiet",
        ]
    )
    assert status == 0
    records = {Path(r["path"]).name: r for r in map(json.loads, output.read_text().splitlines())}
    assert set(records) == {"rail.flac", "forest.ogg", "railroad.wav"}
    classifier = pipeline(
        "audio-classification", model=str(tiny_checkpoint), pipeline_class=SoundNetAudioClassificationPipeline
    )
    for name, path in (("rail.flac", "sub/rail.flac"), ("railroad.wav", "railroad.wav")):
        predictions = classifier(str(mixed_folder / path), top_k=None)
        expected = [p for p in predictions if p["label"].startswith("scene: ")][:2]
        assert [s["label"] for s in records[name]["scenes"]] == [p["label"].removeprefix("scene: ") for p in expected]
        np.testing.assert_allclose(
            [s["probability"] for s in records[name]["scenes"]], [p["score"] for p in expected], atol=1e-5
        )


@pytest.mark.numeric
@pytest.mark.parametrize("layer", ["conv2", "pool3", "conv8"])
@pytest.mark.parametrize("fmt", ["npy", "safetensors", "parquet"])
def test_extract_equals_hidden_states(mixed_folder, tiny_checkpoint, tmp_path, layer, fmt):
    out = tmp_path / "features"
    argv = [
        "extract",
        str(mixed_folder),
        "--model",
        str(tiny_checkpoint),
        "--layer",
        layer,
        "--output-dir",
        str(out),
        "--format",
        fmt,
        "--batch-size",
        "4",
        "--num-workers",
        "0",
        "--quiet",
    ]
    assert main(argv) == 1  # the corrupt and the empty file
    errors = [json.loads(line) for line in (out / "errors.jsonl").read_text().splitlines()]
    assert sorted(Path(e["path"]).name for e in errors) == sorted(BAD_FILES)
    settings = json.loads((out / "extraction.json").read_text())

    trunk = AutoModel.from_pretrained(tiny_checkpoint).eval()
    heads = AutoModelForPreTraining.from_pretrained(tiny_checkpoint).eval()
    index = trunk.config.layer_name_to_index.get(layer)
    for name in GOOD_FILES:
        target = out / f"{name}.{fmt}"
        if fmt == "npy":
            features = np.load(target)
        elif fmt == "safetensors":
            features = load_file(target)["features"]
        else:
            features = read_parquet_features(target)
        inputs = api_inputs(tiny_checkpoint, mixed_folder / name)
        with torch.no_grad():
            if index is None:
                outputs = heads(**inputs)
                expected = torch.cat([outputs.object_logits, outputs.scene_logits], -1)[0].T.numpy()
            else:
                expected = trunk(**inputs, output_hidden_states=True).hidden_states[index][0].numpy()
        assert features.shape == expected.shape
        np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)
    hop = 2 * 2 * 2 * 2 * 2 * 2 if index is None else [4, 8, 32][index]
    assert settings["hop_samples"] == hop and settings["channels"] == (8 if index is None else [4, 6, 8][index])


def test_extract_resumes_and_refuses_other_settings(mixed_folder, tiny_checkpoint, tmp_path, capsys):
    out = tmp_path / "features"
    argv = [
        "extract",
        str(mixed_folder / "sub"),
        "--model",
        str(tiny_checkpoint),
        "--layer",
        "conv3",
        "--output-dir",
        str(out),
        "--num-workers",
        "0",
        "--quiet",
    ]
    assert main(argv) == 0
    first = out / "rail.flac.npy"
    stamp = first.stat().st_mtime_ns
    first_forest = out / "forest.ogg.npy"
    first_forest.unlink()
    capsys.readouterr()
    assert main([a for a in argv if a != "--quiet"]) == 0
    assert first.stat().st_mtime_ns == stamp and first_forest.is_file()
    assert "1 files already extracted" in capsys.readouterr().err
    assert main([a if a != "conv3" else "conv2" for a in argv]) == 2
    assert "other settings" in capsys.readouterr().err


def test_list_file_and_missing_path(mixed_folder, tiny_checkpoint, tmp_path, capsys):
    listing = tmp_path / "files.txt"
    listing.write_text(f"# a comment\n{mixed_folder / 'railroad.wav'}\nmissing.wav\n")
    output = tmp_path / "out.jsonl"
    status = main(
        [
            "classify",
            str(listing),
            "--model",
            str(tiny_checkpoint),
            "--output-file",
            str(output),
            "--num-workers",
            "0",
            "--quiet",
        ]
    )
    assert status == 1
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [Path(r["path"]).name for r in records if "error" not in r] == ["railroad.wav"]
    (error,) = [r for r in records if "error" in r]
    assert error["path"] == str(tmp_path / "missing.wav") and "no such file" in error["error"]


def test_usage_errors(mixed_folder, tiny_checkpoint, tmp_path, capsys):
    assert main(["--help"]) == 0
    assert main(["extract", "--help"]) == 0
    assert "--layer" in capsys.readouterr().out
    assert main(["extract", str(mixed_folder), "--output-dir", str(tmp_path)]) == 2  # no --layer
    assert (
        main(
            [
                "extract",
                str(mixed_folder),
                "--model",
                str(tiny_checkpoint),
                "--layer",
                "pool9",
                "--output-dir",
                str(tmp_path / "x"),
                "--quiet",
            ]
        )
        == 2
    )
    assert "Unknown layer 'pool9'" in capsys.readouterr().err
    assert main(["classify", str(mixed_folder), "--model", str(tmp_path / "nowhere")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    (tmp_path / "no_audio").mkdir()
    assert main(["classify", str(tmp_path / "no_audio")]) == 2
    assert "no audio files found" in capsys.readouterr().err


@pytest.mark.numeric
def test_fast_forward_eager_and_reduced_precision_agree(mixed_folder, tiny_checkpoint, tmp_path, capsys):
    """The default fast forward equals `--eager` (the transformers model itself); bf16 is close; bf16 with --eager
    is a usage error."""
    common = [str(mixed_folder / "railroad.wav"), str(mixed_folder / "sub"), "--model", str(tiny_checkpoint)]
    common += ["--top-k", "3", "--num-workers", "0", "--quiet"]
    runs = {}
    for name, extra in (("fast", []), ("eager", ["--eager"]), ("bf16", ["--precision", "bf16"])):
        output = tmp_path / f"{name}.jsonl"
        assert main(["classify", *common, "--output-file", str(output), *extra]) == 0
        runs[name] = read_jsonl(output)
    for path, record in runs["eager"].items():
        for head in ("objects", "scenes"):
            for got, want in zip(runs["fast"][path][head], record[head]):
                assert got["label"] == want["label"]
                # Tiny model (sums of <= 32 products of magnitude ~1): float32 orders differ by ~1e-7 on any kernel.
                assert got["probability"] == pytest.approx(want["probability"], abs=1e-5)
            for got, want in zip(runs["bf16"][path][head], record[head]):
                assert got["probability"] == pytest.approx(want["probability"], abs=3e-2)
    assert main(["classify", *common, "--eager", "--precision", "bf16"]) == 2
    assert "needs the fast forward" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("layer", ["pool5", "conv8"])
def test_extract_streams_long_files_with_the_same_frames(released_checkpoint, audio_dir, tmp_path, layer):
    """A 90 s stereo MP3 over --stream-longer-than is streamed in chunks; its frames equal the whole-file path's."""
    import subprocess

    long_file = tmp_path / "in" / "long.mp3"
    long_file.parent.mkdir()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-stream_loop", "2", "-i", str(audio_dir / "forest_track.mp3"), str(long_file)],
        check=True,
    )
    common = [str(long_file.parent), "--model", str(released_checkpoint), "--layer", layer, "--quiet"]
    common += ["--num-workers", "0", "--format", "safetensors"]
    assert main(["extract", *common, "--output-dir", str(tmp_path / "whole"), "--stream-longer-than", "0"]) == 0
    assert main(["extract", *common, "--output-dir", str(tmp_path / "streamed"), "--stream-longer-than", "60"]) == 0
    from safetensors import safe_open

    arrays = {}
    for name in ("whole", "streamed"):
        with safe_open(tmp_path / name / "long.mp3.safetensors", "np") as handle:
            arrays[name] = handle.get_tensor("features")
            assert (handle.metadata().get("streamed") == "True") == (name == "streamed")
            assert float(handle.metadata()["duration_s"]) == pytest.approx(87.5, abs=0.5)
    whole, streamed = arrays["whole"], arrays["streamed"]
    assert whole.shape == streamed.shape and whole.shape[1] > 1
    np.testing.assert_allclose(streamed, whole, atol=1e-4 * np.abs(whole).max())


def test_quiet_prints_only_errors_and_results(mixed_folder, tiny_checkpoint, capsys):
    """--quiet: no progress bars (ours, transformers' weight loading), no summaries, no warnings; the per-file errors
    and the results (JSON Lines on stdout) remain; the logging and warning state is restored afterwards."""
    import logging
    import warnings

    argv = ["classify", str(mixed_folder), "--model", str(tiny_checkpoint), "--num-workers", "0", "--top-k", "1"]
    argv += ["--eager"]  # the model through transformers, with its weight-loading bar (the fast path has none)
    filters = list(warnings.filters)
    assert main([*argv, "--quiet"]) == 1  # the corrupt and the empty file
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == len(GOOD_FILES) + len(BAD_FILES)
    lines = err.splitlines()
    assert len(lines) == len(BAD_FILES) + 1 and all(line.startswith("soundnet classify: ") for line in lines), lines
    assert all(name in err for name in BAD_FILES) and "files failed" in lines[-1]
    assert logging.root.manager.disable == logging.NOTSET and warnings.filters == filters

    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "audio s/s after start-up" in err and "Loading weights" in err  # the same run, not quiet


# --- Output safety of `soundnet classify --output-file` (issue 12) ---


def short_clips(folder: Path, count: int) -> list[Path]:
    """`count` distinct 0.5 s noise clips (22,050 Hz WAV) in `folder`."""
    import soundfile

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(count)
    paths = []
    for i in range(count):
        path = folder / f"clip{i:03d}.wav"
        soundfile.write(path, rng.uniform(-0.5, 0.5, 11025).astype(np.float32), 22050)
        paths.append(path)
    return paths


def classify_argv(inputs: list, checkpoint: Path, output: Path, *extra: str, quiet: bool = True) -> list[str]:
    """`soundnet classify` arguments; `quiet=False` keeps the resume summary ("N files already in ...")."""
    args = ["classify", *map(str, inputs), "--model", str(checkpoint), "--output-file", str(output)]
    return [*args, "--batch-size", "1", "--num-workers", "0", *(["--quiet"] if quiet else []), *extra]


# Runs `soundnet classify` with its decoding of one file held until a gate file exists: a real run, stalled
# mid-run at a known point (the test then kills it, or starts a second run beside it), not a mock.
GATED_RUN = """
import os, sys, time
import hf_soundnet.audio.batches as batch_inference
from hf_soundnet.cli import main

gate, held, load_audio = sys.argv[1], sys.argv[2], batch_inference.load_audio

def held_load_audio(source, *args, **kwargs):
    while os.path.basename(str(source)) == held and not os.path.exists(gate):
        time.sleep(0.05)
    return load_audio(source, *args, **kwargs)

batch_inference.load_audio = held_load_audio
sys.exit(main(sys.argv[3:]))
"""


def start_held_run(inputs: list, checkpoint: Path, output: Path, held: Path, gate: Path):
    """
    A real `soundnet classify` process over `inputs`, in the background, whose decoding of `held` waits for `gate`
    to exist. Returns once it has written 2 records (of the files before `held`), mid-run, holding its lock.
    """
    import subprocess
    import sys
    import time

    process = subprocess.Popen(
        [sys.executable, "-c", GATED_RUN, str(gate), held.name, *classify_argv(inputs, checkpoint, output)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while not (output.is_file() and output.read_text().count("\n") >= 2):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the background run wrote nothing in 300 s"
        time.sleep(0.05)
    return process


def classify_lines(output: Path) -> list[dict]:
    return [json.loads(line) for line in output.read_text().splitlines()]


def test_concurrent_run_on_one_output_is_refused_and_nothing_is_lost(tiny_checkpoint, tmp_path):
    """Two real processes on one --output: the second is refused (exit 2, naming the file and the holder) while the
    first holds the output; the first keeps every record; a later run appends its own; nothing is lost."""

    first = short_clips(tmp_path / "first", 6)
    second = short_clips(tmp_path / "second", 3)
    output = tmp_path / "out.jsonl"
    gate = tmp_path / "gate"
    process = start_held_run(first, tiny_checkpoint, output, first[3], gate)
    try:
        refused = run_script(["-m", "hf_soundnet.cli", *classify_argv(second, tiny_checkpoint, output)])
        assert refused.returncode == 2, refused.stderr
        assert str(output) in refused.stderr and f"pid {process.pid}" in refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        gate.touch()
        _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    assert [r["path"] for r in classify_lines(output)] == list(map(str, first))
    assert not output.with_name(output.name + ".lock").exists()

    again = run_script(["-m", "hf_soundnet.cli", *classify_argv(second, tiny_checkpoint, output)])
    assert again.returncode == 0, again.stderr
    assert [r["path"] for r in classify_lines(output)] == list(map(str, first + second))


def test_kill_9_mid_run_then_resume_keeps_every_file_exactly_once(tiny_checkpoint, tmp_path):
    import signal

    clips = short_clips(tmp_path / "clips", 6)
    output = tmp_path / "out.jsonl"
    process = start_held_run(clips, tiny_checkpoint, output, clips[3], tmp_path / "gate")
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    written = [r["path"] for r in classify_lines(output)]
    # Every record of the files before the one held in flight (batches of 1; decoding may run one batch ahead).
    assert len(written) >= 2 and written == list(map(str, clips[: len(written)]))
    with output.open("a") as handle:  # and a line torn by the kill, as a kill during a write leaves
        handle.write('{"path": "' + str(clips[len(written)]) + '", "dura')

    resumed = run_script(["-m", "hf_soundnet.cli", *classify_argv(clips, tiny_checkpoint, output, quiet=False)])
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(written)} files already" in resumed.stderr
    assert sorted(r["path"] for r in classify_lines(output)) == sorted(map(str, clips))  # each exactly once


def test_output_that_is_not_classify_jsonl_is_refused_and_kept(tiny_checkpoint, tmp_path, capsys):
    clip = short_clips(tmp_path / "clips", 1)
    for content in ("line one\nline two\n", '{"id": 1, "text": "a dataset row"}\n', "[1, 2]\n"):
        output = tmp_path / "notes.jsonl"
        output.write_text(content)
        assert main(classify_argv(clip, tiny_checkpoint, output)) == 2
        err = capsys.readouterr().err
        assert str(output) in err and "not `soundnet classify` output" in err
        assert output.read_text() == content
    output = tmp_path / "empty.jsonl"
    output.write_text("")
    assert main(classify_argv(clip, tiny_checkpoint, output)) == 0
    assert len(classify_lines(output)) == 1


def test_resume_with_another_model_or_top_k_is_refused(tiny_checkpoint, tmp_path, capsys):
    clips = short_clips(tmp_path / "clips", 2)
    output = tmp_path / "out.jsonl"
    assert main(classify_argv(clips[:1], tiny_checkpoint, output, "--top-k", "2")) == 0
    before = output.read_text()
    record = json.loads(before)
    assert record["top_k"] == 2 and record["precision"] == "fp32" and len(record["weights_sha256"]) == 64

    assert main(classify_argv(clips, tiny_checkpoint, output, "--top-k", "3")) == 2
    err = capsys.readouterr().err
    assert str(output) in err and "other settings" in err and "top_k" in err

    other = tmp_path / "other_model"  # the same architecture with other weights, saved under another folder
    model = SoundNetForAudioClassification.from_pretrained(tiny_checkpoint)
    with torch.no_grad():
        model.scene_head.bias.add_(1.0)
    model.save_pretrained(other)
    SoundNetFeatureExtractor.from_pretrained(tiny_checkpoint).save_pretrained(other)
    assert main(classify_argv(clips, other, output, "--top-k", "2")) == 2
    assert "weights_sha256" in capsys.readouterr().err
    assert output.read_text() == before

    copy = tmp_path / "same_weights"  # the same weights from another path resume
    SoundNetForAudioClassification.from_pretrained(tiny_checkpoint).save_pretrained(copy)
    SoundNetFeatureExtractor.from_pretrained(tiny_checkpoint).save_pretrained(copy)
    assert main(classify_argv(clips, copy, output, "--top-k", "2", quiet=False)) == 0
    assert "1 files already" in capsys.readouterr().err
    assert [Path(r["path"]).name for r in classify_lines(output)] == ["clip000.wav", "clip001.wav"]


def test_output_path_errors_are_usage_errors(tiny_checkpoint, tmp_path, capsys):
    clip = short_clips(tmp_path / "clips", 1)
    missing = tmp_path / "no" / "such" / "out.jsonl"
    assert main(classify_argv(clip, tiny_checkpoint, missing)) == 2
    err = capsys.readouterr().err
    assert str(missing.parent) in err and "does not exist" in err and "create the folder" in err
    assert main(classify_argv(clip, tiny_checkpoint, tmp_path)) == 2
    assert f"--output-file {tmp_path} is a folder" in capsys.readouterr().err
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    assert main(classify_argv(clip, tiny_checkpoint, a_file / "out.jsonl")) == 2
    assert f"{a_file} is not a folder" in capsys.readouterr().err

    settings = tmp_path / "features" / "extraction.json"
    settings.parent.mkdir()
    settings.write_text('{"layer": "conv3", truncated')
    extract = ["extract", str(clip[0]), "--model", str(tiny_checkpoint), "--layer", "conv3", "--num-workers", "0"]
    assert main([*extract, "--output-dir", str(settings.parent), "--quiet"]) == 2
    assert f"{settings} is unreadable or not JSON" in capsys.readouterr().err
    assert main([*extract, "--output-dir", str(a_file), "--quiet"]) == 2
    assert f"--output-dir {a_file} is a file" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes through permission bits")
def test_unwritable_output_is_a_usage_error(tiny_checkpoint, tmp_path, capsys):
    clip = short_clips(tmp_path / "clips", 1)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        assert main(classify_argv(clip, tiny_checkpoint, locked / "out.jsonl")) == 2
        assert f"the folder {locked} is not writable" in capsys.readouterr().err
    finally:
        locked.chmod(0o755)
    read_only = tmp_path / "read_only.jsonl"
    read_only.write_text("")
    read_only.chmod(0o444)
    assert main(classify_argv(clip, tiny_checkpoint, read_only)) == 2
    assert f"--output-file {read_only} is not readable and writable" in capsys.readouterr().err


def test_kill_9_mid_extract_then_resume_loses_only_the_files_in_flight(tiny_checkpoint, tmp_path):
    """A real `soundnet extract` killed with SIGKILL mid-run (held while decoding one file): the files it wrote are
    complete, and the resumed run extracts exactly the rest, equal to a fresh extraction of every file."""
    import signal
    import subprocess
    import sys
    import time

    clips = short_clips(tmp_path / "clips", 5)
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    argv = ["extract", str(clips[0].parent), "--model", str(tiny_checkpoint), "--layer", "conv3"]
    argv += ["--batch-size", "1", "--num-workers", "0", "--quiet"]
    process = subprocess.Popen(
        [sys.executable, "-c", GATED_RUN, str(tmp_path / "gate"), clips[3].name, *argv, "--output-dir", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 300
    while len(list(out.glob("*.npy"))) < 2:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the background extract wrote nothing in 300 s"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    written = sorted(path.name for path in out.glob("*.npy"))
    assert 2 <= len(written) < len(clips)
    for name in written:  # every file on disk is whole: written to a temporary name, then renamed
        assert np.load(out / name).shape[0] == TINY_CONFIG["conv_channels"][2]

    resumed = run_script(["-m", "hf_soundnet.cli", *argv, "--output-dir", str(out)])
    assert resumed.returncode == 0, resumed.stderr
    assert main([*argv, "--output-dir", str(fresh)]) == 0
    assert sorted(path.name for path in out.glob("*.npy")) == sorted(f"{clip.name}.npy" for clip in clips)
    for clip in clips:
        np.testing.assert_array_equal(np.load(out / f"{clip.name}.npy"), np.load(fresh / f"{clip.name}.npy"))
