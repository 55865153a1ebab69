"""examples/build_corpus.py on videos made with ffmpeg (real recordings muxed with generated frames) and tiny
random image teachers: the records match an independent decode and teacher run, bad videos are skipped and
reported, a rerun resumes, several processes write their own shards, and `load_dataset` streams the result."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _helpers_corpus import make_tiny_teacher, make_video
from conftest import REPO_ROOT, shared_dir

from hf_soundnet import load_audio
from hf_soundnet.pretraining.corpus import list_shards, load_corpus_info, read_column, teacher_array


SCRIPT = str(REPO_ROOT / "examples" / "build_corpus.py")


def build(launcher: list[str], videos: Path, output: Path, teachers: list[str], *extra: str, expect: int = 1):
    """Runs the script; by default expects exit status 1: the videos hold two bad ones, skipped and reported."""
    command = [*launcher, SCRIPT, "--videos", str(videos), "--output_dir", str(output), "--shard_size", "2", *extra]
    command += ["--teachers", *teachers]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == expect, f"{command}:\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


@pytest.fixture(scope="module")
def videos_and_teachers(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    audio = shared_dir() / "audio"
    if not audio.is_dir():
        pytest.skip(f"real recordings not found at {audio}")
    videos = root / "videos"
    (videos / "sub").mkdir(parents=True)
    make_video(videos / "rail.mp4", audio / "railroad.wav", 12, "red")
    make_video(videos / "sub" / "forest.mkv", audio / "forest_track.mp3", 7, "blue", start=3)
    make_video(videos / "short.mp4", audio / "short_stereo_48k.wav", 3, "green")
    make_video(videos / "no_audio.mp4", None, 6, "yellow")
    (videos / "corrupt.mp4").write_bytes(b"this is not a video" * 64)
    objects = make_tiny_teacher(root / "objects", 7, seed=0)
    scenes = make_tiny_teacher(root / "scenes", 4, seed=1)
    return videos, [f"objects={objects}", str(scenes)]


GOOD = {"rail.mp4": 12.0, "short.mp4": 3.0, "sub/forest.mkv": 7.0}
# One frame per whole 5 s step at the step's centre; a clip shorter than a step is one step at its middle.
FRAME_TIMES = {"rail.mp4": [2.5, 7.5], "short.mp4": [1.5], "sub/forest.mkv": [2.5]}


def test_build_records_match_independent_computation(tmp_path, videos_and_teachers):
    from torchcodec.decoders import VideoDecoder
    from transformers import AutoImageProcessor, AutoModelForImageClassification

    videos, teachers = videos_and_teachers
    result = build([sys.executable], videos, tmp_path / "corpus", teachers)
    info = load_corpus_info(tmp_path / "corpus")
    assert [t.name for t in info.teachers] == ["objects", "scenes"]  # the 2nd teacher gets the default name
    assert [t.num_classes for t in info.teachers] == [7, 4] and info.teachers[1].labels[0] == "class_1_0"

    from datasets import load_dataset

    records = {r["key"]: r for r in load_dataset(str(tmp_path / "corpus"), split="train", streaming=True)}
    assert set(records) == set(GOOD)
    judges = [
        (
            teacher,
            AutoModelForImageClassification.from_pretrained(teacher.model).eval(),
            AutoImageProcessor.from_pretrained(teacher.model),
        )
        for teacher in info.teachers
    ]
    for key, seconds in GOOD.items():
        record = records[key]
        expected_audio = load_audio(videos / key, 22050)[0]  # first channel, as the original
        audio = load_audio(record["audio"], 22050)[0]
        assert audio.shape == expected_audio.shape and record["duration"] == pytest.approx(seconds, abs=0.1)
        assert np.abs(audio - expected_audio).max() <= 1 / 32768 + 1e-6  # FLAC of 16-bit samples
        assert record["num_steps"] == len(FRAME_TIMES[key])
        frames = VideoDecoder(str(videos / key)).get_frames_played_at(seconds=FRAME_TIMES[key]).data
        for teacher, model, processor in judges:
            with torch.no_grad():
                pixels = processor(images=[f.permute(1, 2, 0).numpy() for f in frames], return_tensors="pt")
                expected = model(**pixels).logits.softmax(-1).numpy()
            np.testing.assert_allclose(teacher_array(record, teacher), expected, atol=1e-5)
    failures = [json.loads(line) for line in (tmp_path / "corpus" / "failures" / "rank-000.jsonl").open()]
    assert {f["key"] for f in failures} == {"corrupt.mp4", "no_audio.mp4"}
    assert all(f["key"] in f["error"] for f in failures)
    assert "skipped 2 bad video(s)" in result.stdout
    assert "skipped corrupt.mp4" in result.stderr and "skipped no_audio.mp4" in result.stderr
    card = (tmp_path / "corpus" / "README.md").read_text()
    assert "data/*.parquet" in card and "teacher_objects" in card and "3 records" in card


def test_build_resumes_and_keeps_settings(tmp_path, videos_and_teachers):
    videos, teachers = videos_and_teachers
    corpus = tmp_path / "corpus"
    build([sys.executable], videos, corpus, teachers)
    shards = list_shards(corpus)
    assert len(shards) == 2  # 3 good videos, 2 per shard
    stamps = {s.name: s.stat().st_mtime_ns for s in shards}
    again = build([sys.executable], videos, corpus, teachers)
    assert "0 to do" in again.stdout and {s.name: s.stat().st_mtime_ns for s in list_shards(corpus)} == stamps
    assert "2 videos listed as bad" in again.stderr  # still exit status 1: the corpus lacks them
    shards[-1].unlink()  # an interrupted build: the last shard never got written
    build([sys.executable], videos, corpus, teachers)
    from hf_soundnet.pretraining.corpus_builder import finished_keys

    assert finished_keys(corpus) == set(GOOD) and len(list_shards(corpus)) == 2

    # A shard truncated after it was written (a copy cut short) and a failure-log line cut by a kill: the resumed
    # build names the shard, moves it aside and builds its videos again; the cut line is ignored.
    shard = list_shards(corpus)[0]
    lost = set(read_column(shard, "key"))
    shard.write_bytes(shard.read_bytes()[:3000])
    with (corpus / "failures" / "rank-000.jsonl").open("a") as log:
        log.write('{"key": "no_au')
    resumed = build([sys.executable], videos, corpus, teachers)
    assert f"{shard}: unreadable Parquet shard" in resumed.stderr and (corpus / "corrupt" / shard.name).is_file()
    assert f"{len(lost)} to do" in resumed.stdout and "Traceback" not in resumed.stderr
    keys = [key for s in list_shards(corpus) for key in read_column(s, "key")]
    assert sorted(keys) == sorted(GOOD)  # every video once
    mismatch = build([sys.executable], videos, corpus, teachers[:1], expect=2)  # a usage error
    assert "other settings or teachers" in mismatch.stderr
    strict = build([sys.executable], videos, tmp_path / "strict", teachers, "--strict", expect=1)
    assert "corrupt.mp4" in strict.stderr


@pytest.mark.slow
def test_build_on_two_processes_writes_own_shards(tmp_path, videos_and_teachers):
    videos, teachers = videos_and_teachers
    launcher = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2"]
    launcher += [
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        "0",
    ]
    build(launcher, videos, tmp_path / "corpus", teachers)
    by_rank = {}
    for shard in list_shards(tmp_path / "corpus"):
        by_rank.setdefault(shard.name.split("-")[1], set()).update(read_column(shard, "key"))
    assert set(by_rank) == {"r000", "r001"} and not by_rank["r000"] & by_rank["r001"]
    assert by_rank["r000"] | by_rank["r001"] == set(GOOD)


@pytest.mark.slow
def test_kill_9_during_build_loses_at_most_the_shard_in_progress(tmp_path, videos_and_teachers):
    import signal
    import time

    videos, teachers = videos_and_teachers
    corpus = tmp_path / "corpus"
    command = [sys.executable, SCRIPT, "--videos", str(videos), "--output_dir", str(corpus), "--shard_size", "1"]
    command += ["--teachers", *teachers]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while process.poll() is None and not list_shards(corpus) and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)  # after the first shard, before the rest
    assert process.wait() == -signal.SIGKILL
    assert 1 <= len(list_shards(corpus)) < len(GOOD)
    result = build([sys.executable], videos, corpus, teachers, "--shard-size", "1")
    keys = [key for shard in list_shards(corpus) for key in read_column(shard, "key")]
    assert sorted(keys) == sorted(GOOD), result.stdout  # every video once: nothing lost, nothing twice
    assert not list((corpus / "data").glob("*.tmp"))
