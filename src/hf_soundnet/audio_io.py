"""Decoding audio files and bytes with torchcodec, resampled by FFmpeg to the model's rate, with errors that name the
file and the problem. Shared by the CLI, the corpus tools and `SoundNetAudioClassificationPipeline`."""

import os
import re
from pathlib import Path

import numpy as np


class AudioLoadError(ValueError):
    """A file or byte string that could not be decoded into audio; the message names the source and the problem."""


def _decoder(source, sampling_rate: int | None):
    from torchcodec.decoders import AudioDecoder

    return AudioDecoder(source, sample_rate=sampling_rate)


def preload_decoder() -> None:
    """Imports torchcodec's decoders now (loading FFmpeg's libraries takes most of a second), so that processes
    forked afterwards, such as DataLoader workers, start decoding at once."""
    import torchcodec.decoders  # noqa: F401


def ffmpeg_words(err: Exception) -> str:
    """FFmpeg's own message from a torchcodec error, without the C++ source location torchcodec puts first:
    `SingleStreamDecoder, /.../SingleStreamDecoder.cpp:51, Could not open input file: x Invalid data ...` ->
    `Could not open input file: x Invalid data ...`."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return re.sub(r"^\w+, \S+\.cpp:\d+, ", "", text)


def load_audio(source: str | os.PathLike | bytes, sampling_rate: int = 22050, name: str | None = None) -> np.ndarray:
    """
    Decodes a whole file (or its bytes) at `sampling_rate` Hz, keeping every channel.

    Args:
        source: a path, or the encoded bytes of a file.
        sampling_rate: output rate in Hz (FFmpeg's resampler inside torchcodec does the conversion).
        name: what to call the source in errors (defaults to the path, or `<bytes>`).

    Returns:
        `np.ndarray` of shape `(num_channels, num_samples)`, float32 in [-1, 1].

    Raises:
        AudioLoadError: missing, empty, unreadable or corrupt input, or a decode that yields no samples.
    """
    if isinstance(source, (bytes, bytearray)):
        name = name or "<bytes>"
        if len(source) == 0:
            raise AudioLoadError(f"{name}: empty input (0 bytes); nothing to decode.")
    else:
        path = Path(source)
        name = name or str(path)
        if not path.exists():
            raise AudioLoadError(f"{name}: no such file.")
        if path.is_dir():
            raise AudioLoadError(f"{name}: is a directory, not an audio file.")
        if path.stat().st_size == 0:
            raise AudioLoadError(f"{name}: empty file (0 bytes); re-export or re-download it.")
        if not os.access(path, os.R_OK):
            raise AudioLoadError(f"{name}: not readable (permission denied).")
        source = str(path)
    try:
        samples = _decoder(source, sampling_rate).get_all_samples()
    except Exception as err:  # torchcodec raises RuntimeError/ValueError with FFmpeg's words
        raise AudioLoadError(f"{name}: cannot decode audio ({ffmpeg_words(err)}).") from err
    data = samples.data.numpy()
    if data.size == 0:
        raise AudioLoadError(f"{name}: decoded to 0 samples (no audio stream content).")
    if not np.isfinite(data).all():
        raise AudioLoadError(f"{name}: decoded audio contains NaN or Inf samples.")
    return np.ascontiguousarray(data, dtype=np.float32)


__all__ = ["AudioLoadError", "ffmpeg_words", "load_audio", "preload_decoder"]
