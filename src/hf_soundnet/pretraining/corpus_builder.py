"""Videos -> corpus records: the audio at the model's rate (encoded) and each image teacher's distribution (or, for an
image-text embedding teacher, its L2-normalised image embedding) per step.

`CorpusBuilder` is what one process of `examples/build_corpus.py` runs: it takes its part of the pending videos,
writes its own shards (`data/shard-r{rank}-{index}.parquet`), records the videos it could not read in
`failures/rank-{rank}.jsonl`, and skips the videos already in a shard, so a build can be interrupted and resumed.

What an interruption (kill -9, a crash, a full disk) can leave, and what a resumed build does with it: a shard is
written to `*.parquet.tmp` and renamed when complete, so a kill loses at most the shard in progress (its `.tmp` is
deleted by the next run of that rank); a shard that is nevertheless unreadable (truncated by a copy, a damaged disk)
is moved to `corrupt/` with a warning naming it (`set_aside_unreadable_shards`) and its videos are built again; a
failure-log line cut by the kill is ignored (that video is tried again).
"""

import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..audio.decoding import AudioLoadError, load_audio
from ..errors import SoundNetError
from .corpus import (
    CORPUS_INFO_FILE,
    DATA_DIR,
    FAILURES_DIR,
    CorpusError,
    CorpusInfo,
    find_corrupt_shards,
    key_to_shard,
    load_corpus_info,
    next_shard_index,
    set_aside_shard,
    shard_path,
    write_shard,
)
from .teachers import ImageTeacher
from .video_frames import VideoDecodeError, iter_frames, step_times


logger = logging.getLogger(__name__)

VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".avi", ".m4v", ".mpg", ".mpeg", ".flv", ".ts")


class RecordError(SoundNetError, ValueError):
    """A video that cannot become a record (no audio, undecodable frames, ...); the message names the file."""


def find_videos(videos_dir: str | os.PathLike, extensions: Sequence[str] = VIDEO_EXTENSIONS) -> list[str]:
    """Video files under `videos_dir` (recursively), as sorted POSIX paths relative to it: the records' keys."""
    root = Path(videos_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{videos_dir}: no such folder of videos.")
    suffixes = {e.lower() for e in extensions}
    return sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
    )


def corpus_info_for_build(
    corpus_dir: str | os.PathLike,
    teachers: Sequence[ImageTeacher],
    sampling_rate: int,
    step_seconds: float,
    audio_format: str,
    channel_mode: str,
) -> CorpusInfo:
    """
    The settings of a corpus built into `corpus_dir` with `teachers` and the given audio settings (see
    [`CorpusInfo`]); on a resumed build, checked against those the corpus was started with.

    Raises:
        `CorpusError`: `corpus_dir` holds a corpus started with other settings or teachers (the message shows both).
    """
    info = CorpusInfo(
        teachers=[t.teacher_info() for t in teachers],
        sampling_rate=sampling_rate,
        step_seconds=step_seconds,
        audio_format=audio_format,
        channel_mode=channel_mode,
    )
    corpus_dir = Path(corpus_dir)
    if (corpus_dir / CORPUS_INFO_FILE).exists():
        existing = load_corpus_info(corpus_dir)
        if existing.settings() != info.settings():
            raise CorpusError(
                f"{corpus_dir}: this corpus was started with other settings or teachers:\n  on disk: "
                f"{existing.settings()}\n  asked:   {info.settings()}\nUse the same options to resume, or another "
                "--output_dir for a new corpus."
            )
    return info


def encode_audio(waveform: np.ndarray, sampling_rate: int, audio_format: str) -> bytes:
    """
    Encodes a mono float waveform `(samples,)` in [-1, 1] with torchcodec's `AudioEncoder` (FFmpeg).

    Lossless formats get samples rounded to 16-bit steps first: FFmpeg's FLAC encoder stores float input as 24-bit
    samples, and with the low bits zero it compresses them as 16-bit audio (about half the size).
    """
    from torchcodec.encoders import AudioEncoder

    waveform = np.clip(np.asarray(waveform, dtype=np.float32), -1.0, 1.0)
    if audio_format in ("flac", "wav"):
        waveform = np.round(waveform * 32768.0) / np.float32(32768.0)
    samples = torch.from_numpy(np.ascontiguousarray(waveform, dtype=np.float32))[None]
    return AudioEncoder(samples, sample_rate=sampling_rate).to_tensor(audio_format).numpy().tobytes()


def build_record(
    path: str | os.PathLike,
    key: str,
    info: CorpusInfo,
    teachers: Sequence[ImageTeacher],
    frames_per_batch: int = 16,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """
    One corpus record from one video.

    Args:
        path: the video file.
        key: the record's key (its path relative to the videos folder).
        info: the corpus settings (rate, step, codec, channel mode).
        teachers: the teachers, in the order of `info.teachers` (`ImageTeacher`, or the image-text teachers of
            `image_text_teachers`: any callable `frames -> (num_frames, width)` array with a `teacher_info()`).
        frames_per_batch: frames decoded and classified at once (bounds memory on long videos).
        device: where frames are decoded.

    Raises:
        RecordError: the video has no decodable audio or frames.
    """
    try:
        waveform = load_audio(path, sampling_rate=info.sampling_rate, channel_mode=info.channel_mode)[0]
    except AudioLoadError as err:
        raise RecordError(str(err)) from err
    duration = waveform.shape[0] / info.sampling_rate
    times = step_times(duration, info.step_seconds)
    distributions: list[list[np.ndarray]] = [[] for _ in teachers]
    try:
        for frames in iter_frames(path, times, frames_per_batch, device=device):
            for i, teacher in enumerate(teachers):
                distributions[i].append(teacher(frames))
    except VideoDecodeError as err:
        raise RecordError(str(err)) from err
    record = {
        "key": key,
        "source": str(path),
        "duration": float(duration),
        "num_steps": len(times),
        "audio": encode_audio(waveform, info.sampling_rate, info.audio_format),
    }
    for teacher_info, parts in zip(info.teachers, distributions):
        record[teacher_info.column] = np.concatenate(parts).astype(teacher_info.dtype)  # float16 for embeddings
    return record


def failures_path(corpus_dir: str | os.PathLike, rank: int) -> Path:
    return Path(corpus_dir) / FAILURES_DIR / f"rank-{rank:03d}.jsonl"


def read_failures(corpus_dir: str | os.PathLike) -> dict[str, str]:
    """
    `key -> error` of every video a build could not turn into a record (all ranks, all runs). A line that does not
    parse (the last one, cut by a kill during its write) is skipped with a warning: that video is tried again.
    """
    failures = {}
    for path in sorted((Path(corpus_dir) / FAILURES_DIR).glob("*.jsonl")):
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                failures[entry["key"]] = entry["error"]
            except (ValueError, KeyError, TypeError):
                logger.warning(
                    "%s:%d: unreadable line ignored (an interrupted write); its video is retried.", path, number
                )
    return failures


def finished_keys(corpus_dir: str | os.PathLike) -> set[str]:
    """
    Keys of the records already in a finished shard (the build's ground truth for resuming). Raises
    `CorruptShardError` naming an unreadable shard: run `set_aside_unreadable_shards` first.
    """
    return set(key_to_shard(corpus_dir))


def set_aside_unreadable_shards(corpus_dir: str | os.PathLike) -> dict[Path, Path]:
    """
    Moves every unreadable shard (`corpus.shard_error`: truncated, not Parquet) from `data/` to `corrupt/`, with a
    warning naming it, so that its videos count as not done and a resumed build makes them again. Run it on one
    process, before the others list the finished keys.

    Returns:
        `{old path: new path}` of the shards moved.
    """
    moved = {}
    for shard, error in find_corrupt_shards(corpus_dir).items():
        moved[shard] = set_aside_shard(corpus_dir, shard)
        logger.warning("%s\nMoved it to %s; its videos will be built again.", error, moved[shard])
    return moved


def remove_unfinished_shards(corpus_dir: str | os.PathLike, rank: int) -> list[Path]:
    """Deletes the `*.parquet.tmp` files `rank` left when it was killed while writing a shard; returns them."""
    pattern = shard_path(corpus_dir, rank, 0).name.rsplit("-", 1)[0] + "-*.parquet.tmp"
    stale = sorted((Path(corpus_dir) / DATA_DIR).glob(pattern))
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


@dataclass
class BuildStats:
    """What one process did: records written, videos skipped as bad (key -> error), shards written."""

    written: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    shards: list[str] = field(default_factory=list)


class CorpusBuilder:
    """
    Builds one process's part of a corpus.

    Args:
        corpus_dir: the corpus folder (its `soundnet_corpus.json` must already hold `info`).
        info: the corpus settings.
        teachers: loaded teachers, in the order of `info.teachers`.
        rank: this process's index; it names the shards and the failure log this process writes.
        shard_size: records per shard.
        strict: raise on the first bad video instead of skipping it.
        device: where frames are decoded.
    """

    def __init__(
        self,
        corpus_dir: str | os.PathLike,
        info: CorpusInfo,
        teachers: Sequence[ImageTeacher],
        rank: int = 0,
        shard_size: int = 64,
        strict: bool = False,
        device: str | torch.device = "cpu",
    ):
        if shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {shard_size}.")
        self.corpus_dir = Path(corpus_dir)
        self.info = info
        self.teachers = list(teachers)
        self.rank = rank
        self.shard_size = shard_size
        self.strict = strict
        self.device = device
        remove_unfinished_shards(self.corpus_dir, rank)
        self._next_index = next_shard_index(self.corpus_dir, rank)

    def _flush(self, records: list[dict[str, Any]], stats: BuildStats) -> None:
        path = write_shard(records, shard_path(self.corpus_dir, self.rank, self._next_index), self.info)
        self._next_index += 1
        stats.written += len(records)
        stats.shards.append(path.name)
        records.clear()

    def _record_failure(self, key: str, path: Path, error: str, stats: BuildStats) -> None:
        stats.failed[key] = error
        log = failures_path(self.corpus_dir, self.rank)
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("a") as f:
            f.write(json.dumps({"key": key, "source": str(path), "error": error}) + "\n")
        logger.warning("skipped %s", error)

    def run(self, videos_dir: str | os.PathLike, keys: Iterable[str], progress=None) -> BuildStats:
        """
        Turns the videos `keys` (paths relative to `videos_dir`) into records and shards.

        Args:
            progress: an optional tqdm bar, advanced once per video.
        """
        stats = BuildStats()
        records: list[dict[str, Any]] = []
        for key in keys:
            path = Path(videos_dir) / key
            try:
                records.append(build_record(path, key, self.info, self.teachers, device=self.device))
            except Exception as err:  # any bad video is skipped and reported, never the end of the build
                if self.strict:
                    raise
                message = str(err) if isinstance(err, RecordError) else f"{path}: {type(err).__name__}: {err}"
                self._record_failure(key, path, message, stats)
            if len(records) >= self.shard_size:
                self._flush(records, stats)
            if progress is not None:
                progress.update(1)
        if records:
            self._flush(records, stats)
        return stats


__all__ = [
    "VIDEO_EXTENSIONS",
    "BuildStats",
    "CorpusBuilder",
    "RecordError",
    "build_record",
    "corpus_info_for_build",
    "encode_audio",
    "find_videos",
    "finished_keys",
    "read_failures",
    "remove_unfinished_shards",
    "set_aside_unreadable_shards",
]
