"""Streaming pre-training examples from a SoundNet corpus: decode, random crop aligned to the teacher steps, collate.

A crop spans `crop_steps` whole teacher steps (20 s = 4 steps of 5 s, the original's) and starts on a step boundary,
so its teacher distributions are whole rows of the record's arrays. A clip shorter than the crop is repeated whole
until it fills the crop, as the original did, and each crop step takes the teacher step of the clip position at its
centre (with a clip of exactly `T` steps this is step `k mod T`).

Decoding happens inside `IterableDataset.map`, so DataLoader workers decode in parallel. A record whose audio or
teacher arrays are bad is skipped, logged and counted (`num_corrupt` rides along with the next good example), and the
stream goes on; `strict=True` raises `CorruptRecordError` instead. A shard that cannot be read at all (truncated,
not Parquet) is skipped the same way, logged with its path by the reader (`corpus.iter_shard_records`) and counted in
`num_corrupt_shards`; with `strict=True` it raises `CorruptShardError`.
"""

import logging
import math
import os
from typing import Any

import numpy as np
import torch

from ..audio.decoding import load_audio
from ..errors import SoundNetError
from .corpus import (
    CorpusError,
    CorpusInfo,
    is_corrupt_shard_marker,
    load_corpus_info,
    load_streaming_corpus,
    teacher_array,
)


logger = logging.getLogger(__name__)

# Model inputs fed by the teachers, in the order of SoundNet's heads: the two KL heads (distributions) and the
# embedding head (an image-text teacher's embeddings).
HEAD_INPUTS = {"object": "teacher_object_probs", "scene": "teacher_scene_probs", "embedding": "teacher_embeddings"}


class CorruptRecordError(SoundNetError, ValueError):
    """A corpus record that cannot be used (undecodable audio, malformed teacher arrays); raised in strict mode."""


def crop_steps_for(crop_seconds: float, step_seconds: float) -> int:
    """Whole teacher steps in a crop (20 s / 5 s = 4); raises unless the crop is a positive multiple of the step."""
    steps = crop_seconds / step_seconds
    if steps < 1 or abs(steps - round(steps)) > 1e-6:
        raise ValueError(
            f"The crop ({crop_seconds} s) must be a whole number (>= 1) of teacher steps ({step_seconds} s)."
        )
    return round(steps)


def crop_record(
    waveform: np.ndarray,
    teachers: list[np.ndarray],
    step_samples: int,
    crop_steps: int,
    start_step: int | None = None,
    generator: torch.Generator | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """
    A crop of `crop_steps` teacher steps and the matching teacher rows.

    Args:
        waveform (`np.ndarray` of shape `(num_samples,)`): the record's audio.
        teachers (`list[np.ndarray]`, each of shape `(num_steps, num_classes_i)`): the record's distributions.
        step_samples: audio samples per teacher step.
        crop_steps: steps per crop.
        start_step: first step of the crop (random, uniform over the valid starts, when None).
        generator: the random source of `start_step` (torch's, seeded per DataLoader worker).

    Returns:
        audio of shape `(crop_steps * step_samples,)` and, per teacher, rows of shape `(crop_steps, num_classes_i)`.
    """
    num_steps = teachers[0].shape[0]
    crop_samples = crop_steps * step_samples
    unit = waveform[: num_steps * step_samples]
    if num_steps >= crop_steps:
        if start_step is None:
            start_step = int(torch.randint(num_steps - crop_steps + 1, (1,), generator=generator))
        audio = unit[start_step * step_samples : start_step * step_samples + crop_samples]
        if audio.shape[0] < crop_samples:  # a last step a few samples short (rounding of the duration)
            audio = np.pad(audio, (0, crop_samples - audio.shape[0]))
        return audio, [t[start_step : start_step + crop_steps] for t in teachers]
    # Shorter than the crop: repeat the clip whole (the original's handling); each crop step takes the teacher step
    # under its centre.
    audio = np.tile(unit, math.ceil(crop_samples / unit.shape[0]))[:crop_samples]
    centres = ((np.arange(crop_steps) + 0.5) * step_samples) % unit.shape[0]
    rows = np.minimum((centres // step_samples).astype(np.int64), num_steps - 1)
    return audio, [t[rows] for t in teachers]


class PretrainingExampleDecoder:
    """
    The batched `IterableDataset.map` function: corpus records -> model inputs (bad records dropped and counted).

    Args:
        info: the corpus settings.
        crop_steps: teacher steps per crop.
        head_teachers: `{"object": name, "scene": name, "embedding": name}`, the corpus teachers of each student head
            (a head may be left out); the embedding head takes an embedding teacher, the others distributions.
        input_scale: multiplier of the [-1, 1] waveform (`SoundNetFeatureExtractor.input_scale`, 256).
        strict: raise `CorruptRecordError` on a bad record instead of skipping it.
    """

    def __init__(
        self,
        info: CorpusInfo,
        crop_steps: int,
        head_teachers: dict[str, str],
        input_scale: float = 256.0,
        strict: bool = False,
    ):
        unknown = set(head_teachers) - set(HEAD_INPUTS)
        if unknown:
            raise ValueError(f"Unknown heads {sorted(unknown)}; SoundNet's heads are {sorted(HEAD_INPUTS)}.")
        self.info = info
        self.crop_steps = crop_steps
        self.heads = {head: info.teacher(name) for head, name in head_teachers.items()}
        for head, teacher in self.heads.items():
            if teacher.is_embedding != (head == "embedding"):
                raise CorpusError(
                    f"The {head} head needs {'an embedding' if head == 'embedding' else 'a distribution'} teacher; "
                    f"the corpus teacher {teacher.name!r} is a {teacher.kind} teacher."
                )
        self.input_scale = input_scale
        self.strict = strict
        self.pending_corrupt = 0
        self.pending_corrupt_shards = 0

    def decode(self, record: dict[str, Any]) -> dict[str, Any]:
        """One record -> one example; raises `CorruptRecordError` naming the record and the problem."""
        key = record.get("key") or "<no key>"
        try:
            audio = load_audio(record["audio"] or b"", sampling_rate=self.info.sampling_rate, name=f"record {key}")
            teachers = [teacher_array(record, teacher) for teacher in self.heads.values()]
        except Exception as err:  # AudioLoadError, or arrays of the wrong size/type
            raise CorruptRecordError(f"{err}" if key in str(err) else f"record {key}: {err}") from err
        num_steps = {t.shape[0] for t in teachers}
        if len(num_steps) != 1 or 0 in num_steps:
            raise CorruptRecordError(f"record {key}: teacher arrays have {sorted(num_steps)} steps.")
        for teacher, values in zip(self.heads.values(), teachers):
            if not np.isfinite(values).all():
                raise CorruptRecordError(f"record {key}: teacher {teacher.name!r} holds NaN or Inf values.")
            if not teacher.is_embedding and (values < 0).any():
                raise CorruptRecordError(f"record {key}: teacher {teacher.name!r} holds negative probabilities.")
        waveform, teachers = crop_record(audio[0], teachers, self.info.step_samples, self.crop_steps)
        example = {"key": key, "input_values": (waveform * np.float32(self.input_scale)).astype(np.float32)}
        for head, probs in zip(self.heads, teachers):
            example[HEAD_INPUTS[head]] = probs.astype(np.float32)
        return example

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        columns = ["key", "input_values", *(HEAD_INPUTS[head] for head in self.heads)]
        columns += ["num_corrupt", "num_corrupt_shards"]
        out: dict[str, list] = {column: [] for column in columns}
        for i in range(len(batch["key"])):
            record = {name: values[i] for name, values in batch.items()}
            if is_corrupt_shard_marker(record):  # the reader already logged it, naming the shard
                self.pending_corrupt_shards += 1
                continue
            try:
                example = self.decode(record)
            except CorruptRecordError as err:
                if self.strict:
                    raise
                self.pending_corrupt += 1
                logger.warning("skipped corrupt %s", err)
                continue
            example["num_corrupt"], example["num_corrupt_shards"] = self.pending_corrupt, self.pending_corrupt_shards
            self.pending_corrupt = self.pending_corrupt_shards = 0
            for column in columns:
                out[column].append(example[column])
        return out


def pretraining_dataset(
    corpus_dir: str | os.PathLike,
    crop_seconds: float = 20.0,
    head_teachers: dict[str, str] | None = None,
    shuffle_buffer_size: int = 256,
    seed: int = 0,
    input_scale: float = 256.0,
    strict: bool = False,
):
    """
    The corpus as a stream of training examples: shuffle buffer (over encoded records), then decode and crop.

    Args:
        corpus_dir: a corpus folder (see `hf_soundnet.pretraining.corpus`).
        crop_seconds: crop length, a whole number of teacher steps (20 s).
        head_teachers: corpus teacher of each student head; defaults to `objects`/`scenes` when the corpus has them,
            else its first (and second) distribution teacher, and its first embedding teacher for the embedding head.
        shuffle_buffer_size: records in `datasets`' streaming shuffle buffer (the shard order is shuffled too).
        seed: shuffle seed.
        input_scale: multiplier of the waveform (256).
        strict: make a corrupt record or an unreadable shard fatal.

    Returns:
        `datasets.IterableDataset` of examples with `input_values` `(crop_samples,)`, `teacher_object_probs`
        `(crop_steps, C_obj)`, `teacher_scene_probs` `(crop_steps, C_scene)`, `teacher_embeddings` `(crop_steps, dim)`
        (the heads that have a teacher), `key`, `num_corrupt` and
        `num_corrupt_shards` (records and shards skipped since the previous example), with one shard per Parquet
        file (split between processes and DataLoader workers by whole shards).
    """
    info = load_corpus_info(corpus_dir)
    head_teachers = head_teachers or default_head_teachers(info)
    decoder = PretrainingExampleDecoder(
        info, crop_steps_for(crop_seconds, info.step_seconds), head_teachers, input_scale, strict
    )
    dataset = load_streaming_corpus(corpus_dir, strict=strict, mark_corrupt_shards=True)
    if shuffle_buffer_size > 1:
        dataset = dataset.shuffle(seed=seed, buffer_size=shuffle_buffer_size)
    return dataset.map(decoder, batched=True, batch_size=8, remove_columns=list(info.features()))


def default_head_teachers(info: CorpusInfo) -> dict[str, str]:
    """
    `objects` -> object head and `scenes` -> scene head when present, else the first two distribution teachers
    (classifiers and zero-shot classifiers) in order; and the first embedding teacher -> embedding head.
    """
    names = [t.name for t in info.teachers if not t.is_embedding]
    embeddings = [t.name for t in info.teachers if t.is_embedding]
    if not names and not embeddings:
        raise CorpusError("The corpus has no teacher; build it with at least one --teachers MODEL.")
    if "objects" in names or "scenes" in names:
        heads = {head: name for head, name in (("object", "objects"), ("scene", "scenes")) if name in names}
    else:
        heads = dict(zip(("object", "scene"), names))
    if embeddings:
        heads["embedding"] = embeddings[0]
    return heads


class SoundNetPretrainingCollator:
    """
    Stacks examples of equal crop length into a batch.

    Returns:
        `dict` with `input_values` `(batch_size, crop_samples)`, the teacher inputs `(batch_size, crop_steps,
        num_classes)` (embeddings: `(batch_size, crop_steps, dim)` float32), `keys` (list of the records' keys), `num_corrupt` and `num_corrupt_shards` (records and
        unreadable shards skipped before these, `()` each).
    """

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        batch: dict[str, Any] = {
            "input_values": torch.from_numpy(np.stack([np.asarray(e["input_values"]) for e in examples]))
        }
        for name in HEAD_INPUTS.values():
            if name in examples[0]:
                batch[name] = torch.from_numpy(np.stack([np.asarray(e[name], dtype=np.float32) for e in examples]))
        batch["keys"] = [e["key"] for e in examples]
        batch["num_corrupt"] = torch.tensor(sum(int(e["num_corrupt"]) for e in examples))
        batch["num_corrupt_shards"] = torch.tensor(sum(int(e.get("num_corrupt_shards", 0)) for e in examples))
        return batch


__all__ = [
    "CorruptRecordError",
    "PretrainingExampleDecoder",
    "SoundNetPretrainingCollator",
    "crop_record",
    "crop_steps_for",
    "default_head_teachers",
    "pretraining_dataset",
]
