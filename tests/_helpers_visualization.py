"""Test data of the visualization tests: tiny random checkpoints and a small folder of clips cut from the real
recordings with ffmpeg (a 22.05 kHz WAV, an MP3 at 44.1 kHz stereo, a 48 kHz stereo WAV, one in a subfolder)."""

import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import TINY_CONFIG, released_style_tiny_config, save_tiny_checkpoint  # noqa: F401 (re-exported)

from hf_soundnet import SoundNetConfig


# A tiny net with SoundNet-like hops: conv3 frames 93 ms apart, each hearing 0.17 s; conv8 steps 0.19 s apart.
UNITS_CONFIG = {
    **TINY_CONFIG,
    "conv_kernel_sizes": (32, 8, 8),
    "conv_strides": (4, 2, 2),
    "conv_paddings": (16, 4, 4),
    "pool_kernel_sizes": (8, 4, 4),
}

# Without pools after conv2 and conv3, the last frames of those layers have fields that reach past a file's end (as
# SoundNet-8's last conv7 frames do): 2 and 3 of them on a 3 s file.
EDGE_OVERRIDES = {"pool_kernel_sizes": (8, 1, 1)}

# (source recording, clip name, start s, seconds); None seconds: to the end.
CLIPS = (
    ("railroad.wav", "rail_a.wav", 0.0, 3.0),
    ("railroad.wav", "sub/rail_b.wav", 8.0, 4.0),
    ("forest_track.mp3", "forest.mp3", 5.0, 4.0),
    ("short_stereo_48k.wav", "short48k.wav", 0.0, None),
)


def units_config(**overrides) -> SoundNetConfig:
    """[`UNITS_CONFIG`] (with `overrides`) and released-style heads."""
    base = released_style_tiny_config().to_dict()
    keep = ("classifier_type", "problem_type", "id2label", "label2id")
    return SoundNetConfig(**{**UNITS_CONFIG, **overrides}, **{key: base[key] for key in keep})


def cut_clip_folder(root: Path, audio_dir: Path) -> list[Path]:
    """[`CLIPS`] cut by ffmpeg (stream copy for the MP3, PCM for WAV) into `root`; returns their paths."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg not found")
    paths = []
    for source, name, start, seconds in CLIPS:
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", str(start), "-i", str(audio_dir / source)]
        command += ["-t", str(seconds)] if seconds is not None else []
        command += ["-c:a", "libmp3lame"] if name.endswith(".mp3") else ["-c:a", "pcm_s16le"]
        subprocess.run([*command, str(target)], check=True)
        paths.append(target)
    return paths
