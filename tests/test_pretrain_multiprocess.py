"""examples/pretrain.py under `accelerate launch --multi_gpu --num_processes 2` on CPU (gloo): world size 2, each
rank reads its own shards, the loss goes down, and `--resume` continues from the saved step."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _helpers_corpus import sound_sources, tiny_student_config, write_sound_corpus

from hf_soundnet.corpus import key_to_shard


REPO_ROOT = Path(__file__).resolve().parent.parent
ACCELERATE = [sys.executable, "-m", "accelerate.commands.launch"]
LAUNCH_2 = ["--multi_gpu", "--num_processes", "2", "--num_machines", "1", "--mixed_precision", "no"]
LAUNCH_2 += ["--dynamo_backend", "no", "--main_process_port", "0"]


def pretrain(launcher: list[str], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [*launcher, str(REPO_ROOT / "examples" / "pretrain.py"), *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=540)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return result


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
