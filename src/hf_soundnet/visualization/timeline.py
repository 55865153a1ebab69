"""The timeline picture of one recording: waveform (or spectrogram) above, then the object and scene heat strips.

Each conv8 step of the released heads (2.97 s apart for SoundNet-8: the layer table's `hop`) is one column of a heat
strip whose rows are the step's most probable classes and whose colours are the heads' per-step softmax, the numbers
`soundnet classify` averages into its top classes and lists in its `timeline`. A column is drawn centred on the middle
of the step's receptive field (`offset + receptive_field / 2` samples after `step * hop`: 14.5 s of audio centred
4.75 s after the step's start for SoundNet-8), one hop wide, so that it lies over the sound it heard.
"""

import os
from dataclasses import dataclass

import numpy as np
import torch

from ..configuration_soundnet import HEAD_LAYER, SoundNetConfig
from .backend import new_figure


# Columns of the waveform envelope: a long recording is drawn as per-column min/max, not sample by sample.
ENVELOPE_COLUMNS = 4000
# Heat strips of at most this many steps also print each cell's probability in percent.
ANNOTATE_MAX_STEPS = 24


@dataclass(frozen=True)
class StepGrid:
    """
    Where the conv8 steps lie in time, from the layer table.

    Args:
        centers_s: `np.ndarray` of shape `(steps,)`, the centre of each step's receptive field, in seconds.
        hop_s: seconds between steps (each column's width).
        receptive_field_s: seconds of audio one step hears.
    """

    centers_s: np.ndarray
    hop_s: float
    receptive_field_s: float

    @property
    def extent(self) -> tuple[float, float]:
        """`(left, right)` edges of the heat strip in seconds: the first and last column's outer edges."""
        return float(self.centers_s[0] - self.hop_s / 2), float(self.centers_s[-1] + self.hop_s / 2)


def step_grid(config: SoundNetConfig, num_steps: int) -> StepGrid:
    """The [`StepGrid`] of `num_steps` conv8 steps of a model with `config`."""
    head = config.get_layer(HEAD_LAYER)
    rate = config.sampling_rate
    centers = (np.arange(num_steps) * head.hop + head.offset + head.receptive_field / 2) / rate
    return StepGrid(centers_s=centers, hop_s=head.hop / rate, receptive_field_s=head.receptive_field / rate)


def choose_classes(step_probabilities: np.ndarray, count: int) -> np.ndarray:
    """
    The classes shown for one head: every class that is the most probable at some step, then the others by mean
    probability, `count` at most, ordered by mean probability (highest first).

    Args:
        step_probabilities: `(steps, classes)`.

    Returns:
        class indices `(min(count, classes),)`.
    """
    mean = step_probabilities.mean(axis=0)
    winners = np.unique(step_probabilities.argmax(axis=1))
    winners = winners[np.argsort(-mean[winners], kind="stable")]
    rest = [i for i in np.argsort(-mean, kind="stable") if i not in set(winners.tolist())]
    return np.asarray([*winners.tolist(), *rest][:count], dtype=np.int64)


def _draw_waveform(axes, waveform: np.ndarray, sampling_rate: int) -> None:
    """Waveform `(samples,)` as a min/max envelope over at most `ENVELOPE_COLUMNS` columns."""
    samples = waveform.shape[0]
    columns = min(ENVELOPE_COLUMNS, max(1, samples))
    edges = np.linspace(0, samples, columns + 1).astype(np.int64)
    starts = edges[:-1]
    nonempty = edges[1:] > starts
    low = np.minimum.reduceat(waveform, starts[nonempty]) if samples else np.zeros(1)
    high = np.maximum.reduceat(waveform, starts[nonempty]) if samples else np.zeros(1)
    times = starts[nonempty] / sampling_rate
    axes.fill_between(times, low, high, color="tab:blue", linewidth=0.5, step="post")
    axes.set_ylabel("waveform")


def _draw_spectrogram(axes, waveform: np.ndarray, sampling_rate: int) -> None:
    """Log-power spectrogram (1,024-sample windows) of `waveform` `(samples,)`."""
    axes.specgram(waveform, NFFT=1024, Fs=sampling_rate, noverlap=512, cmap="viridis")
    axes.set_ylabel("Hz")


def _draw_strip(axes, probabilities: np.ndarray, names: list[str], grid: StepGrid, head: str, count: int):
    """One head's heat strip: rows are the chosen classes, columns the steps, colours from 0 to the strip's highest
    probability (its own colour bar); returns the image."""
    classes = choose_classes(probabilities, count)
    values = probabilities[:, classes].T
    left, right = grid.extent
    top = float(values.max()) or 1.0
    image = axes.imshow(
        values,
        aspect="auto",
        interpolation="nearest",
        cmap="magma",
        vmin=0.0,
        vmax=top,
        extent=(left, right, len(classes) - 0.5, -0.5),
    )
    if values.shape[1] <= ANNOTATE_MAX_STEPS:
        for row, column in np.ndindex(values.shape):
            value = values[row, column]
            axes.text(
                grid.centers_s[column],
                row,
                f"{100 * value:.0f}%",
                ha="center",
                va="center",
                fontsize=7,
                color="black" if value > 0.6 * top else "white",
            )
    axes.set_yticks(range(len(classes)), [names[i] for i in classes], fontsize=8)
    axes.set_ylabel(head)
    axes.set_label(head)
    axes.figure.colorbar(image, ax=axes, label="probability", fraction=0.02, pad=0.01)
    return image


def plot_timeline(
    waveform: np.ndarray,
    sampling_rate: int,
    object_steps: np.ndarray,
    scene_steps: np.ndarray,
    config: SoundNetConfig,
    *,
    classes_per_head: int = 5,
    spectrogram: bool = False,
    title: str | None = None,
):
    """
    The timeline figure of one recording.

    Args:
        waveform: `(samples,)` mono audio (any scale) at `sampling_rate`, drawn on top.
        sampling_rate: rate of `waveform` in Hz.
        object_steps: `(steps, num_object_classes)` per-step softmax of the object head (as from
            `hf_soundnet.inference.features.clip_step_probabilities`).
        scene_steps: `(steps, num_scene_classes)`, the scene head's.
        config: the model's config: class names (`id2label`) and the layer table that places the steps in time.
        classes_per_head: rows of each heat strip ([`choose_classes`]).
        spectrogram: draw a spectrogram instead of the waveform.
        title: the figure's title (e.g. the file name).

    Returns:
        `matplotlib.figure.Figure` with three axes, labelled `"audio"`, `"objects"` and `"scenes"`; each strip's
        `AxesImage` holds `probabilities[:, classes].T` (rows: the classes of its y tick labels, top to bottom).
    """
    from ..inference.classify import head_labels

    object_steps, scene_steps = np.asarray(object_steps), np.asarray(scene_steps)
    if object_steps.ndim != 2 or scene_steps.ndim != 2 or object_steps.shape[0] != scene_steps.shape[0]:
        raise ValueError(
            f"object_steps and scene_steps must be (steps, classes) with the same steps, got {object_steps.shape} "
            f"and {scene_steps.shape}."
        )
    if object_steps.shape[0] == 0:
        raise ValueError("No conv8 step to draw (the audio is too short for one step).")
    waveform = np.asarray(waveform, dtype=np.float32).reshape(-1)
    objects, scenes = head_labels(config)
    grid = step_grid(config, object_steps.shape[0])
    rows = [1.2, 0.35 * min(classes_per_head, len(objects)) + 0.3, 0.35 * min(classes_per_head, len(scenes)) + 0.3]
    figure = new_figure(figsize=(12, 1.2 + sum(rows)), layout="constrained")
    audio_axes, object_axes, scene_axes = figure.subplots(3, 1, sharex=True, height_ratios=rows)
    (_draw_spectrogram if spectrogram else _draw_waveform)(audio_axes, waveform, sampling_rate)
    audio_axes.set_label("audio")
    _draw_strip(object_axes, object_steps, objects, grid, "objects", classes_per_head)
    _draw_strip(scene_axes, scene_steps, scenes, grid, "scenes", classes_per_head)
    duration = waveform.shape[0] / sampling_rate
    left, right = grid.extent
    audio_axes.set_xlim(min(0.0, left), max(duration, right))
    scene_axes.set_xlabel(
        f"time (s); one column per conv8 step ({grid.hop_s:.2f} s apart, each hearing {grid.receptive_field_s:.1f} s "
        "of audio around the column's centre)"
    )
    if title:
        figure.suptitle(title, fontsize=10)
    return figure


@torch.inference_mode()
def file_step_probabilities(
    path: str | os.PathLike, model, feature_extractor
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Decodes `path` as `soundnet classify` does and runs `model` once.

    Returns:
        `(waveform (samples,), object_steps (steps, objects), scene_steps (steps, scenes))`: the mono audio before
        any repetition, in [-1, 1] at the extractor's rate, and each head's per-step softmax.
    """
    from ..audio.decoding import load_audio
    from ..inference.features import clip_step_probabilities

    rate = feature_extractor.sampling_rate
    audio = load_audio(path, rate, channel_mode=feature_extractor.channel_mode)
    waveform = feature_extractor.to_mono_float(audio[0], source=str(path))
    inputs = feature_extractor(waveform, sampling_rate=rate, return_tensors="pt")
    device = next(model.parameters()).device
    output = model.forward_intermediates(inputs["input_values"].to(device))
    ((object_steps, scene_steps),) = clip_step_probabilities(output)
    return waveform, object_steps, scene_steps


def plot_file_timeline(path: str | os.PathLike, model, feature_extractor, **kwargs):
    """[`plot_timeline`] of an audio file, classified by `model` (with the released heads) in one forward;
    `kwargs` go to [`plot_timeline`] (the title defaults to the file name)."""
    waveform, object_steps, scene_steps = file_step_probabilities(path, model, feature_extractor)
    kwargs.setdefault("title", os.fspath(path))
    return plot_timeline(waveform, feature_extractor.sampling_rate, object_steps, scene_steps, model.config, **kwargs)


__all__ = [
    "ANNOTATE_MAX_STEPS",
    "ENVELOPE_COLUMNS",
    "StepGrid",
    "choose_classes",
    "file_step_probabilities",
    "plot_file_timeline",
    "plot_timeline",
    "step_grid",
]
