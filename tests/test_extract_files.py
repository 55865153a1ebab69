"""`extract_files`, the library call behind `soundnet extract`: streamed and batched files against an independent eager
forward, a bad file reported among good ones, the caller's extractor untouched, torch threads per phase."""

from pathlib import Path

import numpy as np
import pytest
import torch
from test_cli import tiny_checkpoint  # noqa: F401 (fixture)
from transformers import AutoFeatureExtractor, AutoModel, AutoModelForAudioClassification, AutoModelForPreTraining

from hf_soundnet import SoundNetFeatureExtractor, load_audio
from hf_soundnet.fast_forward_soundnet import FastSoundNet
from hf_soundnet.inference.classify import classify_files
from hf_soundnet.inference.extract import ExtractedFeatures, ExtractionFailure, extract_files
from hf_soundnet.inference.parallelism import resolve_parallelism


RATE = 22050


def eager_features(checkpoint: Path, path: Path, layer: str, repeat: bool = True) -> np.ndarray:
    """Layer `layer` of one unpadded clip by the transformers models (every frame valid, nothing to cut): `(channels,
    frames)`. The clip is the first channel at 22,050 Hz x 256, short ones repeated as the extractor does."""
    extractor = SoundNetFeatureExtractor(continue_long_clips=False, repeat_to_seconds=10.0 if repeat else 0)
    waveform = extractor.repeat_short(load_audio(path, RATE)[0]) * np.float32(256.0)
    input_values = torch.from_numpy(waveform)[None]
    with torch.no_grad():
        if layer == "conv8":
            outputs = AutoModelForPreTraining.from_pretrained(checkpoint).eval()(input_values)
            return torch.cat([outputs.object_logits, outputs.scene_logits], -1)[0].T.numpy()
        trunk = AutoModel.from_pretrained(checkpoint).eval()
        hidden_states = trunk(input_values, output_hidden_states=True).hidden_states
        return hidden_states[trunk.config.layer_name_to_index[layer]][0].numpy()


@pytest.fixture
def files(audio_dir, tmp_path) -> dict[str, Path]:
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot audio at all" * 8)
    return {"long": audio_dir / "railroad.wav", "broken": broken, "short": audio_dir / "short_stereo_48k.wav"}


@pytest.mark.numeric
@pytest.mark.parametrize("layer", ["conv2", "conv8"])
def test_a_bad_file_fails_alone_and_the_others_equal_the_eager_model(
    tiny_checkpoint,  # noqa: F811
    files,
    layer,
    monkeypatch,
):
    built = []  # every FastSoundNet built (the real one), to see that streaming and batches share one
    from_model = FastSoundNet.from_model.__func__
    monkeypatch.setattr(
        FastSoundNet, "from_model", classmethod(lambda *a, **k: built.append(1) or from_model(*a, **k))
    )
    model = AutoModelForAudioClassification.from_pretrained(tiny_checkpoint).eval()
    extractor = AutoFeatureExtractor.from_pretrained(tiny_checkpoint)
    sources = [files["long"], files["broken"], files["short"]]
    plan = resolve_parallelism("cpu", num_workers=1)
    original, before = torch.get_num_threads(), plan.num_threads + plan.solo_threads + 3  # neither phase's count
    torch.set_num_threads(before)
    try:
        results, threads = [], []
        # railroad.wav (19.9 s) is over 15 s: streamed; the short clip and the broken file go to the batch path.
        for result in extract_files(
            model, extractor, sources, layer=layer, batch_size=2, num_workers=1, stream_longer_than=15.0
        ):
            results.append(result)
            threads.append(torch.get_num_threads())
        assert torch.get_num_threads() == before
    finally:
        torch.set_num_threads(original)

    assert [type(r) for r in results] == [ExtractedFeatures, ExtractionFailure, ExtractedFeatures]
    assert len(built) == 1
    streamed, failure, batched = results
    assert threads == [plan.solo_threads, plan.num_threads, plan.num_threads]
    assert failure.name == str(files["broken"]) and str(files["broken"]) in failure.error
    assert (streamed.name, streamed.streamed) == (str(files["long"]), True)
    assert (batched.name, batched.streamed) == (str(files["short"]), False)
    assert streamed.duration_s == pytest.approx(19.93, abs=0.01)
    assert batched.duration_s == pytest.approx(3.24, abs=0.01)  # before the repetition
    for result, key in ((streamed, "long"), (batched, "short")):
        expected = eager_features(tiny_checkpoint, files[key], layer)
        assert result.features.dtype == np.float32 and result.features.shape == expected.shape
        # Tiny model: sums of <= 32 products of magnitude ~1, in another order by the fast forward (and per chunk
        # when streamed): float32 rounding gives ~1e-6 on any kernel; 1e-4 as test_cli's extraction checks.
        np.testing.assert_allclose(result.features, expected, rtol=1e-4, atol=1e-4)


@pytest.mark.numeric
def test_no_repetition_leaves_the_callers_extractor_as_it_was(tiny_checkpoint, files):  # noqa: F811
    model = AutoModelForAudioClassification.from_pretrained(tiny_checkpoint).eval()
    extractor = AutoFeatureExtractor.from_pretrained(tiny_checkpoint)
    before = extractor.to_dict()
    (result,) = extract_files(
        model, extractor, [files["short"]], layer="conv2", num_workers=0, num_threads=1, repeat_short_clips=False
    )
    assert extractor.to_dict() == before
    expected = eager_features(tiny_checkpoint, files["short"], "conv2", repeat=False)
    assert result.features.shape == expected.shape  # 3.24 s of frames, not 10 s
    np.testing.assert_allclose(result.features, expected, rtol=1e-4, atol=1e-4)


def test_bad_arguments_raise_at_the_call(tiny_checkpoint, files):  # noqa: F811
    model = AutoModelForAudioClassification.from_pretrained(tiny_checkpoint).eval()
    extractor = AutoFeatureExtractor.from_pretrained(tiny_checkpoint)
    with pytest.raises(ValueError, match="Unknown layer 'conv9'"):
        extract_files(model, extractor, [files["short"]], layer="conv9")
    with pytest.raises(ValueError, match="head_output"):
        extract_files(model, extractor, [files["short"]], layer="conv8", head_output="softmax")
    with pytest.raises(ValueError, match="num_threads"):
        extract_files(model, extractor, [files["short"]], layer="conv2", num_threads=0)
    with pytest.raises(ValueError, match="1 names for 2 sources"):
        extract_files(model, extractor, [files["short"], files["long"]], layer="conv2", names=["a"])


def test_classify_files_sets_its_threads_while_it_runs_and_restores_them(tiny_checkpoint, files):  # noqa: F811
    model = AutoModelForAudioClassification.from_pretrained(tiny_checkpoint).eval()
    extractor = AutoFeatureExtractor.from_pretrained(tiny_checkpoint)
    original = torch.get_num_threads()
    torch.set_num_threads(5)
    try:
        records = classify_files(model, extractor, [files["short"]], num_workers=0, num_threads=3)
        assert torch.get_num_threads() == 5  # nothing runs before the first record is asked for
        next(records)
        assert torch.get_num_threads() == 3
        assert next(records, None) is None
        assert torch.get_num_threads() == 5
    finally:
        torch.set_num_threads(original)
