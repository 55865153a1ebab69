"""`soundnet classify` and `soundnet extract` under `accelerate launch --multi_gpu --num_processes 2` on CPU (gloo):
the merged outputs equal a single-process run, resume works across process counts, and a process killed mid-run
loses only what it had not written; plus the duration-balanced split of `hf_soundnet.inference.sharding`."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from conftest import released_style_tiny_config

from hf_soundnet.cli import main
from hf_soundnet.inference.sharding import ProcessGroup, balanced_shares, file_costs, my_share, probe_costs


ACCELERATE = [sys.executable, "-m", "accelerate.commands.launch"]
LAUNCH_2 = ["--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
LAUNCH_2 += ["--dynamo_backend", "no", "--main_process_port", "0"]


# --- The split, on synthetic costs ---


def loads(costs: list[float], shares: list[list[int]]) -> list[float]:
    return [sum(costs[i] for i in share) for share in shares]


@pytest.mark.parametrize("num_shares", [1, 2, 3, 8])
def test_balanced_shares_are_disjoint_cover_all_and_balanced(num_shares):
    rng = random.Random(num_shares)
    costs = [rng.choice([0.5, 3.0, 10.0, 30.0, 600.0]) * rng.uniform(0.5, 1.5) for _ in range(200)]
    keys = [f"/audio/{i:04d}.wav" for i in range(len(costs))]
    shares = balanced_shares(costs, keys, num_shares)
    assert len(shares) == num_shares and all(share == sorted(share) for share in shares)
    flat = [i for share in shares for i in share]
    assert sorted(flat) == list(range(len(costs)))  # each item exactly once
    per_share = loads(costs, shares)
    # Any least-loaded-first assignment ends with max - min <= the costliest item; LPT is within 4/3 of the optimum,
    # itself at least max(mean load, costliest item).
    assert max(per_share) - min(per_share) <= max(costs) + 1e-9
    assert max(per_share) <= 4 / 3 * max(sum(costs) / num_shares, max(costs)) + 1e-9
    # An order-blind split (every num_shares-th file) is what the duration balance is for: here it does worse.
    if num_shares > 1:
        naive = [list(range(s, len(costs), num_shares)) for s in range(num_shares)]
        assert max(per_share) <= max(loads(costs, naive))


def test_balanced_shares_depend_on_paths_not_on_input_order():
    costs = [5.0, 1.0, 5.0, 2.0, 2.0, 7.0, 1.0]
    keys = [f"f{i}" for i in range(len(costs))]
    reference = [{keys[i] for i in share} for share in balanced_shares(costs, keys, 3)]
    order = list(range(len(costs)))
    for seed in range(5):
        random.Random(seed).shuffle(order)
        shuffled = balanced_shares([costs[i] for i in order], [keys[i] for i in order], 3)
        assert [{keys[order[i]] for i in share} for share in shuffled] == reference
    # Equal costs go out in path order, one per share in turn.
    assert balanced_shares([1.0] * 4, ["d", "b", "a", "c"], 2) == [[2, 3], [0, 1]]  # a, c | d, b
    assert balanced_shares([], [], 3) == [[], [], []]
    with pytest.raises(ValueError, match="num_shares"):
        balanced_shares([1.0], ["a"], 0)


def test_file_costs_fall_back_to_size_at_the_observed_rate():
    # 10 s in 1000 bytes: a 500-byte file without a readable header counts as 5 s; a missing file as 0.
    assert file_costs([10.0, None, 4.0, None], [1000, 500, 400, None]) == pytest.approx([10.0, 5.0, 4.0, 0.0])
    assert file_costs([None, None], [300, 100]) == [300.0, 100.0]  # no duration at all: sizes, in one unit


def test_probe_costs_reads_header_durations(tmp_path):
    rate = 22050
    paths = []
    for seconds in (1.5, 4.0):
        path = tmp_path / f"{seconds}.wav"
        soundfile.write(path, np.zeros(int(seconds * rate), dtype=np.float32), rate)
        paths.append(str(path))
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(np.random.default_rng(0).bytes(20000))
    costs = probe_costs([*paths, str(corrupt)], ProcessGroup())
    assert costs[:2] == pytest.approx([1.5, 4.0], abs=1e-3)
    seconds_per_byte = 5.5 / sum(os.path.getsize(p) for p in paths)
    assert costs[2] == pytest.approx(corrupt.stat().st_size * seconds_per_byte)


def test_one_process_without_launcher(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    group = ProcessGroup.from_environment()
    assert (group.rank, group.world_size, group.is_distributed, group.is_main) == (0, 1, False, True)
    assert group.broadcast({"a"}) == {"a"} and group.all_gather(3) == [3]
    assert my_share(["b", "a", "c"], group) == [0, 1, 2]
    assert group.device(use_cpu=True) == "cpu"
    assert ProcessGroup(rank=1, world_size=4, local_rank=1, local_world_size=2).cores(16) == 8
    assert ProcessGroup(world_size=4, local_world_size=4).cores(2) == 1


def test_several_processes_without_output_file_is_a_usage_error(monkeypatch, tmp_path, capsys):
    """Checked before joining the group (so no launch is needed): stdout has one writer."""
    clip = tmp_path / "clip.wav"
    soundfile.write(clip, np.zeros(22050, dtype=np.float32), 22050)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert main(["classify", str(clip), "--quiet"]) == 2
    assert "2 processes need --output-file" in capsys.readouterr().err


# --- Real launches ---


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A tiny random model with released-style heads (5 objects + 3 scenes) and non-trivial BN statistics."""
    from hf_soundnet import SoundNetFeatureExtractor, SoundNetForAudioClassification

    torch.manual_seed(0)
    config = released_style_tiny_config()
    model = SoundNetForAudioClassification(config).eval()
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("tiny")
    model.save_pretrained(path)
    SoundNetFeatureExtractor().save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory, audio_dir) -> Path:
    """Nine short real recordings of 1-6 s cut by ffmpeg (WAV, MP3, FLAC, 48 kHz stereo) and one corrupt file."""
    folder = tmp_path_factory.mktemp("clips")
    cuts = [("railroad.wav", f"rail{s}.wav", 2 * s, s) for s in range(1, 6)]
    cuts += [("forest_track.mp3", "forest3.mp3", 10, 3), ("forest_track.mp3", "sub/forest6.flac", 20, 6)]
    cuts += [("short_stereo_48k.wav", "stereo.wav", 0, 2), ("railroad.wav", "sub/rail_long.wav", 1, 6)]
    for source, target, start, seconds in cuts:
        (folder / target).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "ffmpeg",
                "-loglevel",
                "error",
                "-y",
                "-ss",
                str(start),
                "-t",
                str(seconds),
                "-i",
                str(audio_dir / source),
            ]
            + [str(folder / target)],
            check=True,
        )
    (folder / "corrupt.wav").write_bytes(np.random.default_rng(0).bytes(3000))
    return folder


# Runs `soundnet` commands (one per argv, `|`-separated) in one launched process, in the group the launcher made.
DRIVER = """
import sys
import torch.distributed as dist
from hf_soundnet.cli import main

dist.init_process_group("gloo")  # joined once here: the commands use this group and leave it open
commands, current = [], []
for argument in sys.argv[1:] + ["|"]:
    if argument == "|":
        commands.append(current)
        current = []
    else:
        current.append(argument)
statuses = [main(argv) for argv in commands]
print(f"statuses of process {dist.get_rank()}: {statuses}", file=sys.stderr)
dist.barrier()
sys.exit(max(statuses))
"""

# `soundnet classify` (argv) whose decoding stops after `limit` files until `gate` exists; each process writes its
# pid, and the files it decodes, beside the gate.
GATED = """
import os, sys, time
import hf_soundnet.audio.batches as batches
from hf_soundnet.cli import main

gate, limit, load_audio = sys.argv[1], int(sys.argv[2]), batches.load_audio
rank = os.environ["RANK"]
folder = os.path.dirname(gate)
with open(os.path.join(folder, f"pid-{rank}"), "w") as handle:
    handle.write(str(os.getpid()))
decoded = []

def held_load_audio(source, *args, **kwargs):
    while len(decoded) >= limit and not os.path.exists(gate):
        time.sleep(0.05)
    decoded.append(str(source))
    return load_audio(source, *args, **kwargs)

batches.load_audio = held_load_audio
sys.exit(main(sys.argv[3:]))
"""


def launch(script_args: list[str], expect_success: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    command = [*ACCELERATE, *LAUNCH_2, *script_args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=400)
    if expect_success:
        assert result.returncode == 0, f"{command} exit {result.returncode}:\n{result.stderr[-6000:]}"
    return result


def records(path: Path) -> dict[str, dict]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len({r["path"] for r in lines}) == len(lines), "one line per file"
    return {r["path"]: r for r in lines}


def assert_same_records(merged: dict[str, dict], single: dict[str, dict]) -> None:
    """The same files and results; probabilities within 1e-5 (float32 softmax averages of the same clips, batched
    with other neighbours: only the summation order of padded batches differs)."""
    assert sorted(merged) == sorted(single)
    for path, record in merged.items():
        expected = single[path]
        assert record.keys() == expected.keys(), path
        if "error" in expected:
            assert record == expected
            continue
        for key in ("objects", "scenes"):
            assert [e["label"] for e in record[key]] == [e["label"] for e in expected[key]], (path, key)
            np.testing.assert_allclose(
                [e["probability"] for e in record[key]], [e["probability"] for e in expected[key]], atol=1e-5
            )
        assert [(s["start_s"], s["object"]["label"]) for s in record["timeline"]] == [
            (s["start_s"], s["object"]["label"]) for s in expected["timeline"]
        ]
        for key in ("duration_s", "model", "weights_sha256", "top_k", "precision"):
            assert record[key] == expected[key], (path, key)


@pytest.mark.slow
def test_two_processes_classify_and_extract_as_one(tiny_checkpoint, clips, tmp_path):
    common = ["--model", str(tiny_checkpoint), "--num-workers", "0", "--threads", "1", "--quiet"]
    classify = ["classify", str(clips), *common, "--batch-size", "2", "--top-k", "3"]
    extract_options = [*common, "--batch-size", "1", "--layer", "conv3"]
    extract = ["extract", str(clips), *extract_options]
    # One process, in this process: the reference.
    assert main([*classify, "--output-file", str(tmp_path / "single.jsonl")]) == 1  # the corrupt file
    assert main([*extract, "--output-dir", str(tmp_path / "single_npy")]) == 1
    # The multi-process npy run resumes a folder that already holds two files.
    resumed = tmp_path / "npy"
    some = ["extract", str(clips / "rail1.wav"), str(clips / "sub"), *extract_options]
    assert main([*some, "--output-dir", str(resumed)]) == 0
    before = {p.name: p.stat().st_mtime_ns for p in resumed.rglob("*.npy")}
    assert len(before) == 3

    output = tmp_path / "merged.jsonl"
    argv = [*classify, "--output-file", str(output), "|", *extract, "--output-dir", str(resumed)]
    argv += ["|", *extract, "--output-dir", str(tmp_path / "dataset"), "--format", "parquet-dataset"]
    driver = tmp_path / "driver.py"
    driver.write_text(DRIVER)
    result = launch([str(driver), *argv], expect_success=False)
    # The corrupt file fails in one process; every process reports the run's status (1), after the merge.
    assert "statuses of process 0: [1, 1, 1]" in result.stderr and "statuses of process 1: [1, 1, 1]" in result.stderr

    assert_same_records(records(output), records(tmp_path / "single.jsonl"))
    audio = sorted(p for p in clips.rglob("*") if p.suffix in (".wav", ".mp3", ".flac"))
    assert list(records(output)) == [str(p) for p in audio]  # merged in input order
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("merged.jsonl")] == ["merged.jsonl"]  # no parts

    single_npy = sorted(p.relative_to(tmp_path / "single_npy") for p in (tmp_path / "single_npy").rglob("*.npy"))
    assert sorted(p.relative_to(resumed) for p in resumed.rglob("*.npy")) == single_npy and len(single_npy) == 9
    assert {p.name: p.stat().st_mtime_ns for p in resumed.rglob("*.npy") if p.name in before} == before  # not redone
    for relative in single_npy:  # batches of one clip, one thread: the same computation, so the same bits
        np.testing.assert_array_equal(np.load(resumed / relative), np.load(tmp_path / "single_npy" / relative))
    for folder in (resumed, tmp_path / "dataset"):
        errors = [json.loads(line) for line in (folder / "errors.jsonl").read_text().splitlines()]
        assert [Path(e["path"]).name for e in errors] == ["corrupt.wav"]
        assert not list(folder.glob("errors.jsonl.part-*"))
    assert json.loads((resumed / "extraction.json").read_text())["layer"] == "conv3"

    from datasets import load_dataset

    shards = sorted(p.name for p in (tmp_path / "dataset" / "data").iterdir())
    assert shards == ["train-rank000-00000.parquet", "train-rank001-00000.parquet"], shards
    dataset = load_dataset("parquet", data_dir=str(tmp_path / "dataset"), split="train")
    assert len(set(dataset["path"])) == 9
    for relative in single_npy:
        name = relative.with_suffix("").as_posix()  # the input's relative path
        rows = dataset.filter(lambda row: row["path"] == name).sort("frame")
        expected = np.load(tmp_path / "single_npy" / relative)
        np.testing.assert_array_equal(np.asarray(rows["features"], dtype=np.float32).T, expected)


@pytest.mark.slow
def test_process_killed_mid_run_then_resume_redoes_only_the_missing_files(tiny_checkpoint, clips, tmp_path):
    output = tmp_path / "out.jsonl"
    inputs = [str(p) for p in sorted(clips.rglob("*.wav")) if p.name != "corrupt.wav"]  # 7 files, 3 or 4 each
    classify = ["classify", *inputs, "--model", str(tiny_checkpoint), "--output-file", str(output)]
    classify += ["--batch-size", "1", "--num-workers", "0", "--threads", "1"]
    assert main([*classify, "--quiet", "--output-file", str(tmp_path / "single.jsonl")]) == 0

    gated, gate = tmp_path / "gated.py", tmp_path / "gate"
    gated.write_text(GATED)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    launcher = subprocess.Popen(
        [*ACCELERATE, *LAUNCH_2, str(gated), str(gate), "2", *classify, "--quiet"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    parts = [output.with_name(f"out.jsonl.part-{rank}-of-2") for rank in range(2)]
    deadline = time.monotonic() + 300
    try:  # each process has written two records and waits on its third file
        while not all(p.is_file() and p.read_text().count("\n") >= 2 for p in parts):
            assert launcher.poll() is None, launcher.communicate()
            assert time.monotonic() < deadline, "the launched run wrote nothing in 300 s"
            time.sleep(0.05)
        os.kill(int((tmp_path / "pid-1").read_text()), signal.SIGKILL)
        _, stderr = launcher.communicate(timeout=120)  # the launcher then stops process 0
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
    assert launcher.returncode != 0
    written = [line for part in parts for line in part.read_text().splitlines()]
    assert len(written) == 4 and not output.exists()
    shares = [{json.loads(line)["path"] for line in part.read_text().splitlines()} for part in parts]
    assert len(shares[0]) == len(shares[1]) == 2 and not shares[0] & shares[1]

    result = launch(["-m", "hf_soundnet.cli", *classify])
    missing = len(inputs) - 4
    assert f"4 files already in {output}" in result.stderr, result.stderr
    assert f"soundnet classify: {missing} files," in result.stderr, result.stderr
    merged = output.read_text().splitlines()
    assert merged[:4] == written and len(merged) == len(inputs)  # the killed run's records kept, the rest added
    assert not any(p.exists() for p in parts) and not output.with_name("out.jsonl.lock").exists()
    assert_same_records(records(output), records(tmp_path / "single.jsonl"))
