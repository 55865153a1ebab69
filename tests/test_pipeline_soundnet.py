"""transformers' audio-classification pipeline serving the released model: inputs of every kind, batches, errors."""

import numpy as np
import pytest
import soundfile
import torch
import torchaudio
from transformers import pipeline

import hf_soundnet


def top(predictions: list[dict], prefix: str) -> str:
    return max((p for p in predictions if p["label"].startswith(prefix)), key=lambda p: p["score"])["label"]


def as_dict(predictions: list[dict]) -> dict[str, float]:
    return {p["label"]: p["score"] for p in predictions}


@pytest.fixture(scope="module")
def classifier(released_checkpoint):
    return pipeline("audio-classification", model=str(released_checkpoint))


@pytest.fixture(scope="module")
def railroad(audio_dir) -> np.ndarray:
    waveform, rate = soundfile.read(audio_dir / "railroad.wav", dtype="float32")
    assert rate == 22050
    return waveform


def test_file_path_top_scenes_of_the_real_recordings(classifier, audio_dir):
    assert top(classifier(str(audio_dir / "railroad.wav"), top_k=None), "scene: ") == "scene: railroad_track"
    assert top(classifier(str(audio_dir / "forest_track.mp3"), top_k=None), "scene: ") == "scene: forest_path"


def test_top_k_returns_named_categories_sorted(classifier, audio_dir):
    predictions = classifier(str(audio_dir / "railroad.wav"), top_k=5)
    assert len(predictions) == 5
    scores = [p["score"] for p in predictions]
    assert scores == sorted(scores, reverse=True)
    assert all(p["label"].startswith(("object: ", "scene: ")) for p in predictions)


@pytest.mark.numeric
def test_array_equals_file(classifier, audio_dir, railroad):
    from_file = as_dict(classifier(str(audio_dir / "railroad.wav"), top_k=None))
    from_array = as_dict(classifier(railroad, top_k=None))
    for label, score in from_file.items():
        assert from_array[label] == pytest.approx(score, abs=1e-5)


def test_dict_at_another_sampling_rate_is_resampled(classifier, railroad):
    at_44k = torchaudio.functional.resample(torch.from_numpy(railroad), 22050, 44100).numpy()
    native = as_dict(classifier(railroad, top_k=None))
    resampled = as_dict(classifier({"array": at_44k, "sampling_rate": 44100}, top_k=None))
    assert top(classifier({"array": at_44k, "sampling_rate": 44100}, top_k=None), "scene: ") == "scene: railroad_track"
    # Up- then down-sampling is not the identity, so the agreement is close, not exact.
    assert max(abs(native[label] - resampled[label]) for label in native) < 5e-3


def test_batch_equals_single_calls(classifier, audio_dir, railroad):
    inputs = [str(audio_dir / "forest_track.mp3"), railroad[: 5 * 22050], railroad]
    singles = [as_dict(classifier(x, top_k=None)) for x in inputs]
    batched = classifier(inputs, top_k=None, batch_size=3)
    assert len(batched) == 3
    for single, got in zip(singles, batched):
        got = as_dict(got)
        assert max(abs(single[label] - got[label]) for label in single) < 1e-4


def test_short_clip_is_repeated_to_ten_seconds(classifier, railroad):
    """A 3 s clip is repeated whole up to at least 10 s (4 copies, 12 s), as the original did."""
    clip = railroad[: 3 * 22050]
    tiled = np.concatenate([clip] * 4)
    short = as_dict(classifier(clip, top_k=None))
    long = as_dict(classifier(tiled, top_k=None))
    assert max(abs(short[label] - long[label]) for label in short) < 1e-5


def test_stereo_48k_file_with_the_torchcodec_pipeline(released_checkpoint, audio_dir):
    """The SoundNet pipeline decodes in-process and keeps the original's first channel."""
    path = audio_dir / "short_stereo_48k.wav"
    classifier = pipeline(
        "audio-classification",
        model=str(released_checkpoint),
        pipeline_class=hf_soundnet.SoundNetAudioClassificationPipeline,
    )
    stereo, rate = soundfile.read(path, dtype="float32", always_2d=True)
    assert rate == 48000 and stereo.shape[1] == 2
    first = torchaudio.functional.resample(torch.from_numpy(stereo[:, 0].copy()), 48000, 22050).numpy()
    expected = as_dict(classifier(first, top_k=None))
    got = as_dict(classifier(str(path), top_k=None))
    assert max(abs(expected[label] - got[label]) for label in expected) < 2e-3


@pytest.mark.parametrize(
    ("content", "problem"),
    [(b"", "empty file"), (b"RIFF\x10\x00\x00\x00WAVEfmt garbage" * 10, "cannot decode audio")],
)
def test_bad_file_names_the_file_and_the_problem(released_checkpoint, tmp_path, content, problem):
    path = tmp_path / "broken.wav"
    path.write_bytes(content)
    classifier = pipeline(
        "audio-classification",
        model=str(released_checkpoint),
        pipeline_class=hf_soundnet.SoundNetAudioClassificationPipeline,
    )
    with pytest.raises(hf_soundnet.AudioLoadError, match=problem) as error:
        classifier(str(path))
    assert str(path) in str(error.value)


def test_nan_waveform_is_a_clear_error(classifier, railroad):
    bad = railroad.copy()
    bad[100] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        classifier(bad)
