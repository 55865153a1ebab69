"""Fine-tuning `SoundNetForAudioClassification` (`classifier_type="linear"`) on a labelled audio set with the Trainer.

Clips are decoded once (in DataLoader workers, corrupt ones skipped and counted) into a `datasets.Dataset` of mono
waveforms at the model's rate; training examples are random crops, evaluation uses whole clips; the feature
extractor then repeats short clips and scales them exactly as at inference. Accuracy comes from the package's local
`evaluate` module, so evaluation works offline.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..audio.batches import AudioFileDataset, make_loader
from ..configuration_soundnet import SOUNDNET_VARIANTS, SoundNetConfig
from ..feature_extraction_soundnet import SoundNetFeatureExtractor
from ..modeling_soundnet import SoundNetForAudioClassification
from .labelled_audio import LabelledAudio


WAVEFORM_COLUMN = "waveform"


def decode_labelled_audio(
    data: LabelledAudio,
    feature_extractor: SoundNetFeatureExtractor,
    num_workers: int = 0,
    progress: Callable | None = None,
):
    """
    Decodes every clip of `data` to a mono float waveform in [-1, 1] at the extractor's rate (its `channel_mode`,
    no repetition, no scaling).

    Returns:
        a `datasets.Dataset` with columns `waveform` (float32 sequence), `label` and `fold` (-1 without folds), and
        the skipped clips as `(name, error)` pairs.
    """
    from datasets import Dataset, Features, Sequence, Value

    raw = SoundNetFeatureExtractor(**{**feature_extractor.to_dict(), "repeat_to_seconds": 0, "input_scale": 1.0})
    dataset = AudioFileDataset(data.sources, raw, names=data.names)
    skipped: list[tuple[str, str]] = []
    folds = data.folds if data.folds is not None else np.full(len(data.labels), -1)

    rows = []
    for batch in make_loader(dataset, batch_size=8, num_workers=num_workers):
        skipped.extend((item.name, item.error) for item in batch.failures)
        if batch.items:  # row i up to num_samples[i] is item i's audio; copied out of the (shared-memory) batch
            for item, values, length in zip(batch.items, batch.input_values, batch.num_samples.tolist()):
                label, fold = int(data.labels[item.index]), int(folds[item.index])
                rows.append({WAVEFORM_COLUMN: values[:length].clone().numpy(), "label": label, "fold": fold})
        if progress is not None:
            progress(len(batch.items) + len(batch.failures))
    # Held in memory before `from_list` writes Arrow: for ESC-50, 2,000 clips x 5 s x 22,050 Hz x 4 bytes (0.9 GB).
    features = Features({WAVEFORM_COLUMN: Sequence(Value("float32")), "label": Value("int64"), "fold": Value("int64")})
    return Dataset.from_list(rows, features=features), skipped


def random_crop_transform(num_samples: int, seed: int = 0) -> Callable[[dict], dict]:
    """
    A `set_transform` function cropping each waveform to a random `num_samples` window (shorter ones kept).

    The generator is drawn from `seed` and torch's seed of the process at the first call, so DataLoader workers
    (each seeded differently by torch, anew every epoch) crop differently instead of repeating one sequence.
    """
    rng = None

    def crop(batch: dict) -> dict:
        nonlocal rng
        if rng is None:
            rng = np.random.default_rng([seed, torch.initial_seed() % 2**63])
        waveforms = []
        for waveform in batch[WAVEFORM_COLUMN]:
            waveform = np.asarray(waveform, dtype=np.float32)
            if waveform.shape[0] > num_samples:
                start = int(rng.integers(0, waveform.shape[0] - num_samples + 1))
                waveform = waveform[start : start + num_samples]
            waveforms.append(waveform)
        return {**batch, WAVEFORM_COLUMN: waveforms}

    return crop


@dataclass
class AudioClassificationCollator:
    """Turns `{"waveform", "label"}` examples into a padded batch through the feature extractor."""

    feature_extractor: SoundNetFeatureExtractor

    def __call__(self, examples: list[dict]) -> dict[str, torch.Tensor]:
        waveforms = [np.asarray(example[WAVEFORM_COLUMN], dtype=np.float32) for example in examples]
        batch = self.feature_extractor(
            waveforms, sampling_rate=self.feature_extractor.sampling_rate, padding=True, return_tensors="pt"
        )
        batch["labels"] = torch.tensor([example["label"] for example in examples], dtype=torch.long)
        return dict(batch)


def build_classifier(
    model_name_or_path: str, label_names: list[str], classifier_layer: str | None = None, **config_overrides
) -> SoundNetForAudioClassification:
    """
    A linear-head classifier over `label_names`: the trunk of a checkpoint (its conv8 heads, if any, are dropped) or,
    for a variant name with no such folder (`soundnet8`, `soundnet5`), randomly initialised.
    """
    labels = {
        "num_labels": len(label_names),
        "id2label": dict(enumerate(label_names)),
        "label2id": {name: i for i, name in enumerate(label_names)},
        "classifier_type": "linear",
        "classifier_layer": classifier_layer,
        "problem_type": "single_label_classification",
        **config_overrides,
    }
    if not Path(model_name_or_path).exists() and model_name_or_path in SOUNDNET_VARIANTS:
        return SoundNetForAudioClassification(SoundNetConfig.from_variant(model_name_or_path, **labels))
    # The standard recipe: asking a `pretrained_heads` checkpoint for new labels drops its heads (and logs it).
    return SoundNetForAudioClassification.from_pretrained(model_name_or_path, **labels)


def accuracy_metric() -> Callable:
    """`compute_metrics` for the Trainer: accuracy of the argmax through the local `evaluate` module."""
    from .metrics import load

    metric = load("accuracy")

    def compute_metrics(prediction) -> dict[str, float]:
        logits, labels = prediction.predictions, prediction.label_ids
        logits = logits[0] if isinstance(logits, tuple) else logits
        return metric.compute(predictions=np.argmax(logits, axis=-1), references=labels)

    return compute_metrics


__all__ = [
    "WAVEFORM_COLUMN",
    "AudioClassificationCollator",
    "accuracy_metric",
    "build_classifier",
    "decode_labelled_audio",
    "random_crop_transform",
]
