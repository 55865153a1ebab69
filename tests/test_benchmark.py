"""The benchmark runs end to end (`--quick`) and prints its table; the FLOP count matches torch's own counter."""

import re
import subprocess
import sys

import pytest
import torch
from conftest import REPO_ROOT
from torch.utils.flop_counter import FlopCounterMode

from hf_soundnet import SoundNetConfig, SoundNetForPreTraining
from hf_soundnet.inference.flops import forward_flops


def test_forward_flops_match_torch_flop_counter(tiny_config):
    model = SoundNetForPreTraining(tiny_config).eval()
    num_samples = 5001
    counter = FlopCounterMode(display=False)
    # The eager stack's convolutions (the fast path computes the same with extra zero taps in its GEMMs).
    with torch.inference_mode(), model.forward_implementation("eager"), counter:
        model(torch.randn(1, num_samples))
    assert forward_flops(tiny_config, num_samples)["total"] == counter.get_total_flops()


def test_soundnet8_costs_about_65_mflop_per_second_of_audio():
    per_second = forward_flops(SoundNetConfig(), 22050 * 100)["total"] / 100
    assert 60e6 < per_second < 70e6


@pytest.mark.slow
def test_benchmark_quick_prints_every_section(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "benchmark.py"), "--quick", "--cache-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    sections = ("(a) end to end", "(b) forward", "(c) decode", "(d) training", "(e) start-up")
    for section in (*sections, "FastSoundNet fp32", "naive loop"):
        assert section in result.stdout, section
    assert "agrees with the naive loop" in result.stdout


def test_benchmark_help():
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "benchmark.py"), "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "--quick" in result.stdout


@pytest.mark.slow
def test_streaming_memory_script_runs_on_a_short_file(tmp_path, audio_dir):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "benchmarks" / "streaming_memory.py"),
            "--hours",
            "0.01",
            "--chunk-seconds",
            "10",
            "--cache-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "peak RSS" in result.stdout
    steps = re.search(r"'object_logits': (\d+)", result.stdout)
    assert steps and int(steps.group(1)) > 0, result.stdout
