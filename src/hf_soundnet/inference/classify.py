"""Classifying many audio files with the released heads: what `soundnet classify` writes, as a library call.

[`classify_files`] decodes in DataLoader worker processes (one bad file never loses its batch), runs the fast forward
([`FastSoundNet`], equal to the transformers model to 1e-4) and yields one JSON-ready record per file: its top objects
and scenes (each head's per-step softmax averaged over the clip, exactly
`SoundNetForAudioClassification.clip_probabilities`) and a per-step timeline.
"""

import os
from collections.abc import Iterator, Sequence

import numpy as np
import torch

from ..audio.batches import AudioFileDataset, AudioSource, make_loader
from ..categories import OBJECT_PREFIX, SCENE_PREFIX
from ..feature_extraction_soundnet import SoundNetFeatureExtractor
from .engine import model_device, run_batches
from .features import clip_step_probabilities
from .parallelism import Parallelism, resolve_parallelism, torch_threads


def head_labels(config) -> tuple[list[str], list[str]]:
    """Object and scene names from the checkpoint's `id2label` (objects first), without their prefixes."""
    names = [config.id2label[i] for i in range(config.num_object_classes + config.num_scene_classes)]
    strip = [
        name[len(prefix) :] if name.startswith(prefix) else name
        for name, prefix in zip(
            names, [OBJECT_PREFIX] * config.num_object_classes + [SCENE_PREFIX] * config.num_scene_classes
        )
    ]
    return strip[: config.num_object_classes], strip[config.num_object_classes :]


def top_k(probabilities: np.ndarray, labels: list[str], k: int) -> list[dict]:
    """The `k` most probable labels of `probabilities` `(num_classes,)`, most probable first."""
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [{"label": labels[i], "probability": float(probabilities[i])} for i in order]


def classification_record(
    path: str,
    duration_s: float,
    *,
    object_steps: np.ndarray,
    scene_steps: np.ndarray,
    labels: tuple[list[str], list[str]],
    k: int,
    step_seconds: float,
) -> dict:
    """The record of one file from its per-step probabilities `(steps, classes)` of both heads."""
    objects, scenes = labels
    timeline = [
        {
            "start_s": round(step * step_seconds, 6),
            "object": top_k(object_steps[step], objects, 1)[0],
            "scene": top_k(scene_steps[step], scenes, 1)[0],
        }
        for step in range(object_steps.shape[0])
    ]
    return {
        "path": path,
        "duration_s": round(duration_s, 6),
        "objects": top_k(object_steps.mean(axis=0), objects, k),
        "scenes": top_k(scene_steps.mean(axis=0), scenes, k),
        "timeline": timeline,
    }


def classify_files(
    model: torch.nn.Module,
    feature_extractor: SoundNetFeatureExtractor,
    sources: Sequence[AudioSource | str | os.PathLike],
    *,
    names: Sequence[str] | None = None,
    top_k: int = 5,
    batch_size: int = 8,
    num_workers: int | None = None,
    num_threads: int | None = None,
    fast: bool = True,
    precision: str = "fp32",
    with_arrays: bool = False,
    decoder: str = "torchcodec",
) -> Iterator[dict]:
    """
    Classifies every source with the model's object and scene heads.

    Args:
        model: a SoundNet model with heads (`SoundNetForAudioClassification` with `classifier_type="pretrained_heads"`
            or `SoundNetForPreTraining`), in eval mode; or the [`FastSoundNet`] of one, in `precision` (as
            `hf_soundnet.inference.light_loading` builds it).
        feature_extractor: the checkpoint's [`SoundNetFeatureExtractor`] (rate, mono, repetition of short clips).
        sources: paths, encoded bytes or `{"path", "bytes"}` records.
        names: what to call each source in records (default: its path, else `record {index}`).
        top_k: objects and scenes per record.
        batch_size: clips per forward; sources of similar size share a batch.
        num_workers: decoding processes (0 decodes in this process; None: see `hf_soundnet.inference.parallelism`).
        num_threads: torch threads of this process while the workers decode (None: the cores they leave); set
            while the records are made and restored after.
        fast: run [`FastSoundNet`] (default) rather than the transformers model itself.
        precision: `"fp32"` (equal to the eager model to 1e-4), `"bf16"` or `"fp16"`.
        with_arrays: also put in each successful record what a plot needs, as arrays (so no longer JSON-ready):
            `step_probabilities`, the `(objects (steps, num_object_classes), scenes (steps, num_scene_classes))`
            per-step softmax the record was made from, and `waveform`, the mono audio `(samples,)` the model heard,
            in [-1, 1] before any repetition (`hf_soundnet.visualization.plot_timeline` draws both).
        decoder: `"torchcodec"` (default) or `"ffmpeg"`: the `ffmpeg` program decodes each file in a child process
            (the same samples; quicker for a few files, as it spares torchcodec's import; see
            `hf_soundnet.audio.decoding`).

    Yields:
        one dict per source, in batch order (not input order): `path`, `duration_s` (before any repetition),
        `objects` and `scenes` (the `top_k` `{"label", "probability"}`), and `timeline` (per conv8 step: `start_s`
        and the top `object` and `scene`); or `{"path", "error"}` for a source that could not be decoded.

    Raises:
        ValueError: at the call (not at the first record), for a model without heads, `top_k < 1`, negative
            `num_workers`, `num_threads < 1` or an unknown `decoder`.
    """
    if not model.has_heads:
        raise ValueError(f"The model has no object/scene heads (classifier_type={model.config.classifier_type!r}).")
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1, got {top_k}.")
    device = model_device(model).type
    return _records(
        model,
        AudioFileDataset(
            [s if isinstance(s, (bytes, dict)) else str(s) for s in sources], feature_extractor, names, decoder
        ),
        labels=head_labels(model.config),
        step_seconds=model.config.head_hop / feature_extractor.sampling_rate,
        top_k=top_k,
        batch_size=batch_size,
        parallelism=resolve_parallelism(device, num_workers=num_workers, num_threads=num_threads),
        fast=fast,
        precision=precision,
        with_arrays=with_arrays,
    )


def _records(
    model: torch.nn.Module,
    dataset: AudioFileDataset,
    *,
    labels: tuple[list[str], list[str]],
    step_seconds: float,
    top_k: int,
    batch_size: int,
    parallelism: Parallelism,
    fast: bool,
    precision: str,
    with_arrays: bool = False,
) -> Iterator[dict]:
    """The generator behind [`classify_files`], once its arguments are checked."""
    on_gpu = model_device(model).type == "cuda"
    loader = make_loader(dataset, batch_size=batch_size, num_workers=parallelism.num_workers, pin_memory=on_gpu)
    with torch_threads(parallelism.num_threads):
        for batch, output in run_batches(model, loader, fast=fast, precision=precision):
            for item in batch.failures:
                yield {"path": item.name, "error": item.error}
            if output is None:
                continue
            for row, (item, (objects, scenes)) in enumerate(zip(batch.items, clip_step_probabilities(output))):
                record = classification_record(
                    item.name,
                    item.duration_s,
                    object_steps=objects,
                    scene_steps=scenes,
                    labels=labels,
                    k=top_k,
                    step_seconds=step_seconds,
                )
                if with_arrays:
                    extractor = dataset.feature_extractor
                    samples = round(item.duration_s * extractor.sampling_rate)
                    audio = batch.input_values[row, :samples].float().numpy() / np.float32(extractor.input_scale)
                    record.update(step_probabilities=(objects, scenes), waveform=audio)
                yield record


__all__ = ["classification_record", "classify_files", "head_labels", "top_k"]
