"""The standard transformers fine-tuning recipe on a SoundNet checkpoint with pretrained heads.

`AutoModelForAudioClassification.from_pretrained(ckpt, num_labels=N, id2label=..., label2id=...)` must give a linear
classifier on the pretrained trunk, and the plain `transformers.Trainer` must train it with no SoundNet code.
"""

import math

import numpy as np
import pytest
import torch
from conftest import TINY_CONFIG, released_style_tiny_config
from transformers import (
    AutoConfig,
    AutoModelForAudioClassification,
    Trainer,
    TrainingArguments,
)
from transformers.testing_utils import CaptureLogger

import hf_soundnet.configuration_soundnet
from hf_soundnet import SoundNetForAudioClassification


TINY = TINY_CONFIG  # the tiny architecture of conftest's `tiny_config`
LABELS = ["dog", "rain", "siren"]
ID2LABEL = dict(enumerate(LABELS))
LABEL2ID = {name: i for i, name in enumerate(LABELS)}


@pytest.fixture(scope="module")
def heads_checkpoint(tmp_path_factory):
    """A tiny random model saved exactly as the released one is: pretrained heads, multi-label, 8 named labels."""
    config = released_style_tiny_config()
    torch.manual_seed(0)
    model = SoundNetForAudioClassification(config)
    path = tmp_path_factory.mktemp("heads_checkpoint")
    model.save_pretrained(path)
    return path


def _assert_linear_on_pretrained_trunk(model, checkpoint):
    reference = SoundNetForAudioClassification.from_pretrained(checkpoint)
    assert reference.config.classifier_type == "pretrained_heads"
    assert model.config.classifier_type == "linear" and model.config.problem_type is None
    assert model.config.id2label == ID2LABEL and model.config.label2id == LABEL2ID
    assert not hasattr(model, "object_head") and not hasattr(model, "scene_head")
    assert model.classifier.out_features == 3
    for name, value in reference.soundnet.state_dict().items():
        torch.testing.assert_close(model.soundnet.state_dict()[name], value, rtol=0, atol=0)


def test_from_pretrained_with_new_labels_gives_a_linear_classifier(heads_checkpoint):
    with CaptureLogger(hf_soundnet.configuration_soundnet.logger) as captured:
        model = AutoModelForAudioClassification.from_pretrained(
            heads_checkpoint, num_labels=3, id2label=ID2LABEL, label2id=LABEL2ID
        )
    assert isinstance(model, SoundNetForAudioClassification)
    assert captured.out.count("are dropped") == 1
    _assert_linear_on_pretrained_trunk(model, heads_checkpoint)


def test_auto_config_then_from_pretrained_and_from_config(heads_checkpoint):
    config = AutoConfig.from_pretrained(heads_checkpoint, num_labels=3, id2label=ID2LABEL, label2id=LABEL2ID)
    model = AutoModelForAudioClassification.from_pretrained(heads_checkpoint, config=config)
    _assert_linear_on_pretrained_trunk(model, heads_checkpoint)
    fresh = AutoModelForAudioClassification.from_config(config)
    assert isinstance(fresh, SoundNetForAudioClassification) and fresh.classifier.out_features == 3


def test_explicit_linear_classifier_type(heads_checkpoint):
    model = AutoModelForAudioClassification.from_pretrained(
        heads_checkpoint, num_labels=3, id2label=ID2LABEL, label2id=LABEL2ID, classifier_type="linear"
    )
    _assert_linear_on_pretrained_trunk(model, heads_checkpoint)


def _toy_dataset(num_examples: int, num_samples: int, seed: int):
    """Three classes told apart by the pitch of a tone in noise, as `datasets` rows the default collator batches."""
    from datasets import Dataset

    rng = np.random.default_rng(seed)
    time = np.arange(num_samples) / 22050
    rows = {"input_values": [], "labels": []}
    for i in range(num_examples):
        label = i % 3
        tone = np.sin(2 * np.pi * (200.0 * 4**label) * time + rng.uniform(0, 2 * np.pi))
        rows["input_values"].append((64 * tone + 16 * rng.standard_normal(num_samples)).astype(np.float32))
        rows["labels"].append(label)
    return Dataset.from_dict(rows)


def test_plain_trainer_fine_tunes_the_recipe_model(heads_checkpoint, tmp_path):
    """The model card's recipe, with `transformers.Trainer` and its default collator: nothing from SoundNet."""
    model = AutoModelForAudioClassification.from_pretrained(
        heads_checkpoint, num_labels=3, id2label=ID2LABEL, label2id=LABEL2ID
    )
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    dataset = _toy_dataset(24, 4096, seed=0)
    args = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=30,
        per_device_train_batch_size=6,
        per_device_eval_batch_size=12,
        learning_rate=3e-2,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=0,
        dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=args, train_dataset=dataset, eval_dataset=dataset)
    initial = trainer.evaluate()["eval_loss"]
    trainer.train()
    final = trainer.evaluate()["eval_loss"]

    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 30 and all(math.isfinite(loss) for loss in losses)
    assert final < initial, (initial, final)
    changed = [name for name, p in model.named_parameters() if not torch.equal(p.detach(), before[name])]
    assert any(name.startswith("classifier.") for name in changed)
    assert any(name.startswith("soundnet.") for name in changed)


@pytest.mark.slow
def test_plain_trainer_steps_on_the_released_checkpoint(released_checkpoint, tmp_path):
    """Two Trainer steps of the recipe on the released weights: finite loss, heads gone, trunk trained."""
    model = AutoModelForAudioClassification.from_pretrained(
        released_checkpoint, num_labels=3, id2label=ID2LABEL, label2id=LABEL2ID
    )
    assert model.classifier.in_features == 1024 and not hasattr(model, "object_head")
    before = model.soundnet.blocks[0].conv.weight.detach().clone()
    args = TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=2,
        per_device_train_batch_size=3,
        learning_rate=1e-3,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
    )
    # 3 s clips: conv7 gives 21 frames, enough for the mean pooling of the linear classifier.
    trainer = Trainer(model=model, args=args, train_dataset=_toy_dataset(6, 3 * 22050, seed=1))
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
    assert not torch.equal(model.soundnet.blocks[0].conv.weight.detach(), before)
