"""Parity of the converted released weights with an independent computation, on a real recording.

The reference is `hf_soundnet/conversion/reference_numpy.py`: a float64 NumPy forward that reads the original `sound8.npy`
(TensorFlow layout, original keys) and shares no code with `hf_soundnet`. The audio is decoded with soundfile
(libsndfile), not with the torchcodec path under test.
"""

import numpy as np
import pytest
import soundfile
import torch
from transformers import AutoFeatureExtractor, AutoModelForAudioClassification, pipeline

import hf_soundnet
from hf_soundnet.categories import object_labels, scene_labels
from hf_soundnet.conversion.reference_numpy import clip_probabilities, load_sound8


pytestmark = [pytest.mark.slow, pytest.mark.numeric]
# The float32 pipeline against the float64 reference. A float32 sum of K products in another order (another CPU
# kernel, another GEMM blocking) differs by ~sqrt(K) * 2^-24 of the sum of |products| typically and K * 2^-24 at
# worst; SoundNet-8's largest K is 8 x 1,024 = 8,192 (the heads), so a logit of magnitude ~10-100 moves by ~1e-5
# typically, and a softmax probability p by at most 2 * p * max |d logit|. Averaged over the clip's steps, 1e-4 is
# ~10x that typical error on any kernel (measured here: ~1e-5 at AVX2 and baseline), while a wrong weight or
# layout moves probabilities by 1e-2 and more.
ATOL = 1e-4
# The same comparison with the model in float64 (the float32 weights are exact in float64): only float64 rounding
# is left (~1e-15), so a tight tolerance tests the converted weights, not the CPU.
ATOL_FLOAT64 = 1e-10


@pytest.fixture(scope="module")
def railroad(audio_dir):
    waveform, rate = soundfile.read(audio_dir / "railroad.wav", dtype="float32", always_2d=True)
    assert rate == 22050 and waveform.shape[1] == 1
    return waveform[:, 0]


@pytest.fixture(scope="module")
def reference(sound8_npy, railroad):
    return clip_probabilities(load_sound8(str(sound8_npy)), railroad * 256.0)


def test_auto_classes_match_the_reference(released_checkpoint, railroad, reference):
    extractor = AutoFeatureExtractor.from_pretrained(released_checkpoint)
    model = AutoModelForAudioClassification.from_pretrained(released_checkpoint).eval()
    inputs = extractor(railroad, sampling_rate=22050, return_tensors="pt")
    with torch.inference_mode():
        objects, scenes = model.double().clip_probabilities(inputs["input_values"].double())
    np.testing.assert_allclose(objects[0].numpy(), reference["objects"], rtol=0, atol=ATOL_FLOAT64)
    np.testing.assert_allclose(scenes[0].numpy(), reference["scenes"], rtol=0, atol=ATOL_FLOAT64)


@pytest.mark.parametrize("pipeline_class", [None, hf_soundnet.SoundNetAudioClassificationPipeline])
def test_pipeline_on_the_file_gives_the_reference_probabilities(
    released_checkpoint, audio_dir, reference, pipeline_class
):
    kwargs = {"pipeline_class": pipeline_class} if pipeline_class else {}
    classifier = pipeline("audio-classification", model=str(released_checkpoint), **kwargs)
    predictions = classifier(str(audio_dir / "railroad.wav"), top_k=None)
    scores = {p["label"]: p["score"] for p in predictions}
    assert len(scores) == 1401
    objects = np.array([scores[f"object: {name}"] for name in object_labels()])
    scenes = np.array([scores[f"scene: {name}"] for name in scene_labels()])
    np.testing.assert_allclose(objects, reference["objects"], atol=ATOL)
    np.testing.assert_allclose(scenes, reference["scenes"], atol=ATOL)
    top_scene = max((p for p in predictions if p["label"].startswith("scene: ")), key=lambda p: p["score"])
    assert top_scene["label"] == "scene: railroad_track"
