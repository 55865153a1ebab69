"""Labelled audio sets for downstream evaluation: a local folder in the ESC-50 release layout or a `datasets` id.

Both become a [`LabelledAudio`]: sources that [`AudioFileDataset`] decodes (paths, or the `{"path", "bytes"}`
records of an Audio column read with `decode=False`, so a corrupt record is skipped and counted instead of stopping
the run), integer labels, label names, and the folds when the set defines them.
"""

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


ESC50_METADATA = Path("meta") / "esc50.csv"
ESC50_AUDIO = "audio"


@dataclass
class LabelledAudio:
    """
    Args:
        sources: one audio source per clip (a path, or a `{"path", "bytes"}` record).
        labels: `np.ndarray` of shape `(num_clips,)`, integer class ids.
        label_names: name of each class id.
        folds: `np.ndarray` of shape `(num_clips,)` with each clip's fold, or None.
        names: what to call each clip in messages (None: each record's own path, else `record {index}`).
    """

    sources: Sequence
    labels: np.ndarray
    label_names: list[str]
    folds: np.ndarray | None
    names: list[str] | None


class AudioColumn(Sequence):
    """A lazy view of one undecoded Audio column of a `datasets.Dataset`: item `i` is row `i`'s `{"path", "bytes"}`."""

    def __init__(self, dataset, column: str):
        self.dataset = dataset
        self.column = column

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index):
        return self.dataset[int(index)][self.column]


def load_esc50_folder(root: str | Path) -> LabelledAudio:
    """Reads `root/meta/esc50.csv` (`filename`, `fold`, `target`, `category`) and points at `root/audio/<filename>`."""
    root = Path(root)
    metadata = root / ESC50_METADATA
    if not metadata.is_file():
        raise FileNotFoundError(f"{metadata}: missing; an ESC-50 folder holds meta/esc50.csv and audio/.")
    with metadata.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    missing = {"filename", "fold", "target"} - set(rows[0] if rows else {})
    if missing:
        raise ValueError(f"{metadata}: missing columns {sorted(missing)} (needs filename, fold, target).")
    targets = np.array([int(row["target"]) for row in rows])
    names = {int(row["target"]): row.get("category") or str(row["target"]) for row in rows}
    label_names = [names.get(i, str(i)) for i in range(int(targets.max()) + 1)]
    paths = [str(root / ESC50_AUDIO / row["filename"]) for row in rows]
    return LabelledAudio(paths, targets, label_names, np.array([int(row["fold"]) for row in rows]), paths)


def load_hub_dataset(
    name: str,
    split: str = "train",
    audio_column: str = "audio",
    label_column: str = "label",
    fold_column: str | None = "fold",
) -> LabelledAudio:
    """
    `datasets.load_dataset(name, split=split)` with its Audio column left undecoded. Labels of a `ClassLabel`
    column keep their names; other label values are mapped to ids in sorted order.
    """
    from datasets import Audio, ClassLabel, load_dataset

    dataset = load_dataset(name, split=split)
    for column in (audio_column, label_column):
        if column not in dataset.column_names:
            raise ValueError(f"{name}: no column {column!r}; columns are {dataset.column_names}.")
    dataset = dataset.cast_column(audio_column, Audio(decode=False))
    feature = dataset.features[label_column]
    values = dataset[label_column]
    if isinstance(feature, ClassLabel):
        labels, label_names = np.array(values), list(feature.names)
    else:
        label_names = sorted({str(v) for v in values})
        index = {label: i for i, label in enumerate(label_names)}
        labels = np.array([index[str(v)] for v in values])
    folds = np.array(dataset[fold_column]) if fold_column and fold_column in dataset.column_names else None
    return LabelledAudio(AudioColumn(dataset, audio_column), labels, label_names, folds, None)


def load_labelled_audio(data: str, **hub_kwargs) -> LabelledAudio:
    """An ESC-50-layout folder when `data` is a folder holding `meta/esc50.csv`, else a `datasets` id or path."""
    if (Path(data) / ESC50_METADATA).is_file():
        split = hub_kwargs.get("split", "train")
        if split != "train":  # the release layout has one table; held-out data are its folds
            raise ValueError(f"{data}: an ESC-50-layout folder has no split {split!r}; hold out a fold instead.")
        return load_esc50_folder(data)
    return load_hub_dataset(data, **hub_kwargs)


@dataclass(kw_only=True)
class LabelledAudioArguments:
    """
    The options that name a labelled audio set, as an `HfArgumentParser` dataclass: the examples that evaluate on one
    (examples/linear_probe.py, examples/zero_shot_eval.py) subclass it with their own options (keyword-only, so a
    subclass may add options without defaults).
    """

    data: str = field(metadata={"help": "ESC-50-layout folder, or a datasets id / local dataset folder."})
    split: str = field(default="train", metadata={"help": "Split of a datasets id."})
    audio_column: str = field(default="audio", metadata={"help": "Audio column of a datasets id."})
    label_column: str = field(default="label", metadata={"help": "Label column of a datasets id."})
    fold_column: str = field(default="fold", metadata={"help": "Fold column of a datasets id."})

    def load_labelled_audio(self) -> LabelledAudio:
        """The set these options name ([`load_labelled_audio`])."""
        return load_labelled_audio(
            self.data,
            split=self.split,
            audio_column=self.audio_column,
            label_column=self.label_column,
            fold_column=self.fold_column,
        )


__all__ = [
    "AudioColumn",
    "LabelledAudio",
    "LabelledAudioArguments",
    "load_esc50_folder",
    "load_hub_dataset",
    "load_labelled_audio",
]
