"""Decoding with the `ffmpeg` program (`decode_with_ffmpeg_program`, `load_audio(decoder="ffmpeg")`) against
torchcodec's decoding of the same files: the same samples bit for bit, the same checks and errors naming the file."""

import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from torchcodec.decoders import AudioDecoder

from hf_soundnet.audio.decoding import AudioLoadError, decode_with_ffmpeg_program, load_audio
from hf_soundnet.decoding_soundnet import _parse_wav


RECORDINGS = ("railroad.wav", "forest_track.mp3", "short_stereo_48k.wav")

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs the ffmpeg program")


def ffmpeg(*arguments: str) -> None:
    """Runs the `ffmpeg` program to make a test file."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *arguments], check=True)


def torchcodec_samples(source: str | bytes) -> tuple[np.ndarray, int]:
    """The independent decode: torchcodec's `AudioDecoder(source).get_all_samples()`."""
    samples = AudioDecoder(source).get_all_samples()
    return samples.data.numpy(), samples.sample_rate


@pytest.fixture(scope="module")
def made_files(tmp_path_factory) -> dict[str, Path]:
    """Files the recordings lack: 6 channels (a WAVE_FORMAT_EXTENSIBLE header in FFmpeg's output), an M4A whose
    index is at its end (readable only from a seekable input), a video without audio, a WAV without samples."""
    folder = tmp_path_factory.mktemp("made")
    tones = [arg for hz in (220, 330, 440, 550, 660, 770) for arg in ("-f", "lavfi", "-i", f"sine=f={hz}:d=1.5")]
    ffmpeg(*tones, "-filter_complex", "amerge=inputs=6", "-c:a", "pcm_s24le", str(folder / "six.wav"))
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=2", "-ac", "2", "-c:a", "aac", str(folder / "index_at_end.m4a"))
    ffmpeg("-f", "lavfi", "-i", "testsrc=d=1:s=32x32", "-c:v", "mpeg4", str(folder / "video_only.mp4"))
    ffmpeg("-f", "lavfi", "-i", "sine=d=1", "-t", "0", "-c:a", "pcm_s16le", str(folder / "no_samples.wav"))
    return {path.name: path for path in folder.iterdir()}


@pytest.mark.parametrize("name", RECORDINGS)
def test_program_gives_the_samples_of_torchcodec(audio_dir, name):
    path = audio_dir / name
    expected, expected_rate = torchcodec_samples(str(path))
    samples, rate = decode_with_ffmpeg_program(path)
    assert rate == expected_rate and samples.dtype == np.float32
    np.testing.assert_array_equal(samples, expected)
    samples, rate = decode_with_ffmpeg_program(path.read_bytes())  # bytes: torchcodec's decode of the bytes
    np.testing.assert_array_equal(samples, torchcodec_samples(path.read_bytes())[0])
    assert samples.flags.writeable and samples.flags.c_contiguous


@pytest.mark.parametrize("name", ["six.wav", "index_at_end.m4a"])
def test_program_gives_the_samples_of_torchcodec_on_made_files(made_files, name):
    path = made_files[name]
    expected, expected_rate = torchcodec_samples(str(path))
    samples, rate = decode_with_ffmpeg_program(str(path))
    assert rate == expected_rate and samples.shape[0] == {"six.wav": 6, "index_at_end.m4a": 2}[name]
    np.testing.assert_array_equal(samples, expected)
    np.testing.assert_array_equal(decode_with_ffmpeg_program(path.read_bytes())[0], expected)


@pytest.mark.parametrize("channel_mode", ["first", "mean", None])
@pytest.mark.parametrize("name", RECORDINGS)
def test_load_audio_gives_the_same_array_with_either_decoder(audio_dir, name, channel_mode):
    """Resampled or not (railroad.wav is mono at 22.05 kHz: the program's output itself, copied to be writable)."""
    path = audio_dir / name
    by_program = load_audio(path, 22050, channel_mode=channel_mode, decoder="ffmpeg")
    by_torchcodec = load_audio(path, 22050, channel_mode=channel_mode, decoder="torchcodec")
    channels = 1 if channel_mode is not None or name == "railroad.wav" else 2
    assert by_program.shape == by_torchcodec.shape and by_program.shape[0] == channels
    np.testing.assert_array_equal(by_program, by_torchcodec)
    assert by_program.flags.writeable and by_program.flags.c_contiguous and by_program.dtype == np.float32


def float_wav(samples: np.ndarray, rate: int, *, extensible: bool, list_chunk: bytes) -> bytes:
    """A float32 WAV as FFmpeg writes one into a pipe: placeholder RIFF and data sizes (0xFFFFFFFF), an optional
    WAVE_FORMAT_EXTENSIBLE `fmt ` and a LIST chunk (padded to an even size) before the data."""
    channels = samples.shape[0]
    common = struct.pack("<HIIHH", channels, rate, rate * 4 * channels, 4 * channels, 32)
    if extensible:
        float_guid = struct.pack("<H", 3) + bytes.fromhex("000000001000800000aa00389b71")
        fmt = struct.pack("<H", 0xFFFE) + common + struct.pack("<HHI", 22, 32, 0) + float_guid
    else:
        fmt = struct.pack("<H", 3) + common
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    chunks += b"LIST" + struct.pack("<I", len(list_chunk)) + list_chunk + b"\0" * (len(list_chunk) % 2)
    data = samples.T.astype("<f4").tobytes()
    return b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + chunks + b"data" + struct.pack("<I", 0xFFFFFFFF) + data


@pytest.mark.parametrize("extensible", [False, True])
def test_wav_reader_walks_the_chunks_and_reads_data_to_the_end(extensible):
    samples = np.random.default_rng(0).uniform(-1, 1, (3, 1001)).astype(np.float32)
    raw = float_wav(samples, 16000, extensible=extensible, list_chunk=b"INFOISFT\x05\0\0\0Lavf\0")  # odd size: 21
    decoded, rate = _parse_wav(raw)
    assert rate == 16000
    np.testing.assert_array_equal(decoded.T, samples)
    decoded, _ = _parse_wav(raw + b"\1\2")  # a torn last frame is dropped
    np.testing.assert_array_equal(decoded.T, samples)
    with pytest.raises(ValueError, match="no WAV header"):
        _parse_wav(b"garbage")


@pytest.mark.parametrize("decoder", ["ffmpeg", "torchcodec"])
def test_errors_name_the_file_and_the_problem(made_files, tmp_path, decoder):
    empty = tmp_path / "empty.mp3"
    empty.write_bytes(b"")
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"not audio at all" * 64)
    cases = [
        (tmp_path / "missing.wav", "missing.wav: no such file"),
        (empty, "empty.mp3: empty file"),
        (tmp_path, f"{tmp_path}: is a directory"),
        (corrupt, "corrupt.mp3: cannot decode audio"),
        (made_files["video_only.mp4"], "video_only.mp4: cannot decode audio"),
    ]
    for source, message in cases:
        with pytest.raises(AudioLoadError, match=message):
            load_audio(source, decoder=decoder)
    with pytest.raises(AudioLoadError, match=r"clip 3: cannot decode audio \(.*Invalid data found"):
        load_audio(b"not audio at all" * 64, name="clip 3", decoder=decoder)
    with pytest.raises(AudioLoadError, match="<bytes>: empty input"):
        load_audio(b"", decoder=decoder)


@pytest.mark.parametrize("decoder", ["ffmpeg", "torchcodec"])
def test_a_decoding_error_inside_the_file_fails_it_with_either_decoder(audio_dir, tmp_path, decoder):
    """torchcodec raises at the first frame it cannot decode; the program is run with `-max_error_rate 0` to fail
    too (by default it skips the frame and writes the rest)."""
    damaged = np.frombuffer((audio_dir / "forest_track.mp3").read_bytes(), np.uint8).copy()
    rng = np.random.default_rng(0)
    damaged[rng.integers(20000, damaged.size, 200)] = rng.integers(0, 256, 200)
    (tmp_path / "damaged.mp3").write_bytes(damaged.tobytes())
    wav = (audio_dir / "railroad.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(wav[: len(wav) // 2 + 1])  # ends inside a sample
    for name in ("damaged.mp3", "cut.wav"):
        with pytest.raises(AudioLoadError, match=f"{name}: cannot decode audio"):
            load_audio(tmp_path / name, decoder=decoder)


def test_program_errors_carry_ffmpegs_words(made_files, tmp_path):
    with pytest.raises(AudioLoadError, match=r"video_only.mp4: cannot decode audio \(no audio stream in the input\)"):
        decode_with_ffmpeg_program(made_files["video_only.mp4"])
    with pytest.raises(AudioLoadError, match="no_samples.wav: decoded to 0 samples"):
        load_audio(made_files["no_samples.wav"], decoder="ffmpeg")
    nan = np.zeros((1, 500), np.float32)
    nan[0, 7] = np.nan
    # Placeholder sizes (more data than the file holds): both decoders read the samples there are.
    (tmp_path / "nan.wav").write_bytes(float_wav(nan, 22050, extensible=False, list_chunk=b"INFO"))
    for decoder in ("ffmpeg", "torchcodec"):
        with pytest.raises(AudioLoadError, match="nan.wav: decoded audio contains NaN"):
            load_audio(tmp_path / "nan.wav", decoder=decoder)
    with pytest.raises(ValueError, match="`decoder` must be one of"):
        load_audio(made_files["six.wav"], decoder="sox")


def test_program_missing_from_path_is_named(monkeypatch, tmp_path, audio_dir):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without the program
    with pytest.raises(AudioLoadError, match="railroad.wav: decoding with the ffmpeg program needs `ffmpeg` on PATH"):
        load_audio(audio_dir / "railroad.wav", decoder="ffmpeg")
