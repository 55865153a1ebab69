"""Local evaluate metrics, the fine-tuning parts, and fine-tuning end to end on an ESC-50-layout folder."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _helpers_downstream import make_esc50_folder, run_script
from conftest import REPO_ROOT

from hf_soundnet import SoundNetFeatureExtractor
from hf_soundnet.downstream.finetuning import AudioClassificationCollator, build_classifier, random_crop_transform


def test_local_accuracy_module_offline_agrees_with_sklearn():
    import evaluate
    from sklearn.metrics import accuracy_score

    from hf_soundnet.downstream.metrics import module_path

    rng = np.random.default_rng(0)
    predictions, references = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    weights = rng.random(200)
    metric = evaluate.load(module_path("accuracy"))
    assert metric.compute(predictions=predictions, references=references)["accuracy"] == pytest.approx(
        accuracy_score(references, predictions)
    )
    weighted = metric.compute(predictions=predictions, references=references, sample_weight=weights)
    assert weighted["accuracy"] == pytest.approx(accuracy_score(references, predictions, sample_weight=weights))
    count = metric.compute(predictions=predictions, references=references, normalize=False)
    assert count["accuracy"] == accuracy_score(references, predictions, normalize=False)
    for start in range(0, 200, 50):  # incremental batches, as the Trainer's evaluation loop can feed them
        metric.add_batch(predictions=predictions[start : start + 50], references=references[start : start + 50])
    assert metric.compute()["accuracy"] == pytest.approx(accuracy_score(references, predictions))


def test_import_hf_soundnet_stays_light():
    code = "import sys, hf_soundnet, hf_soundnet.downstream.metrics; print(sorted({m.split('.')[0] for m in sys.modules}))"
    modules = json.loads(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.replace(
            "'", '"'
        )
    )
    assert not {"datasets", "evaluate", "sklearn"} & set(modules)  # transformers itself may import accelerate


def test_collator_crop_and_classifier(tiny_config):
    extractor = SoundNetFeatureExtractor(repeat_to_seconds=0)
    crop = random_crop_transform(500, seed=0)
    batch = crop({"waveform": [np.ones(2000, np.float32), np.ones(300, np.float32)], "label": [0, 1]})
    assert [len(w) for w in batch["waveform"]] == [500, 300]
    collated = AudioClassificationCollator(extractor)(
        [{"waveform": w, "label": label} for w, label in zip(batch["waveform"], batch["label"])]
    )
    assert collated["input_values"].shape == (2, 500) and collated["labels"].tolist() == [0, 1]
    assert collated["attention_mask"][1].sum() == 300
    assert float(collated["input_values"][0, 0]) == 256.0  # scaled like inference


def test_build_classifier_from_released_style_checkpoint(tiny_config, tmp_path):
    from hf_soundnet import SoundNetConfig, SoundNetForAudioClassification

    heads = SoundNetConfig(**{**tiny_config.to_dict(), "classifier_type": "pretrained_heads", "num_labels": 8})
    released = SoundNetForAudioClassification(heads)
    released.save_pretrained(tmp_path)
    model = build_classifier(str(tmp_path), ["a", "b", "c"], "pool1")
    assert model.config.classifier_type == "linear" and model.config.num_labels == 3
    assert model.config.id2label == {0: "a", 1: "b", 2: "c"}
    torch.testing.assert_close(model.soundnet.blocks[0].conv.weight, released.soundnet.blocks[0].conv.weight)
    assert model.classifier.in_features == tiny_config.conv_channels[0]


@pytest.mark.slow
def test_finetune_esc50_folder_above_chance(released_checkpoint, audio_dir, tmp_path):
    data = make_esc50_folder(tmp_path / "esc50", audio_dir)
    output = tmp_path / "run"
    args = [str(REPO_ROOT / "examples" / "finetune.py"), "--data", str(data), "--model", str(released_checkpoint)]
    args += ["--classifier_layer", "pool5", "--output_dir", str(output), "--num_train_epochs", "3"]
    args += ["--learning_rate", "1e-3", "--per_device_train_batch_size", "8", "--save_strategy", "no"]
    args += ["--report_to", "none", "--num_workers", "1", "--crop_seconds", "1.5", "--seed", "0"]
    result = run_script(args)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((output / "eval_results.json").read_text())
    assert metrics["eval_accuracy"] > 0.6  # 3 classes: chance is 1/3; 6 held-out clips of fold 5

    # The saved model is a normal audio-classification checkpoint with its feature extractor.
    from transformers import pipeline

    classifier = pipeline("audio-classification", model=str(output))
    assert set(classifier.model.config.id2label.values()) == {"railroad", "forest_track", "short_stereo_48k"}
    assert Path(output / "preprocessor_config.json").is_file()


def test_esc50_folder_has_no_other_split(audio_dir, tmp_path):
    """An ESC-50-layout folder is one table: asking it for an evaluation split is an error, not the training data."""
    from hf_soundnet.downstream.labelled_audio import load_labelled_audio

    data = make_esc50_folder(tmp_path / "esc50", audio_dir)
    assert len(load_labelled_audio(str(data), split="train").labels) > 0
    with pytest.raises(ValueError, match="hold out a fold"):
        load_labelled_audio(str(data), split="test")
