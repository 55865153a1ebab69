"""Test helpers for the pre-training corpus: videos made with ffmpeg from the real recordings, tiny random image
teachers, and corpora written directly with teacher distributions that depend on the sound."""

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch


SR = 22050
COLORS = {"railroad.wav": "red", "forest_track.mp3": "blue", "tone": "green"}


def make_video(path: Path, audio: Path | None, seconds: float, color: str = "red", start: float = 0.0) -> Path:
    """An MP4 of `seconds` seconds: frames of one colour (64x48, 5 fps) and, unless `audio` is None, the recording
    `audio` from `start` s (AAC, its own rate and channels)."""
    command = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c={color}:s=64x48:r=5:d={seconds}"]
    if audio is not None:
        command += ["-ss", str(start), "-t", str(seconds), "-i", str(audio), "-map", "0:v", "-map", "1:a"]
        command += ["-c:a", "aac"]
    command += ["-c:v", "mpeg4", "-t", str(seconds), str(path)]
    subprocess.run(command, check=True)
    return path


def make_tiny_teacher(directory: Path, num_labels: int, seed: int = 0) -> Path:
    """A randomly initialised ViT image classifier (16x16 input, 1 layer) with its PIL image processor, saved."""
    from transformers import ViTConfig, ViTForImageClassification, ViTImageProcessorPil

    torch.manual_seed(seed)
    config = ViTConfig(
        image_size=16,
        patch_size=8,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=num_labels,
        id2label={i: f"class_{seed}_{i}" for i in range(num_labels)},
        label2id={f"class_{seed}_{i}": i for i in range(num_labels)},
    )
    ViTForImageClassification(config).save_pretrained(directory)
    ViTImageProcessorPil(size={"height": 16, "width": 16}).save_pretrained(directory)
    return directory


def tiny_student_config(num_object_classes: int = 3, num_scene_classes: int = 3):
    """A 4-block SoundNet with a 4,096-sample head hop (about 10 steps per 2 s), fast on CPU."""
    from hf_soundnet import SoundNetConfig

    return SoundNetConfig(
        conv_channels=(8, 16, 16, 32),
        conv_kernel_sizes=(32, 16, 8, 8),
        conv_strides=(4, 2, 2, 2),
        conv_paddings=(16, 8, 4, 4),
        pool_kernel_sizes=(4, 4, 4, 1),
        head_kernel_size=4,
        head_stride=2,
        num_object_classes=num_object_classes,
        num_scene_classes=num_scene_classes,
    )


def sound_sources(audio_dir: Path) -> dict[str, np.ndarray]:
    """Three classes of sound at 22,050 Hz mono: railroad.wav, forest_track.mp3, and a generated tone in noise."""
    from hf_soundnet import load_audio

    rng = np.random.default_rng(0)
    t = np.arange(30 * SR) / SR
    tone = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.shape)
    return {
        "railroad.wav": load_audio(audio_dir / "railroad.wav", SR)[0],
        "forest_track.mp3": load_audio(audio_dir / "forest_track.mp3", SR)[0],
        "tone": tone.astype(np.float32),
    }


def peaked(num_steps: int, num_classes: int, label: int, peak: float = 0.9) -> np.ndarray:
    """`(num_steps, num_classes)` distributions with `peak` on `label` and the rest spread evenly."""
    probs = np.full((num_steps, num_classes), (1 - peak) / (num_classes - 1), dtype=np.float32)
    probs[:, label] = peak
    return probs


def write_sound_corpus(
    corpus_dir: Path,
    sources: dict[str, np.ndarray],
    clip_seconds: float,
    step_seconds: float,
    records_per_shard: int,
    part: tuple[float, float] = (0.0, 1.0),
    num_shards: int | None = None,
) -> list[dict]:
    """
    A corpus written with the library's writer whose teachers depend on the sound: clips of each source (from the
    fraction `part` of the recording) get object and scene distributions peaked on that source's index.

    Returns the records written.
    """
    from hf_soundnet.pretraining.corpus import CorpusInfo, TeacherInfo

    num_classes = len(sources)
    info = CorpusInfo(
        teachers=[TeacherInfo("objects", "peaked", num_classes), TeacherInfo("scenes", "peaked", num_classes)],
        step_seconds=step_seconds,
    )

    def teacher_rows(label: int, steps: int) -> dict[str, np.ndarray]:
        return {
            "teacher_objects": peaked(steps, num_classes, label),
            "teacher_scenes": peaked(steps, num_classes, label, peak=0.8),
        }

    return write_labelled_corpus(
        corpus_dir, sources, info, teacher_rows, clip_seconds, records_per_shard, part=part, num_shards=num_shards
    )


def write_labelled_corpus(
    corpus_dir: Path,
    sources: dict[str, np.ndarray],
    info,
    teacher_rows: Callable[[int, int], dict[str, np.ndarray]],
    clip_seconds: float,
    records_per_shard: int,
    part: tuple[float, float] = (0.0, 1.0),
    num_shards: int | None = None,
) -> list[dict]:
    """
    Cuts each source (the fraction `part` of its recording) into clips of `clip_seconds`, gives each clip the teacher
    columns `teacher_rows(label, num_steps)` (label: the source's index) and writes them in shuffled order with the
    library's writer under the `CorpusInfo` `info`: `records_per_shard` records per shard, or `num_shards` shards
    round-robin (every shard holds every source). Records carry `label` for the tests, not written.

    Returns the records written (with `label`).
    """
    from hf_soundnet.pretraining.corpus import save_corpus_info, shard_path, write_shard
    from hf_soundnet.pretraining.corpus_builder import encode_audio

    save_corpus_info(corpus_dir, info)
    clip = round(clip_seconds * SR)
    steps = round(clip_seconds / info.step_seconds)
    records = []
    for label, (name, waveform) in enumerate(sources.items()):
        begin, end = (round(f * waveform.shape[0]) for f in part)
        for i, start in enumerate(range(begin, end - clip + 1, clip)):
            records.append(
                {
                    "key": f"{name}/{i:03d}",
                    "source": name,
                    "duration": clip_seconds,
                    "num_steps": steps,
                    "audio": encode_audio(waveform[start : start + clip], SR, "flac"),
                    **teacher_rows(label, steps),
                    "label": label,
                }
            )
    order = np.random.default_rng(0).permutation(len(records))
    records = [records[i] for i in order]
    if num_shards is not None:  # round-robin, so every shard holds every source
        for index in range(num_shards):
            chunk = [{k: v for k, v in r.items() if k != "label"} for r in records[index::num_shards]]
            write_shard(chunk, shard_path(corpus_dir, 0, index), info)
        return records
    for index, start in enumerate(range(0, len(records), records_per_shard)):
        chunk = [{k: v for k, v in r.items() if k != "label"} for r in records[start : start + records_per_shard]]
        write_shard(chunk, shard_path(corpus_dir, 0, index), info)
    return records
