"""Decoding real files with torchcodec: rates, channels, and errors that name the file and the problem."""

import os

import numpy as np
import pytest
import soundfile

from hf_soundnet import AudioLoadError, load_audio


def test_mono_wav_at_its_own_rate_equals_libsndfile(audio_dir):
    path = audio_dir / "railroad.wav"
    expected, rate = soundfile.read(path, dtype="float32")
    got = load_audio(path, sampling_rate=rate)
    assert got.shape == (1, expected.shape[0])
    np.testing.assert_allclose(got[0], expected, atol=1e-6)


def test_stereo_mp3_is_resampled_and_keeps_channels(audio_dir):
    got = load_audio(audio_dir / "forest_track.mp3", sampling_rate=22050)
    assert got.ndim == 2 and got.shape[0] == 2 and got.dtype == np.float32
    at_source = load_audio(audio_dir / "forest_track.mp3", sampling_rate=44100)
    assert abs(got.shape[1] * 2 - at_source.shape[1]) <= 2 * 64  # same duration, half the samples
    assert np.abs(got).max() <= 1.0 + 1e-6


def test_48k_stereo_wav_resampled(audio_dir):
    path = audio_dir / "short_stereo_48k.wav"
    info = soundfile.info(path)
    got = load_audio(path, sampling_rate=22050)
    assert got.shape[0] == 2
    assert got.shape[1] == pytest.approx(info.frames * 22050 / info.samplerate, abs=64)


def test_bytes_input(audio_dir):
    data = (audio_dir / "railroad.wav").read_bytes()
    np.testing.assert_array_equal(load_audio(data), load_audio(audio_dir / "railroad.wav"))


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda p: None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_bytes(os.urandom(4096)), "cannot decode audio"),
        (lambda p: p.mkdir(), "is a directory"),
    ],
    ids=["missing", "empty", "corrupt", "directory"],
)
def test_bad_files_name_the_file_and_the_problem(tmp_path, make, problem):
    path = tmp_path / "clip.wav"
    make(path)
    with pytest.raises(AudioLoadError, match=problem) as error:
        load_audio(path)
    assert str(path) in str(error.value)
    assert ".cpp" not in str(error.value)  # FFmpeg's words, not torchcodec's source location


def test_empty_bytes_are_an_error():
    with pytest.raises(AudioLoadError, match="<bytes>: empty input"):
        load_audio(b"")


def test_resampling_reproduces_the_signal_at_the_new_rate(tmp_path):
    """Independent of the resampler: a 44.1 kHz stereo WAV of two tones, decoded at 22,050 Hz, equals the same tones
    computed at 22,050 Hz (away from the edges); `channel_mode` picks or averages the channels before resampling."""
    seconds, tones = 2.0, {"left": 440.0, "right": 1234.5}

    def waveform(rate: int) -> np.ndarray:
        t = np.arange(int(seconds * rate)) / rate
        return np.stack([0.5 * np.sin(2 * np.pi * tones["left"] * t), 0.25 * np.sin(2 * np.pi * tones["right"] * t)])

    path = tmp_path / "tones.wav"
    soundfile.write(path, waveform(44100).T, 44100, subtype="FLOAT")
    expected = waveform(22050).astype(np.float32)
    inner = slice(1000, -1000)  # the filter's edge effects

    both = load_audio(path, sampling_rate=22050)
    assert both.shape == expected.shape
    np.testing.assert_allclose(both[:, inner], expected[:, inner], atol=1e-4)
    first = load_audio(path, sampling_rate=22050, channel_mode="first")
    np.testing.assert_allclose(first[0, inner], expected[0, inner], atol=1e-4)
    mean = load_audio(path, sampling_rate=22050, channel_mode="mean")
    np.testing.assert_allclose(mean[0, inner], expected.mean(axis=0)[inner], atol=1e-4)
    with pytest.raises(ValueError, match="channel_mode"):
        load_audio(path, channel_mode="left")
