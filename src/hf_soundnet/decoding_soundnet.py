"""Decoding audio files and bytes with FFmpeg (torchcodec, or the `ffmpeg` program) at their own rate, reduced to
mono when asked, and resampled with soxr, with errors that name the file and the problem. Shared by the CLI, the
corpus tools, streaming and `SoundNetAudioClassificationPipeline` (also importable as `hf_soundnet.audio.decoding`).

A plugin file at the package root, importing only root-level siblings (`errors.py`, `feature_extraction_soundnet.py`):
`save_pretrained` copies it beside `pipeline_soundnet.py` (code upload copies `from .name import ...` siblings of the
checkpoint folder only), so the pipeline decodes the same way under `trust_remote_code=True` without hf_soundnet.

Why soxr rather than FFmpeg's resampler inside torchcodec (`AudioDecoder(sample_rate=...)`): reducing to mono first,
soxr resamples only the channel the model reads (FFmpeg resamples every channel), and `soxr.ResampleStream` continues
exactly where one call on the whole waveform would, so progressive decoding (`hf_soundnet.inference.streaming`) gives the same
samples bit for bit. It is also no slower: decoding at the file's own rate and resampling one channel does less
work than resampling every channel inside the decoder (README, benchmark section). soxr at its "HQ" setting is also
librosa's default resampler.

Two decoders give the same samples (`DECODERS`; tested bit-exact): torchcodec in this process (the default), or the
`ffmpeg` program in a child process ([`decode_with_ffmpeg_program`]). Both run the system's FFmpeg libraries. The
program costs a process start per file (about 85 ms against torchcodec's 27 ms for a 30 s MP3) but spares the import
of torchcodec (about 0.9 s, most of it `torch._dynamo`, which torchcodec imports), so it is the quicker one for a
command that decodes a few files (`soundnet classify --decoder auto`).
"""

import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

from .errors import SoundNetError
from .feature_extraction_soundnet import RESAMPLE_QUALITY, check_channel_mode, downmix, resample


# The decoders of `load_audio`: torchcodec in this process, or the `ffmpeg` program in a child process.
DECODERS = ("torchcodec", "ffmpeg")


class AudioLoadError(SoundNetError, ValueError):
    """A file or byte string that could not be decoded into audio; the message names the source and the problem."""


def check_decoder(decoder: str) -> None:
    """Raises `ValueError` unless `decoder` is one of `DECODERS`."""
    if decoder not in DECODERS:
        raise ValueError(f"`decoder` must be one of {DECODERS}, got {decoder!r}.")


def _cannot_decode(name: str, words: str) -> AudioLoadError:
    """The error of a source that FFmpeg could not decode, with FFmpeg's `words` (either decoder)."""
    return AudioLoadError(
        f"{name}: cannot decode audio ({words}); check that it is an audio file FFmpeg can read, or re-encode it "
        "(for example `ffmpeg -i FILE out.wav`)."
    )


def _decoder(source):
    if _background_preload is not None:
        _background_preload.join()  # the import it runs, finished before this thread uses the module
    from torchcodec.decoders import AudioDecoder

    return AudioDecoder(source)


def preload_decoder(decoder: str = "torchcodec") -> None:
    """Imports soxr and, for the torchcodec `decoder`, torchcodec's decoders now (loading FFmpeg's shared libraries
    is a noticeable part of a process's start-up), so that processes forked afterwards, such as DataLoader workers,
    start decoding at once. Waits for a [`preload_decoder_in_background`] first: no process is forked while its
    thread runs."""
    check_decoder(decoder)
    if _background_preload is not None:
        _background_preload.join()
    import soxr  # noqa: F401

    if decoder == "torchcodec":
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


def ffmpeg_program_words(stderr: str, source: str) -> str:
    """FFmpeg's own message from the `ffmpeg` program's stderr: its last line (the one that says why it stopped),
    without the `[mp3 @ 0x55d0...] ` context or the `source: ` it starts with (the caller names the source):
    `x.mp3: Invalid data found when processing input` -> `Invalid data found when processing input`."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "the ffmpeg program failed without a message"
    text = re.sub(r"^\[[^\]]* @ 0x[0-9a-f]+\] ", "", lines[-1])
    if text.startswith("Output file #0 does not contain any stream"):  # nothing it could map to the WAV output
        return "no audio stream in the input"
    return text[len(source) + 2 :] if text.startswith(f"{source}: ") else text


def _parse_wav(raw: bytes) -> tuple[np.ndarray, int]:
    """
    `(samples, sample rate)` of the float WAV that `ffmpeg -f wav -acodec pcm_f32le -` writes, the samples as a
    read-only view of `raw` of shape `(num_samples, num_channels)` (interleaved, as stored). The RIFF chunks are
    walked by their sizes (`fmt `, WAVE_FORMAT_EXTENSIBLE for more than one channel; a `LIST` of tags; others
    skipped) up to `data`, whose samples run to the end of the output: into a pipe FFmpeg cannot go back to write
    the sizes and leaves placeholders (0xFFFFFFFF) in the RIFF and data headers. Raises `ValueError` on anything
    else.
    """
    if len(raw) < 12 or raw[:4] != b"RIFF" or raw[8:12] != b"WAVE":
        raise ValueError("the ffmpeg program wrote no WAV header")
    position, layout = 12, None
    while position + 8 <= len(raw):
        tag, size = raw[position : position + 4], struct.unpack_from("<I", raw, position + 4)[0]
        body = position + 8
        if tag == b"fmt ":
            format_tag, channels, rate = struct.unpack_from("<HHI", raw, body)
            bits = struct.unpack_from("<H", raw, body + 14)[0]
            if format_tag == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the format is the SubFormat GUID's first two bytes
                format_tag = struct.unpack_from("<H", raw, body + 24)[0]
            if format_tag != 3 or bits != 32 or channels < 1:
                raise ValueError(f"the ffmpeg program wrote WAV format {format_tag} ({bits} bits), not float32")
            layout = channels, rate
        elif tag == b"data":
            if layout is None:
                raise ValueError("the ffmpeg program wrote WAV data before its format")
            channels, rate = layout
            frames = (len(raw) - body) // (4 * channels)
            samples = np.frombuffer(raw, dtype="<f4", count=frames * channels, offset=body)
            return samples.reshape(frames, channels), rate
        position = body + size + (size & 1)  # chunks are padded to an even size
    raise ValueError("the ffmpeg program wrote a WAV header without data")


def decode_with_ffmpeg_program(source: str | os.PathLike | bytes, name: str | None = None) -> tuple[np.ndarray, int]:
    """
    Decodes a whole file (or its bytes) with the `ffmpeg` program at its own rate and channels: the samples of
    torchcodec's `AudioDecoder(source).get_all_samples()` (the same FFmpeg libraries decode and convert to float),
    without importing torchcodec. The program writes a float32 WAV into a pipe (`ffmpeg -nostdin -v error -i SOURCE
    -map_metadata -1 -f wav -acodec pcm_f32le -`, failing on any frame it cannot decode), read whole.

    Bytes are written to a temporary file rather than piped to the program's stdin: a container whose index is at
    its end (an MP4/M4A without `+faststart`) can only be read from a seekable input, as torchcodec reads bytes.
    In a file with several audio streams, the program takes the default one, else the one with the most channels,
    where torchcodec takes FFmpeg's "best" stream (the default one, else by frames and bit rate): the same stream
    when the file has one audio stream or marks one as default (as Matroska and MP4 muxers mark the first).

    Args:
        source: a path, or the encoded bytes of a file.
        name: what to call the source in errors (defaults to the path, or `<bytes>`).

    Returns:
        `(samples, sampling_rate)`: float32 `np.ndarray` of shape `(num_channels, num_samples)` and the rate in Hz.

    Raises:
        AudioLoadError: the program is missing, or it could not decode the source (with FFmpeg's words).
    """
    interleaved, rate = _run_ffmpeg_program(source, name)
    return np.array(interleaved.T, dtype=np.float32, order="C"), rate


def _run_ffmpeg_program(source: str | os.PathLike | bytes, name: str | None) -> tuple[np.ndarray, int]:
    """[`decode_with_ffmpeg_program`]'s samples as the read-only interleaved view `(num_samples, num_channels)`
    of the program's output: `load_audio` copies only the channel it keeps (or the mean)."""
    is_bytes = isinstance(source, (bytes, bytearray))
    name = name or ("<bytes>" if is_bytes else os.fspath(source))
    program = shutil.which("ffmpeg")
    if program is None:
        raise AudioLoadError(
            f"{name}: decoding with the ffmpeg program needs `ffmpeg` on PATH (apt-get install ffmpeg); or use "
            "decoder='torchcodec'."
        )
    if is_bytes:
        with tempfile.NamedTemporaryFile(prefix="soundnet-", suffix=".audio") as file:
            file.write(source)
            file.flush()
            return _run_ffmpeg_program(file.name, name)
    path = os.fspath(source)
    # `file:` keeps FFmpeg from reading a path such as `a:b.mp3` as a protocol (`-i` takes any next argument).
    # `-max_error_rate 0`: fail (exit status 69) when any frame fails to decode, where torchcodec raises, rather than
    # skip the damaged frames; not `-xerror`, which also fails on a packet cut short by the end of the file (a WAV
    # whose header states more data than it holds), which torchcodec decodes.
    command = [program, "-nostdin", "-v", "error", "-max_error_rate", "0", "-i", f"file:{path}"]
    command += ["-map_metadata", "-1"]
    command += ["-f", "wav", "-acodec", "pcm_f32le", "-"]
    # stdout read by one `readall` (a bytes object grown in place: no second copy of the output, as joining chunks
    # would make); stderr into a file, so that a long message never blocks the program while stdout is read.
    with tempfile.TemporaryFile() as messages:
        with subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=messages, bufsize=0
        ) as run:
            raw = run.stdout.readall()
        if run.returncode != 0:
            messages.seek(0)
            raise _cannot_decode(name, ffmpeg_program_words(messages.read().decode(errors="replace"), f"file:{path}"))
    try:
        return _parse_wav(raw)
    except (ValueError, struct.error) as err:
        raise _cannot_decode(name, str(err)) from err


def load_audio(
    source: str | os.PathLike | bytes,
    sampling_rate: int = 22050,
    name: str | None = None,
    channel_mode: str | None = None,
    decoder: str = "torchcodec",
) -> np.ndarray:
    """
    Decodes a whole file (or its bytes) at its own rate, with torchcodec or the `ffmpeg` program (the same samples),
    reduces it to mono by `channel_mode` if given, and resamples it to `sampling_rate` with soxr (see the module
    docstring).

    Args:
        source: a path, or the encoded bytes of a file.
        sampling_rate: output rate in Hz.
        name: what to call the source in errors (defaults to the path, or `<bytes>`).
        channel_mode: None keeps every channel; `"first"` or `"mean"` (see [`downmix`]) reduces to one before
            resampling, which costs half as much for stereo and gives the same samples as resampling first (exactly
            for `"first"`, to float rounding for `"mean"`, resampling being linear).
        decoder: `"torchcodec"` (in this process) or `"ffmpeg"` (the program, [`decode_with_ffmpeg_program`]; this
            process never imports torchcodec then).

    Returns:
        `np.ndarray` of shape `(num_channels, num_samples)` (`num_channels` = 1 with `channel_mode`), float32 in
        [-1, 1] up to the resampler's overshoot.

    Raises:
        AudioLoadError: missing, empty, unreadable or corrupt input, or a decode that yields no samples.
    """
    check_decoder(decoder)
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
    if decoder == "ffmpeg":
        interleaved, rate = _run_ffmpeg_program(source, name)
        data = interleaved.T  # (num_channels, num_samples), a read-only view: copied below, one channel with a mode
    else:
        try:
            samples = _decoder(source).get_all_samples()
        except Exception as err:  # torchcodec raises RuntimeError/ValueError with FFmpeg's words
            raise _cannot_decode(name, ffmpeg_words(err)) from err
        data, rate = samples.data.numpy(), samples.sample_rate
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
    audio = resample(np.ascontiguousarray(data, dtype=np.float32), rate, sampling_rate)
    return audio if audio.flags.writeable else audio.copy()  # the program's output itself, when nothing changed it


__all__ = [
    "DECODERS",
    "RESAMPLE_QUALITY",
    "AudioLoadError",
    "check_decoder",
    "decode_with_ffmpeg_program",
    "ffmpeg_program_words",
    "ffmpeg_words",
    "load_audio",
    "preload_decoder",
    "preload_decoder_in_background",
    "resample",
]
