"""How a checkpoint selects its pipeline: the SoundNet pipeline with the plugin imported (no `trust_remote_code`), and
from the checkpoint's own code with `trust_remote_code=True` in a fresh interpreter where hf_soundnet cannot be
imported (`_helpers_hub.BlockPlugin`). Answers on a real stereo MP3 are compared with the plugin's, and with the
model run here on the file's first channel (the checkpoint's saved `channel_mode`).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO_ROOT, released_style_tiny_config
from transformers import AutoConfig, pipeline

from hf_soundnet import SoundNetAudioClassificationPipeline, SoundNetFeatureExtractor, SoundNetForAudioClassification
from hf_soundnet.configuration_soundnet import SOUNDNET_PIPELINES
from hf_soundnet.hub import check_checkpoint_folder


# The fresh interpreter: hf_soundnet blocked before transformers is imported, then the pipeline from the checkpoint's
# code; prints what it got as one JSON line.
REMOTE_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from _helpers_hub import block_plugin
block_plugin()
from transformers import pipeline

classify = pipeline("audio-classification", model=sys.argv[2], trust_remote_code=True)
files = sys.argv[3:]
print(json.dumps({
    "class": f"{type(classify).__module__}.{type(classify).__name__}",
    "model_class": f"{type(classify.model).__module__}.{type(classify.model).__name__}",
    "is_soundnet": classify.is_soundnet,
    "single": classify(files[0]),
    "batched": classify(files, batch_size=2, num_workers=2),
    "plugin_modules": sorted(name for name in sys.modules if name.split(".")[0] == "hf_soundnet"),
}))
"""


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """The tiny released-style model (pretrained heads, 5 objects + 3 scenes) with weights large enough for distinct
    scores, and a feature extractor that takes the first channel, saved with code (the plugin is imported)."""
    torch.manual_seed(0)
    model = SoundNetForAudioClassification(released_style_tiny_config()).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.5)
    folder = tmp_path_factory.mktemp("remote") / "tiny"
    model.save_pretrained(folder)
    SoundNetFeatureExtractor(channel_mode="first").save_pretrained(folder)
    return folder


def first_and_mean_channel(path: Path) -> tuple[np.ndarray, np.ndarray, int]:
    """The file's first channel and its channel mean, decoded by torchcodec at the file's own rate."""
    from torchcodec.decoders import AudioDecoder

    samples = AudioDecoder(str(path)).get_all_samples()
    data = samples.data.numpy()
    assert data.shape[0] == 2, "the test file must be stereo"
    return data[0], data.mean(0), samples.sample_rate


def per_head_answer(checkpoint: Path, waveform: np.ndarray, rate: int, k: int = 5) -> dict[str, float]:
    """The default answer computed here: the feature extractor and the model, then each head's top `k` of
    sigmoid(logits) (the clip's mean head probabilities)."""
    extractor = SoundNetFeatureExtractor.from_pretrained(checkpoint)
    model = SoundNetForAudioClassification.from_pretrained(checkpoint).eval()
    inputs = extractor({"array": waveform, "sampling_rate": rate}, return_tensors="pt")
    with torch.no_grad():
        probabilities = model(**inputs).logits[0].sigmoid()
    objects = model.config.num_object_classes
    answer = {}
    for start, stop in ((0, objects), (objects, probabilities.shape[0])):
        scores, ids = probabilities[start:stop].topk(min(k, stop - start))
        answer.update({model.config.id2label[start + i]: s for s, i in zip(scores.tolist(), ids.tolist())})
    return answer


def as_dict(predictions: list[dict]) -> dict[str, float]:
    return {p["label"]: p["score"] for p in predictions}


def assert_same_answer(got: list[dict], expected: dict[str, float]) -> None:
    assert [p["label"] for p in got] == list(expected)
    np.testing.assert_allclose([p["score"] for p in got], list(expected.values()), rtol=1e-4, atol=1e-5)


def test_checkpoint_declares_the_pipeline_and_the_plugin_needs_no_trust_remote_code(checkpoint, audio_dir):
    saved = json.loads((checkpoint / "config.json").read_text())
    assert saved["custom_pipelines"] == SOUNDNET_PIPELINES
    assert {"pipeline_soundnet.py", "decoding_soundnet.py", "errors.py"} <= {p.name for p in checkpoint.glob("*.py")}
    # With the plugin imported the registry already holds the declared class: the declaration is not read ...
    config = AutoConfig.from_pretrained(checkpoint)
    assert config.custom_pipelines == {}
    # ... so the plain call returns the plugin's pipeline without trust_remote_code.
    classify = pipeline("audio-classification", model=str(checkpoint))
    assert type(classify) is SoundNetAudioClassificationPipeline
    first, _, rate = first_and_mean_channel(audio_dir / "forest_track.mp3")
    assert_same_answer(classify(str(audio_dir / "forest_track.mp3")), per_head_answer(checkpoint, first, rate))


@pytest.mark.numeric
@pytest.mark.slow
def test_remote_code_pipeline_without_the_plugin_answers_like_the_plugin(checkpoint, audio_dir, tmp_path):
    forest, railroad = audio_dir / "forest_track.mp3", audio_dir / "railroad.wav"
    first, mean, rate = first_and_mean_channel(forest)
    expected_first = per_head_answer(checkpoint, first, rate)
    # The test can tell the channel policies apart: the mean of the channels gives other scores.
    expected_mean = per_head_answer(checkpoint, mean, rate)
    assert max(abs(expected_first[label] - expected_mean.get(label, 0.0)) for label in expected_first) > 1e-3
    plugin = pipeline("audio-classification", model=str(checkpoint))
    plugin_answers = [plugin(str(forest)), plugin(str(railroad))]

    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_MODULES_CACHE": str(tmp_path / "modules"),
    }
    args = [str(REPO_ROOT / "tests"), str(checkpoint), str(forest), str(railroad)]
    result = subprocess.run(
        [sys.executable, "-c", REMOTE_SCRIPT, *args], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-4000:]
    remote = json.loads(result.stdout.strip().splitlines()[-1])

    assert remote["plugin_modules"] == []
    assert remote["class"].startswith("transformers_modules.")
    assert remote["class"].endswith("pipeline_soundnet.SoundNetAudioClassificationPipeline")
    assert remote["model_class"].endswith("modeling_soundnet.SoundNetForAudioClassification")
    assert remote["is_soundnet"]
    assert_same_answer(remote["single"], expected_first)
    assert_same_answer(remote["single"], as_dict(plugin_answers[0]))
    assert len(remote["batched"]) == 2
    for got, expected in zip(remote["batched"], plugin_answers):
        assert_same_answer(got, as_dict(expected))


def test_push_check_warns_about_a_checkpoint_saved_before_the_pipeline_declaration(checkpoint, tmp_path, capsys):
    check_checkpoint_folder(checkpoint)
    assert "custom_pipelines" not in capsys.readouterr().err
    old = tmp_path / "old"
    old.mkdir()
    for path in checkpoint.iterdir():
        (old / path.name).write_bytes(path.read_bytes())
    config = json.loads((old / "config.json").read_text())
    del config["custom_pipelines"]
    (old / "config.json").write_text(json.dumps(config))
    check_checkpoint_folder(old)
    assert "declares no custom_pipelines" in capsys.readouterr().err
