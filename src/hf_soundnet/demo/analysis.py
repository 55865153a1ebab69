"""What the demo computes for one recording, without any user interface: the model loaded once, one file
classified as `soundnet classify` does it, and the values the page shows (top labels, per-step table).

Everything here is plain Python and numpy, so that it is tested without a browser; `hf_soundnet.demo.app` puts it on a
Gradio page.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..audio.decoding import load_audio
from ..inference.classify import classification_record, head_labels
from ..inference.engine import forward_batch, inference_engine, load_model_and_extractor
from ..inference.features import clip_step_probabilities


# The per-step table's columns (one row per conv8 step).
TABLE_HEADERS = ["start (s)", "end (s)", "top object", "p(object)", "top scene", "p(scene)"]


@dataclass
class DemoModel:
    """
    A checkpoint ready for the demo: the transformers model, its feature extractor and the engine that runs it
    (the fast forward by default, as `soundnet classify` does).

    Attributes:
        name: the checkpoint folder or Hub id it was loaded from.
        labels: object and scene names without their prefixes (`head_labels`).
        step_seconds: time between two conv8 steps (2.97 s for SoundNet-8).
    """

    name: str
    model: Any
    feature_extractor: Any
    engine: torch.nn.Module
    labels: tuple[list[str], list[str]]
    step_seconds: float

    @classmethod
    def load(
        cls, name_or_path: str | os.PathLike, *, device: str = "cpu", fast: bool = True, precision: str = "fp32"
    ) -> "DemoModel":
        """Loads a checkpoint with the released heads (a folder or Hub id) and builds its engine once.

        Raises:
            ValueError: the checkpoint has no object/scene heads. (Loading errors: OSError, ValueError.)
        """
        model, extractor = load_model_and_extractor(name_or_path, device=device)
        if not model.has_heads:
            raise ValueError(
                f"{name_or_path}: the model has no object/scene heads (classifier_type="
                f"{model.config.classifier_type!r}); the demo needs a checkpoint with the released heads."
            )
        return cls(
            name=str(name_or_path),
            model=model,
            feature_extractor=extractor,
            engine=inference_engine(model, fast=fast, precision=precision),
            labels=head_labels(model.config),
            step_seconds=model.config.head_hop / extractor.sampling_rate,
        )


@dataclass
class Analysis:
    """
    One recording classified.

    Attributes:
        record: what `soundnet classify` writes for it (`path`, `duration_s`, top `objects` and `scenes`, `timeline`).
        waveform: `(num_samples,)` the mono audio in [-1, 1] at `sampling_rate`, before any repetition.
        sampling_rate: Hz.
        object_steps: `(steps, num_object_classes)` per-step softmax of the object head.
        scene_steps: `(steps, num_scene_classes)` per-step softmax of the scene head.
    """

    record: dict
    waveform: np.ndarray
    sampling_rate: int
    object_steps: np.ndarray
    scene_steps: np.ndarray


def analyse(
    demo: DemoModel, source: str | os.PathLike | bytes, *, top_k: int = 5, name: str | None = None
) -> Analysis:
    """
    Classifies one recording as `soundnet classify` (`hf_soundnet.inference.classify_files`) does: decoded with
    [`load_audio`] at the extractor's rate, reduced to mono by its channel policy (the first channel for the
    released checkpoint), short clips repeated, one forward of the engine, each head's per-step softmax.

    Args:
        demo: the loaded [`DemoModel`].
        source: a path or the encoded bytes of an audio file.
        top_k: objects and scenes in the record.
        name: what to call the source in the record and in errors (default: the path's file name).

    Raises:
        AudioLoadError: the source cannot be decoded (the message names it and the problem).
    """
    extractor = demo.feature_extractor
    if name is None:
        name = "<bytes>" if isinstance(source, (bytes, bytearray)) else Path(source).name
    waveform = load_audio(source, extractor.sampling_rate, name=name, channel_mode=extractor.channel_mode)
    mono = extractor.to_mono_float(waveform[0], source=name)
    values = extractor.repeat_short(mono) * np.float32(extractor.input_scale)
    output = forward_batch(demo.engine, torch.from_numpy(np.ascontiguousarray(values))[None], None)
    object_steps, scene_steps = clip_step_probabilities(output)[0]
    record = classification_record(
        name,
        mono.shape[0] / extractor.sampling_rate,
        object_steps=object_steps,
        scene_steps=scene_steps,
        labels=demo.labels,
        k=top_k,
        step_seconds=demo.step_seconds,
    )
    return Analysis(record, mono, extractor.sampling_rate, object_steps, scene_steps)


def label_scores(entries: list[dict]) -> dict[str, float]:
    """`{"label": ..., "probability": ...}` entries as the `{label: probability}` mapping a Gradio Label shows."""
    return {entry["label"]: entry["probability"] for entry in entries}


def step_rows(record: dict, step_seconds: float) -> list[list]:
    """The per-step table of a record: per conv8 step its start and end (s), top object and scene with their
    probabilities (rounded to 3 decimals), columns as in `TABLE_HEADERS`."""
    return [
        [
            round(step["start_s"], 2),
            round(step["start_s"] + step_seconds, 2),
            step["object"]["label"],
            round(step["object"]["probability"], 3),
            step["scene"]["label"],
            round(step["scene"]["probability"], 3),
        ]
        for step in record["timeline"]
    ]


def summary(record: dict) -> str:
    """One Markdown line about the result: the file, its duration, its steps and the top scene and object."""
    steps = len(record["timeline"])
    return (
        f"**{record['path']}**: {record['duration_s']:.1f} s, {steps} step{'s' if steps != 1 else ''}; "
        f"top scene **{record['scenes'][0]['label']}** ({record['scenes'][0]['probability']:.2f}), "
        f"top object **{record['objects'][0]['label']}** ({record['objects'][0]['probability']:.2f})."
    )


__all__ = ["TABLE_HEADERS", "Analysis", "DemoModel", "analyse", "label_scores", "step_rows", "summary"]
