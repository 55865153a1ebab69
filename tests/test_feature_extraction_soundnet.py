import logging

import numpy as np
import pytest
import torch

from hf_soundnet import SoundNetFeatureExtractor


@pytest.fixture
def extractor():
    return SoundNetFeatureExtractor()


def long_clip(seconds=12.0, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, int(22050 * seconds)).astype(np.float32)


def test_scales_float_audio_by_256(extractor):
    clip = long_clip()
    out = extractor(clip, sampling_rate=22050, return_tensors="np")
    np.testing.assert_allclose(out["input_values"][0], clip * 256, rtol=1e-6)
    assert out["input_values"].dtype == np.float32


def test_float64_becomes_float32(extractor):
    out = extractor(long_clip().astype(np.float64), sampling_rate=22050, return_tensors="pt")
    assert out["input_values"].dtype == torch.float32


def test_wrong_sampling_rate_raises_with_advice(extractor):
    with pytest.raises(ValueError, match=r"44100 Hz.*22050 Hz.*resample"):
        extractor(long_clip(), sampling_rate=44100)


def test_missing_sampling_rate_warns(extractor, caplog):
    with caplog.at_level(logging.WARNING):
        extractor(long_clip())
    assert "No `sampling_rate`" in caplog.text


@pytest.mark.parametrize(
    "dtype, full_scale, offset",
    [(np.int16, 32768.0, 0.0), (np.int32, 2147483648.0, 0.0), (np.int8, 128.0, 0.0), (np.uint8, 128.0, 128.0)],
)
def test_integer_pcm_is_scaled_by_full_scale(extractor, dtype, full_scale, offset):
    info = np.iinfo(dtype)
    pcm = np.random.default_rng(1).integers(info.min, info.max, 22050 * 11, dtype=np.int64).astype(dtype)
    out = extractor(pcm, sampling_rate=22050, return_tensors="np")["input_values"][0]
    expected = (pcm.astype(np.float64) - offset) / full_scale * 256
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-4)
    assert np.abs(out).max() <= 256


def test_stereo_first_channel_by_default_and_mean_on_request(tmp_path):
    left, right = long_clip(seed=1), long_clip(seed=2)
    stereo = np.stack([left, right])
    first = SoundNetFeatureExtractor()([stereo], sampling_rate=22050, return_tensors="np")["input_values"][0]
    np.testing.assert_allclose(first, left * 256, rtol=1e-6)
    mean_extractor = SoundNetFeatureExtractor(channel_mode="mean")
    mean = mean_extractor([stereo], sampling_rate=22050, return_tensors="np")["input_values"][0]
    np.testing.assert_allclose(mean, (left + right) / 2 * 256, rtol=1e-5, atol=1e-5)
    # The choice is saved with the extractor.
    mean_extractor.save_pretrained(tmp_path)
    assert SoundNetFeatureExtractor.from_pretrained(tmp_path).channel_mode == "mean"


def test_samples_by_channels_layout_is_rejected(extractor):
    with pytest.raises(ValueError, match="num_channels, num_samples"):
        extractor([np.zeros((22050 * 11, 2), np.float32)], sampling_rate=22050)


def test_unknown_channel_mode_raises():
    with pytest.raises(ValueError, match="channel_mode"):
        SoundNetFeatureExtractor(channel_mode="left")


def test_short_clips_are_repeated_whole_to_ten_seconds(extractor):
    clip = np.random.default_rng(3).uniform(-1, 1, 30000).astype(np.float32)  # 1.36 s
    out = extractor(clip, sampling_rate=22050, return_tensors="np")["input_values"][0]
    copies = -(-220500 // 30000)  # ceil: 8 whole copies, 240,000 samples >= 10 s
    covered = 264958  # then continued to the end of the conv8 step's field (tests/test_short_clips.py)
    assert out.shape == (covered,)
    for i in range(copies):
        np.testing.assert_array_equal(out[i * 30000 : (i + 1) * 30000], clip * 256)
    np.testing.assert_array_equal(out[copies * 30000 :], clip[: covered - copies * 30000] * 256)
    disabled = SoundNetFeatureExtractor(repeat_to_seconds=None)(clip, sampling_rate=22050, return_tensors="np")
    assert disabled["input_values"].shape == (1, 30000)


def test_batch_padding_and_attention_mask(extractor):
    clips = [long_clip(11, 1), long_clip(12, 2)]
    out = extractor(clips, sampling_rate=22050, return_tensors="pt")
    assert out["input_values"].shape == (2, 22050 * 12)
    assert out["attention_mask"][0].sum() == 22050 * 11 and out["attention_mask"][1].sum() == 22050 * 12
    assert torch.all(out["input_values"][0, 22050 * 11 :] == 0)
    np_out = extractor(clips, sampling_rate=22050, return_tensors="np")
    assert isinstance(np_out["input_values"], np.ndarray)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_audio_raises(extractor, bad):
    clip = long_clip()
    clip[100] = bad
    with pytest.raises(ValueError, match="NaN or Inf"):
        extractor(clip, sampling_rate=22050)


def test_empty_audio_raises(extractor):
    with pytest.raises(ValueError, match="empty"):
        extractor(np.zeros(0, np.float32), sampling_rate=22050)
