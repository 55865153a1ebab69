"""examples/pretrain.py under `accelerate launch --multi_gpu --num_processes 2` on CPU (gloo): world size 2, each
rank reads its own shards, the loss goes down, and `--resume` continues from the saved step; in one process, a
checkpoint torn during its save is set aside for the last complete one, and a truncated shard is skipped, named and
counted (or fatal with --strict)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _helpers_corpus import sound_sources, tiny_student_config, write_sound_corpus

from hf_soundnet.pretraining.corpus import key_to_shard, list_shards


REPO_ROOT = Path(__file__).resolve().parent.parent
ACCELERATE = [sys.executable, "-m", "accelerate.commands.launch"]
LAUNCH_2 = ["--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
LAUNCH_2 += ["--dynamo_backend", "no", "--main_process_port", "0"]


def pretrain(launcher: list[str], *args: str, expect: int = 0) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [*launcher, str(REPO_ROOT / "examples" / "pretrain.py"), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=540)
    assert result.returncode == expect, (
        f"{command} exit {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    )
    return result


def logged_steps(checkpoint: Path) -> list[int]:
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    return [log["step"] for log in state["log_history"] if "loss" in log]


@pytest.mark.slow
def test_two_processes_read_own_shards_learn_and_resume(tmp_path, audio_dir):
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write_sound_corpus(corpus, sound_sources(audio_dir), 2.0, 1.0, records_per_shard=0, num_shards=4)
    tiny_student_config().save_pretrained(tmp_path / "tiny")  # config only: trained from scratch
    common = ["--corpus", str(corpus), "--output_dir", str(out), "--model", str(tmp_path / "tiny")]
    common += ["--crop_seconds", "2", "--per_device_train_batch_size", "4", "--dataloader_num_workers", "1"]
    common += ["--shuffle_buffer", "8", "--logging_steps", "1", "--record_reads", "--seed", "1"]

    pretrain(ACCELERATE + LAUNCH_2, *common, "--max_steps", "16", "--save_steps", "8")

    reads = [json.loads((out / "reads" / f"rank-{r:03d}-from-step-0.json").read_text()) for r in range(2)]
    assert [r["world_size"] for r in reads] == [2, 2] and [r["rank"] for r in reads] == [0, 1]
    shard_of = key_to_shard(corpus)
    shards = [{shard_of[key] for key in r["keys"]} for r in reads]
    assert shards[0] and shards[1] and not shards[0] & shards[1], f"ranks read shards {shards}"
    assert shards[0] | shards[1] == set(shard_of.values())
    state = json.loads((out / "checkpoint-16" / "trainer_state.json").read_text())
    losses = [log["loss"] for log in state["log_history"] if "loss" in log]
    assert len(losses) == 16 and all(loss == loss and loss < float("inf") for loss in losses)
    assert sum(losses[-4:]) / 4 < 0.7 * sum(losses[:4]) / 4, losses
    assert {"object_loss", "scene_loss", "samples_per_second"} <= set(state["log_history"][0])

    # An interrupted run is resumed by the same command with a larger --max_steps and --resume.
    result = pretrain(ACCELERATE + LAUNCH_2, *common, "--max_steps", "20", "--save_steps", "4", "--resume")
    resumed = json.loads((out / "checkpoint-20" / "trainer_state.json").read_text())
    assert resumed["global_step"] == 20
    steps = [log["step"] for log in resumed["log_history"] if "loss" in log]
    assert steps[:16] == list(range(1, 17)) and steps[16:] == [17, 18, 19, 20], steps
    assert (out / "reads" / "rank-001-from-step-16.json").is_file()
    assert "starting at step 16" in result.stderr


def test_pretrain_single_process_and_errors(tmp_path, audio_dir):
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    write_sound_corpus(corpus, sound_sources(audio_dir), 2.0, 1.0, records_per_shard=0, num_shards=2)
    tiny_student_config().save_pretrained(tmp_path / "tiny")
    common = ["--corpus", str(corpus), "--output_dir", str(out), "--model", str(tmp_path / "tiny")]
    common += ["--crop_seconds", "2", "--per_device_train_batch_size", "4", "--dataloader_num_workers", "0"]
    common += ["--shuffle_buffer", "0"]
    pretrain([sys.executable], *common, "--max_steps", "2", "--save_steps", "2")
    assert json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())["global_step"] == 2
    assert (out / "model.safetensors").is_file() and (out / "preprocessor_config.json").is_file()

    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    script = str(REPO_ROOT / "examples" / "pretrain.py")
    again = subprocess.run(
        [sys.executable, script, *common, "--max_steps", "3"], capture_output=True, text=True, env=env
    )
    assert again.returncode == 2 and "--resume" in again.stderr  # a usage error
    missing = subprocess.run(
        [sys.executable, script, "--corpus", str(tmp_path), "--output_dir", str(out), "--max_steps", "1"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert missing.returncode == 2 and "not a SoundNet corpus" in missing.stderr


def tiny_run_arguments(tmp_path: Path, audio_dir: Path, num_shards: int, num_workers: int, shuffle_buffer: int):
    """Writes a small corpus (`tmp_path/corpus`) and a tiny student config (`tmp_path/tiny`); returns pretrain.py's
    arguments for them, writing to `tmp_path/out` (2 s crops, batch 4)."""
    write_sound_corpus(
        tmp_path / "corpus", sound_sources(audio_dir), 2.0, 1.0, records_per_shard=0, num_shards=num_shards
    )
    tiny_student_config().save_pretrained(tmp_path / "tiny")
    common = ["--corpus", str(tmp_path / "corpus"), "--output-dir", str(tmp_path / "out")]
    common += ["--model", str(tmp_path / "tiny"), "--crop-seconds", "2", "--per_device_train_batch_size", "4"]
    return common + ["--dataloader_num_workers", str(num_workers), "--shuffle-buffer", str(shuffle_buffer)]


def test_resume_skips_torn_checkpoints_and_truncated_shards(tmp_path, audio_dir):
    corpus, out = tmp_path / "corpus", tmp_path / "out"
    common = tiny_run_arguments(tmp_path, audio_dir, num_shards=3, num_workers=0, shuffle_buffer=0)
    common += ["--logging-steps", "1", "--save-steps", "2", "--save-total-limit", "5"]
    pretrain([sys.executable], *common, "--max-steps", "4")

    # Killed while saving step 4: the weights are there, trainer_state.json (written last) is not.
    (out / "checkpoint-4" / "trainer_state.json").unlink()
    result = pretrain([sys.executable], *common, "--max-steps", "6", "--resume")
    assert "checkpoint-4 is incomplete (trainer_state.json is missing" in result.stderr
    assert "starting at step 2" in result.stderr and (out / "torn-checkpoint-4").is_dir()
    assert logged_steps(out / "checkpoint-6") == [1, 2, 3, 4, 5, 6]

    # A weights file cut short: the run goes back to step 4 (saved again by the resumed run).
    weights = out / "checkpoint-6" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    result = pretrain([sys.executable], *common, "--max-steps", "8", "--resume")
    assert "checkpoint-6 is incomplete (model.safetensors is truncated" in result.stderr
    assert "starting at step 4" in result.stderr and logged_steps(out / "checkpoint-8") == list(range(1, 9))

    # A truncated shard: named at the start and skipped, counted when the stream reaches it; --strict stops.
    shard = list_shards(corpus)[0]
    shard.write_bytes(shard.read_bytes()[:5000])
    strict = pretrain([sys.executable], *common, "--max-steps", "10", "--resume", "--strict", expect=1)
    assert shard.name in strict.stderr and "truncated" in strict.stderr and "Traceback" not in strict.stderr
    result = pretrain([sys.executable], *common, "--max-steps", "10", "--resume", expect=1)  # trained, shard skipped
    assert f"{shard.name}: unreadable Parquet shard" in result.stderr
    state = json.loads((out / "checkpoint-10" / "trainer_state.json").read_text())
    assert state["log_history"][-1]["corrupt_shards"] >= 1, state["log_history"][-3:]


def kill_when(command: list[str], ready, timeout: float = 400) -> int:
    """Starts `command` in its own process group and kill -9s the whole group (with DataLoader workers) as soon as
    `ready()` is true; returns the exit status (-9 when killed, else the command finished first)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    while process.poll() is None and not ready() and time.monotonic() < deadline:
        time.sleep(0.02)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    return process.wait()


@pytest.mark.slow
def test_kill_9_during_pretraining_loses_at_most_the_step_in_flight(tmp_path, audio_dir):
    out = tmp_path / "out"
    common = tiny_run_arguments(tmp_path, audio_dir, num_shards=2, num_workers=1, shuffle_buffer=8)
    common += ["--logging-steps", "1", "--save-steps", "1", "--save-total-limit", "10"]
    script = str(REPO_ROOT / "examples" / "pretrain.py")
    # Killed the moment checkpoint-3's folder appears: usually in the middle of its save.
    status = kill_when(
        [sys.executable, script, *common, "--max-steps", "200"], lambda: (out / "checkpoint-3").exists()
    )
    assert status == -signal.SIGKILL
    complete = [int(p.name.split("-")[1]) for p in out.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    result = pretrain([sys.executable], *common, "--max-steps", "6", "--resume")
    start = max(complete, default=0)
    assert start >= 2 and f"starting at step {start}" in result.stderr, (complete, result.stderr[-2000:])
    assert json.loads((out / "checkpoint-6" / "trainer_state.json").read_text())["global_step"] == 6


@pytest.mark.slow
def test_two_processes_with_two_workers_each_stress(tmp_path, audio_dir):
    """The setting of the one native heap-corruption abort seen (2 processes, `--num-workers 2`, a 256-record shuffle
    buffer), run a few times over several passes of the corpus (workers persist across passes, from a forkserver)."""
    corpus = tmp_path / "corpus"
    write_sound_corpus(corpus, sound_sources(audio_dir), 2.0, 1.0, records_per_shard=0, num_shards=4)
    tiny_student_config().save_pretrained(tmp_path / "tiny")
    for run in range(3):
        out = tmp_path / f"out{run}"
        result = pretrain(
            ACCELERATE + LAUNCH_2,
            *("--corpus", str(corpus), "--output-dir", str(out), "--model", str(tmp_path / "tiny")),
            *(
                "--crop-seconds",
                "2",
                "--per_device_train_batch_size",
                "4",
                "--dataloader_num_workers",
                "2",
                "--shuffle-buffer",
                "256",
            ),
            *("--logging-steps", "1", "--max-steps", "12", "--save-steps", "12", "--seed", str(run)),
        )
        assert "corrupted" not in result.stderr and "Signal" not in result.stderr
        assert logged_steps(out / "checkpoint-12") == list(range(1, 13))
