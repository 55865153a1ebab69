"""What both benchmark scripts share: where data lives, cached MP3s cut with ffmpeg, and the model they time."""

import os
import shutil
import subprocess
from pathlib import Path


REPO_ROOT = Path(__file__).resolve().parent.parent


def default_cache() -> Path:
    """`hf_soundnet.cache.cache_dir() / "benchmark"` (default `~/.cache/hf_soundnet/benchmark`): generated audio,
    outside git."""
    from hf_soundnet.cache import cache_dir

    return cache_dir() / "benchmark"


def shared_dir() -> Path:
    """`$SOUNDNET_SHARED`, else `../shared` beside the repository."""
    return Path(os.environ.get("SOUNDNET_SHARED", REPO_ROOT.parent / "shared"))


def looped_mp3(source: Path, path: Path, start: float, seconds: float, bitrate: str) -> Path:
    """`path`: `seconds` of `source` looped from `start` s, as a 44.1 kHz stereo MP3 (made once, then cached)."""
    if path.is_file():
        return path
    if shutil.which("ffmpeg") is None:
        raise SystemExit("ffmpeg is needed to make the benchmark's MP3s: apt-get install ffmpeg.")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp.mp3")
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(source), "-ss", str(start)]
    command += ["-t", str(seconds), "-ar", "44100", "-ac", "2", "-b:a", bitrate, "-map_metadata", "-1"]
    subprocess.run(command + [str(temporary)], check=True)
    temporary.rename(path)
    return path


def load_classifier(model_path: str | None):
    """`(SoundNetForAudioClassification, path or None)`: the released weights when converted at `model_path`, else
    SoundNet-8 with random weights (the same cost)."""
    from hf_soundnet import SoundNetConfig, SoundNetForAudioClassification

    if model_path and (Path(model_path) / "config.json").is_file():
        return SoundNetForAudioClassification.from_pretrained(model_path).eval(), model_path
    config = SoundNetConfig(classifier_type="pretrained_heads", num_labels=1401)
    return SoundNetForAudioClassification(config).eval(), None
