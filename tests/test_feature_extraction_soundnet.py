import logging

import numpy as np
import pytest
import soundfile
import torch

from hf_soundnet import SoundNetFeatureExtractor, load_audio
from hf_soundnet.feature_extraction_soundnet import MAX_CHANNELS_LAST


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


def test_samples_by_many_channels_layout_is_rejected(extractor):
    """More than MAX_CHANNELS_LAST columns is not read as channels-last: a clear error, not a guess."""
    with pytest.raises(ValueError, match="num_channels, num_samples"):
        extractor([np.zeros((22050 * 11, MAX_CHANNELS_LAST + 1), np.float32)], sampling_rate=22050)


@pytest.mark.parametrize("num_samples", [300, 22050 * 11])
def test_bare_channels_last_array_is_one_clip(extractor, caplog, num_samples):
    """soundfile's `(num_samples, 2)` layout passed bare: one clip (its first channel), with a warning, not a batch of
    `num_samples` clips of 2 samples (22,050 x 2 used to ask for ~19 GB)."""
    stereo = np.random.default_rng(4).uniform(-1, 1, (num_samples, 2)).astype(np.float32)
    with caplog.at_level(logging.WARNING):
        got = extractor(stereo, sampling_rate=22050, return_tensors="np")["input_values"]
    assert "channels-last" in caplog.text
    expected = extractor([np.ascontiguousarray(stereo.T)], sampling_rate=22050, return_tensors="np")["input_values"]
    assert got.shape == expected.shape and got.shape[0] == 1
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(got[0, :num_samples], stereo[:, 0] * 256)


def test_channels_last_inside_a_list_is_transposed_too(extractor, caplog):
    stereo = np.random.default_rng(5).uniform(-1, 1, (22050 * 11, 2)).astype(np.float32)
    with caplog.at_level(logging.WARNING):
        got = extractor([stereo], sampling_rate=22050, return_tensors="np")["input_values"][0]
    assert "channels-last" in caplog.text
    np.testing.assert_array_equal(got, stereo[:, 0] * 256)


def test_wide_2d_array_stays_a_batch_of_mono_clips(extractor, caplog):
    """transformers' convention for a single 2-D array is kept when it is not channels-last."""
    batch = np.random.default_rng(6).uniform(-1, 1, (2, 22050 * 11)).astype(np.float32)
    with caplog.at_level(logging.WARNING):
        got = extractor(batch, sampling_rate=22050, return_tensors="np")["input_values"]
    assert "channels-last" not in caplog.text
    np.testing.assert_array_equal(got, batch * 256)


@pytest.mark.parametrize("scale", [32767.0, 1e6, 5.0])
def test_float_samples_far_outside_unit_range_are_refused(extractor, scale):
    clip = long_clip() * np.float32(scale)
    with pytest.raises(ValueError, match=r"clip 0: float samples must lie in \[-1, 1\].*Divide"):
        extractor(clip, sampling_rate=22050)


def test_float_samples_slightly_over_full_scale_warn(extractor, caplog):
    clip = long_clip() * np.float32(1.5)
    with caplog.at_level(logging.WARNING):
        out = extractor(clip, sampling_rate=22050, return_tensors="np")["input_values"][0]
    assert "peak is 1.5" in caplog.text
    np.testing.assert_allclose(out, clip * 256, rtol=1e-6)


def test_full_scale_float_and_int16_do_not_warn(extractor, caplog):
    clip = long_clip()
    clip[0] = 1.0
    pcm = (long_clip(seed=7) * 32767).astype(np.int16)
    with caplog.at_level(logging.WARNING):
        extractor([clip, pcm], sampling_rate=22050)
    assert "peak" not in caplog.text


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


# `datasets` Audio values: real Datasets built from the shared recordings, decoded by datasets' own AudioDecoder.


@pytest.fixture(scope="module")
def audio_dataset(audio_dir):
    datasets = pytest.importorskip("datasets")
    files = [
        str(audio_dir / "railroad.wav"),
        str(audio_dir / "forest_track.mp3"),
        str(audio_dir / "short_stereo_48k.wav"),
    ]
    return datasets.Dataset.from_dict({"audio": files}).cast_column("audio", datasets.Audio())


def test_decoded_dataset_value_equals_the_file_decoded_independently(extractor, audio_dataset, audio_dir):
    value = audio_dataset[0]["audio"]
    assert type(value).__module__ == "datasets.features._torchcodec"  # datasets' AudioDecoder subclass
    waveform, rate = soundfile.read(audio_dir / "railroad.wav", dtype="float32")
    assert rate == 22050
    expected = extractor(waveform, sampling_rate=22050, return_tensors="np")["input_values"]
    # No `sampling_rate` argument needed: the decoder carries its rate.
    got = extractor(value, return_tensors="np")["input_values"]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("channel_mode", ["first", "mean"])
def test_multichannel_decoder_follows_channel_mode_and_is_resampled(audio_dataset, audio_dir, channel_mode):
    """A 48 kHz stereo file through datasets: the extractor's `channel_mode` picks the channel(s), then soxr
    resamples to 22,050 Hz; compared with soundfile's decoding reduced and resampled here."""
    import soxr

    extractor = SoundNetFeatureExtractor(channel_mode=channel_mode, repeat_to_seconds=None)
    stereo, rate = soundfile.read(audio_dir / "short_stereo_48k.wav", dtype="float32", always_2d=True)
    assert rate == 48000 and stereo.shape[1] == 2
    assert not np.allclose(stereo[:, 0], stereo[:, 1])  # the modes give different answers on this file
    mono = stereo[:, 0] if channel_mode == "first" else stereo.mean(axis=1)
    expected = soxr.resample(mono, 48000, 22050, quality="HQ") * 256
    got = extractor(audio_dataset[2]["audio"], return_tensors="np")["input_values"][0]
    assert got.shape == expected.shape
    # soundfile and FFmpeg decode 16-bit PCM WAV to the same floats; the mean may round differently (float32).
    np.testing.assert_allclose(got, expected, rtol=0, atol=256 * 1e-6)


def test_dict_value_at_any_rate_is_resampled(extractor, audio_dir):
    import soxr

    stereo, rate = soundfile.read(audio_dir / "short_stereo_48k.wav", dtype="float32", always_2d=True)
    first = np.ascontiguousarray(stereo[:, 0])
    got = extractor({"array": first, "sampling_rate": rate, "path": None}, return_tensors="np")["input_values"][0]
    expected = extractor(soxr.resample(first, rate, 22050, quality="HQ"), sampling_rate=22050, return_tensors="np")
    np.testing.assert_array_equal(got, expected["input_values"][0])
    # A (channels, samples) array in the dict follows channel_mode like any multi-channel clip.
    two = extractor({"array": np.ascontiguousarray(stereo.T), "sampling_rate": rate}, return_tensors="np")
    np.testing.assert_array_equal(two["input_values"][0], got)


def test_dict_without_rate_is_a_clear_error(extractor):
    with pytest.raises(ValueError, match="sampling_rate"):
        extractor({"array": long_clip()})


def test_dataset_map_batched_equals_per_clip(extractor, audio_dataset, audio_dir):
    """`ds.map(extractor, batched=True)`: the padded batch of every file, each equal to its own extraction."""
    mapped = audio_dataset.map(
        lambda batch: extractor(batch["audio"]), batched=True, batch_size=3, remove_columns=["audio"]
    )
    assert mapped.column_names == ["input_values", "attention_mask"]
    # The extractor itself as the function, fed the column.
    direct = audio_dataset.map(extractor, batched=True, batch_size=3, input_columns="audio", remove_columns=["audio"])
    assert direct["input_values"] == mapped["input_values"]
    for i, name in enumerate(["railroad.wav", "forest_track.mp3", "short_stereo_48k.wav"]):
        single = extractor(
            load_audio(audio_dir / name, channel_mode="first")[0], sampling_rate=22050, return_tensors="np"
        )["input_values"][0]
        row = np.asarray(mapped[i]["input_values"], dtype=np.float32)
        mask = np.asarray(mapped[i]["attention_mask"])
        assert mask.sum() == single.shape[0]
        np.testing.assert_array_equal(row[: single.shape[0]], single)
        assert np.all(row[single.shape[0] :] == 0)
