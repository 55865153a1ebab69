"""Decoding audio files and bytes with torchcodec (FFmpeg) at their own rate, reduced to mono when asked, and
resampled with soxr, with errors that name the file and the problem. Shared by the CLI, the corpus tools, streaming
and `SoundNetAudioClassificationPipeline` (also importable as `hf_soundnet.audio.decoding`).

A plugin file at the package root, importing only root-level siblings (`errors.py`, `feature_extraction_soundnet.py`):
`save_pretrained` copies it beside `pipeline_soundnet.py` (code upload copies `from .name import ...` siblings of the
checkpoint folder only), so the pipeline decodes the same way under `trust_remote_code=True` without hf_soundnet.

Why soxr rather than FFmpeg's resampler inside torchcodec (`AudioDecoder(sample_rate=...)`): reducing to mono first,
soxr resamples only the channel the model reads (FFmpeg resamples every channel), and `soxr.ResampleStream` continues
exactly where one call on the whole waveform would, so progressive decoding (`hf_soundnet.inference.streaming`) gives the same
samples bit for bit. It is also no slower: decoding at the file's own rate and resampling one channel does less
work than resampling every channel inside the decoder (README, benchmark section). soxr at its "HQ" setting is also
librosa's default resampler.
"""

import os
import re
import sys
import threading
from pathlib import Path

import numpy as np

from .errors import SoundNetError
from .feature_extraction_soundnet import RESAMPLE_QUALITY, check_channel_mode, downmix, resample


class AudioLoadError(SoundNetError, ValueError):
    """A file or byte string that could not be decoded into audio; the message names the source and the problem."""


def _decoder(source):
    if _background_preload is not None:
        _background_preload.join()  # the import it runs, finished before this thread uses the module
    from torchcodec.decoders import AudioDecoder

    return AudioDecoder(source)


def preload_decoder() -> None:
    """Imports torchcodec's decoders and soxr now (loading FFmpeg's shared libraries is a noticeable part of a
    process's start-up), so that processes forked afterwards, such as DataLoader workers, start decoding at once.
    Waits for a [`preload_decoder_in_background`] first: no process is forked while its thread runs."""
    if _background_preload is not None:
        _background_preload.join()
    import soxr  # noqa: F401
    import torchcodec.decoders  # noqa: F401


_background_preload: threading.Thread | None = None


def preload_decoder_in_background() -> None:
    """
    Starts [`preload_decoder`]'s imports in a thread and returns at once. `soundnet classify` calls it before reading
    its checkpoint: torchcodec's import (about 0.8 s, mostly `torch._dynamo`, which it touches at import) then runs
    while the checkpoint is read, hashed and folded, work that releases the GIL. A failed import is left to the next
    import of torchcodec, in the caller's thread, to report.
    """
    global _background_preload
    if _background_preload is not None or "torchcodec.decoders" in sys.modules:
        return

    def preload() -> None:
        try:
            import soxr  # noqa: F401
            import torchcodec.decoders  # noqa: F401
        except Exception:  # reported where the decoder is used
            pass

    _background_preload = threading.Thread(target=preload, name="preload_decoder", daemon=True)
    _background_preload.start()


def ffmpeg_words(err: Exception) -> str:
    """FFmpeg's own message from a torchcodec error, without the C++ source location torchcodec puts first:
    `SingleStreamDecoder, /.../SingleStreamDecoder.cpp:51, Could not open input file: x Invalid data ...` ->
    `Could not open input file: x Invalid data ...`."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return re.sub(r"^\w+, \S+\.cpp:\d+, ", "", text)


def load_audio(
    source: str | os.PathLike | bytes,
    sampling_rate: int = 22050,
    name: str | None = None,
    channel_mode: str | None = None,
) -> np.ndarray:
    """
    Decodes a whole file (or its bytes) with torchcodec at its own rate, reduces it to mono by `channel_mode` if
    given, and resamples it to `sampling_rate` with soxr (see the module docstring).

    Args:
        source: a path, or the encoded bytes of a file.
        sampling_rate: output rate in Hz.
        name: what to call the source in errors (defaults to the path, or `<bytes>`).
        channel_mode: None keeps every channel; `"first"` or `"mean"` (see [`downmix`]) reduces to one before
            resampling, which costs half as much for stereo and gives the same samples as resampling first (exactly
            for `"first"`, to float rounding for `"mean"`, resampling being linear).

    Returns:
        `np.ndarray` of shape `(num_channels, num_samples)` (`num_channels` = 1 with `channel_mode`), float32 in
        [-1, 1] up to the resampler's overshoot.

    Raises:
        AudioLoadError: missing, empty, unreadable or corrupt input, or a decode that yields no samples.
    """
    if channel_mode is not None:
        check_channel_mode(channel_mode)
    if isinstance(source, (bytes, bytearray)):
        name = name or "<bytes>"
        if len(source) == 0:
            raise AudioLoadError(f"{name}: empty input (0 bytes); nothing to decode.")
    else:
        path = Path(source)
        name = name or str(path)
        if not path.exists():
            raise AudioLoadError(f"{name}: no such file; check the path.")
        if path.is_dir():
            raise AudioLoadError(f"{name}: is a directory, not an audio file; give the files inside it.")
        if path.stat().st_size == 0:
            raise AudioLoadError(f"{name}: empty file (0 bytes); re-export or re-download it.")
        if not os.access(path, os.R_OK):
            raise AudioLoadError(f"{name}: not readable (permission denied); give this user read access.")
        source = str(path)
    try:
        samples = _decoder(source).get_all_samples()
    except Exception as err:  # torchcodec raises RuntimeError/ValueError with FFmpeg's words
        raise AudioLoadError(
            f"{name}: cannot decode audio ({ffmpeg_words(err)}); check that it is an audio file FFmpeg can read, or "
            "re-encode it (for example `ffmpeg -i FILE out.wav`)."
        ) from err
    data = samples.data.numpy()
    if data.size == 0:
        raise AudioLoadError(
            f"{name}: decoded to 0 samples (no audio stream content); there is nothing to analyse in it."
        )
    if not np.isfinite(data).all():
        raise AudioLoadError(
            f"{name}: decoded audio contains NaN or Inf samples; re-export the file with finite samples."
        )
    if channel_mode is not None:
        data = downmix(data, channel_mode)[None]
    return resample(np.ascontiguousarray(data, dtype=np.float32), samples.sample_rate, sampling_rate)


__all__ = [
    "RESAMPLE_QUALITY",
    "AudioLoadError",
    "ffmpeg_words",
    "load_audio",
    "preload_decoder",
    "preload_decoder_in_background",
    "resample",
]
