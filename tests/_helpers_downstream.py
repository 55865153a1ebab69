"""Test data for the downstream tools, built from the real recordings: an ESC-50-layout folder and a mixed folder."""

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import soundfile

from hf_soundnet import load_audio


RATE = 22050
# The classes: one real recording each (clips are different parts of it).
RECORDINGS = ("railroad.wav", "forest_track.mp3", "short_stereo_48k.wav")


def make_esc50_folder(root: Path, audio_dir: Path, clips_per_class: int = 10, seconds: float = 2.0) -> Path:
    """
    `root/meta/esc50.csv` + `root/audio/`: one class per recording, `clips_per_class` clips of `seconds` s at
    evenly spread offsets, folds 1..5 in turn (so every fold has every class); every third clip is FLAC.
    """
    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "meta").mkdir(exist_ok=True)
    rows = []
    for target, recording in enumerate(RECORDINGS):
        waveform = load_audio(audio_dir / recording, RATE)[0]
        length = int(seconds * RATE)
        offsets = np.linspace(0, waveform.shape[0] - length, clips_per_class).astype(int)
        for take, offset in enumerate(offsets):
            suffix = "flac" if take % 3 == 2 else "wav"
            filename = f"{take % 5 + 1}-{target}{take:02d}-A-{target}.{suffix}"
            soundfile.write(root / "audio" / filename, waveform[offset : offset + length], RATE)
            rows.append(
                {
                    "filename": filename,
                    "fold": take % 5 + 1,
                    "target": target,
                    "category": Path(recording).stem,
                    "esc10": "False",
                    "src_file": target,
                    "take": "A",
                }
            )
    with (root / "meta" / "esc50.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return root


def make_mixed_folder(root: Path, audio_dir: Path) -> Path:
    """wav + mp3 + 48 kHz stereo wav copied, a FLAC and an Ogg Vorbis cut by ffmpeg, a corrupt .wav and an empty one."""
    (root / "sub").mkdir(parents=True, exist_ok=True)
    for name in ("railroad.wav", "forest_track.mp3", "short_stereo_48k.wav"):
        shutil.copy(audio_dir / name, root / name)
    for source, target, seconds in (
        ("railroad.wav", "sub/rail.flac", "6"),
        ("forest_track.mp3", "sub/forest.ogg", "4"),
    ):
        subprocess.run(
            ["ffmpeg", "-loglevel", "error", "-y", "-i", str(audio_dir / source), "-t", seconds, str(root / target)],
            check=True,
        )
    (root / "corrupt.wav").write_bytes(np.random.default_rng(0).bytes(5000))
    (root / "empty.wav").write_bytes(b"")
    return root


GOOD_FILES = ("railroad.wav", "forest_track.mp3", "short_stereo_48k.wav", "sub/rail.flac", "sub/forest.ogg")
BAD_FILES = ("corrupt.wav", "empty.wav")


def run_script(
    args: list[str], cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Runs `python args...` (a module with `-m`, or a script) in a subprocess with this interpreter."""
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
