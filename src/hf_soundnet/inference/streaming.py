"""Exact long-audio streaming: any layer's frames for files of hours, in bounded memory, equal to a full forward.

Receptive field and hop (the config's layer table, `SoundNetLayerInfo`): frame `q` of a layer sees the input samples
`[q * hop + offset, q * hop + offset + receptive_field)`, where `offset <= 0` comes from the zero padding. The stream is cut into
cores of `chunk_samples` (a multiple of the deepest requested layer's hop `H`); the chunk run through the network spans
the core plus `left_context` samples before it (a multiple of `H`, at least `-offset` of every requested layer) and
`right_context` after it (at least `offset + receptive_field - hop`). Because every chunk starts at a multiple of `H`, each layer's
frame grid inside the chunk coincides with the full forward's, and a frame whose field lies inside the chunk is
computed from the same values in the same order as in the full forward. A layer's frame `q` is emitted by the chunk
whose core contains `q * hop`, so each frame is emitted once. Zero padding happens only at the true start and end of
the audio, where the chunk's edge is the file's edge.

Sources: a waveform array (or any iterable of consecutive pieces), or a file decoded progressively
([`iter_file_waveform`]); only `left_context + chunk_samples + right_context` samples plus one decoded piece are in
memory at any time.
"""

import math
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..audio.decoding import RESAMPLE_QUALITY, AudioLoadError, ffmpeg_words
from ..configuration_soundnet import HEAD_LAYER
from ..fast_forward_soundnet import FastSoundNet
from ..feature_extraction_soundnet import check_channel_mode, downmix


@dataclass
class StreamedFrames:
    """
    The frames one chunk contributes.

    Args:
        first_frame (`dict[str, int]`): index, in the full forward, of each output's first frame in this chunk.
        values (`dict[str, torch.FloatTensor]`): each requested layer's frames `(channels, frames)`; with heads also
            `object_logits` and `scene_logits` of shape `(steps, classes)`.
    """

    first_frame: dict[str, int]
    values: dict[str, torch.Tensor]


class _Stream:
    """The chunk plan for a set of requested layers (see the module docstring)."""

    def __init__(self, fast: FastSoundNet, layers: Iterable[str], chunk_samples: int):
        config = fast.config
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("`layers` names no layer; pass at least one (e.g. 'conv7').")
        self.outputs = [config.get_layer(name, heads_available=fast.has_heads) for name in self.layers]
        self.heads = any(layer.is_head for layer in self.outputs)
        self.num_blocks = max(layer.num_blocks for layer in self.outputs)
        self.hop = max(layer.hop for layer in self.outputs)
        self.chunk = max(1, math.ceil(chunk_samples / self.hop)) * self.hop
        left = max(-layer.offset for layer in self.outputs)
        self.left_context = math.ceil(left / self.hop) * self.hop
        self.right_context = max(0, *(layer.offset + layer.receptive_field - layer.hop for layer in self.outputs))
        self.fast = fast

    def run(self, data: torch.Tensor, data_start: int, core_start: int, core_stop: int | None) -> StreamedFrames:
        """Runs the chunk `data` (global samples from `data_start`) and keeps the frames anchored in the core."""
        fast = self.fast
        last_frames = int(fast.output_lengths(data.shape[-1])[self.num_blocks - 1])
        compute_heads = self.heads and fast.config.layer_table[-1].output_length(last_frames) >= 1
        outputs = fast(data[None], num_blocks=self.num_blocks, compute_heads=compute_heads)
        first, values = {}, {}
        for layer in self.outputs:
            if layer.is_head:
                if not compute_heads:
                    continue
                tensors = {"object_logits": outputs.object_logits[0], "scene_logits": outputs.scene_logits[0]}
                time_dim = 0
            else:
                tensors = {layer.name: outputs.hidden_states[layer.index][0]}
                time_dim = 1
            offset = data_start // layer.hop
            start = core_start // layer.hop
            stop = core_stop // layer.hop if core_stop is not None else None
            for key, tensor in tensors.items():
                available = tensor.shape[time_dim]
                begin = min(start - offset, available)
                end = available if stop is None else min(stop - offset, available)
                frames = tensor.narrow(time_dim, begin, max(0, end - begin))
                first[key], values[key] = start, frames.contiguous()
        return StreamedFrames(first, values)


def stream_layers(
    fast: FastSoundNet,
    pieces: Iterable[np.ndarray | torch.Tensor],
    layers: Iterable[str] = ("conv7",),
    chunk_seconds: float = 60.0,
) -> Iterator[StreamedFrames]:
    """
    Streams the frames of `layers` over a waveform given as consecutive pieces, in chunks with exact context.

    Args:
        fast: a [`FastSoundNet`] (build it with `FastSoundNet.from_model(model)`).
        pieces: consecutive 1-D pieces of one waveform, already scaled like `input_values` (x256), any lengths.
        layers: layer names (`conv1`..`convN`, `pool1`, `pool2`, `pool5`, and `conv8` for the heads' logits).
        chunk_seconds: core length of a chunk (rounded up to a multiple of the deepest layer's hop).

    Yields:
        [`StreamedFrames`] per chunk, in order; concatenating them along time gives the full forward's frames.
    """
    plan = _Stream(fast, layers, round(chunk_seconds * fast.config.sampling_rate))
    buffer = torch.empty(0)
    buffer_start = 0  # global index of buffer[0]
    core_start = 0
    for piece in pieces:
        piece = torch.as_tensor(piece, dtype=torch.float32).reshape(-1)
        buffer = torch.cat([buffer, piece]) if buffer.numel() else piece
        while buffer_start + buffer.shape[0] >= core_start + plan.chunk + plan.right_context:
            data_start = max(0, core_start - plan.left_context)
            data = buffer[data_start - buffer_start : core_start + plan.chunk + plan.right_context - buffer_start]
            yield plan.run(data, data_start, core_start, core_start + plan.chunk)
            core_start += plan.chunk
            keep_from = max(0, core_start - plan.left_context)
            buffer, buffer_start = buffer[keep_from - buffer_start :].clone(), keep_from
    total = buffer_start + buffer.shape[0]
    if total == 0:
        raise ValueError("The audio source yielded no samples.")
    # The last chunk ends at the true end; it also emits frames anchored at or past the last sample (right padding).
    data_start = max(0, core_start - plan.left_context)
    if total > data_start:
        yield plan.run(buffer[data_start - buffer_start :], data_start, core_start, None)


def extract_streaming(
    fast: FastSoundNet,
    source: np.ndarray | torch.Tensor | Iterable[np.ndarray | torch.Tensor],
    layers: Iterable[str] = ("conv7",),
    chunk_seconds: float = 60.0,
) -> dict[str, torch.Tensor]:
    """
    [`stream_layers`] concatenated: each layer's frames `(channels, frames)` (and `(steps, classes)` logits) over the
    whole source, equal to `SoundNetModel(..., output_hidden_states=True)` on the whole waveform. For files of hours,
    iterate over [`stream_layers`] instead so that the outputs need not fit in memory either.
    """
    if isinstance(source, (np.ndarray, torch.Tensor)):
        source = [source]
    return concatenate_chunks(stream_layers(fast, source, layers, chunk_seconds), layers)


def concatenate_chunks(chunks: Iterable[StreamedFrames], layers: Iterable[str]) -> dict[str, torch.Tensor]:
    """Streamed chunks joined along time: `{layer: (channels, frames)}`, and `(steps, classes)` head logits."""
    layers = list(layers)
    parts: dict[str, list[torch.Tensor]] = {}
    for chunk in chunks:
        for key, value in chunk.values.items():
            parts.setdefault(key, []).append(value)
    if HEAD_LAYER in layers and "object_logits" not in parts:
        raise ValueError("The audio is too short for one conv8 step; SoundNetFeatureExtractor repeats short clips.")
    return {key: torch.cat(values, dim=0 if key.endswith("_logits") else 1) for key, values in parts.items()}


def iter_file_waveform(
    path: str | Path, sampling_rate: int = 22050, piece_seconds: float = 30.0, channel_mode: str = "first"
) -> Iterator[np.ndarray]:
    """
    Decodes a file progressively into mono float32 pieces in [-1, 1] at `sampling_rate`, whose concatenation equals
    `load_audio(path, sampling_rate, channel_mode=channel_mode)[0]` (tested bit-exact on MP3 and WAV, resampled or not).

    The file is read by one `ffmpeg` process at its own rate (the FFmpeg libraries torchcodec uses, so the same
    samples), cut into pieces of `piece_seconds`, reduced to mono by `channel_mode`, and resampled by one
    `soxr.ResampleStream`, whose output continues exactly where a single call on the whole waveform would (see
    `hf_soundnet.audio.decoding`). Not torchcodec's `get_samples_played_in_range`: each call seeks from the start of an MP3,
    so consecutive ranges cost time proportional to their position and a long file would stream in quadratic time
    (README, "Exact streaming of long audio", has the figures).

    Raises:
        AudioLoadError: missing or undecodable file, naming it.
    """
    from torchcodec.decoders import AudioDecoder

    path = Path(path)
    if not path.is_file():
        raise AudioLoadError(f"{path}: no such file.")
    check_channel_mode(channel_mode)
    try:
        metadata = AudioDecoder(str(path)).metadata
    except Exception as err:
        raise AudioLoadError(f"{path}: cannot decode audio ({ffmpeg_words(err)}).") from err
    rate = metadata.sample_rate
    pieces = (
        np.ascontiguousarray(downmix(piece, channel_mode))
        for piece in _iter_ffmpeg(path, metadata.num_channels, max(1, round(piece_seconds * rate)))
    )
    if rate == sampling_rate:
        yield from pieces
        return
    import soxr

    resampler = soxr.ResampleStream(rate, sampling_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY)
    piece = next(pieces, None)
    while piece is not None:
        following = next(pieces, None)  # the resampler must know which piece is the last, to flush its filter
        out = resampler.resample_chunk(piece, last=following is None)
        if out.shape[0]:
            yield out
        piece = following


def _iter_ffmpeg(path: Path, channels: int, piece_samples: int) -> Iterator[np.ndarray]:
    """`(channels, samples)` float32 pieces of `piece_samples` (the last one shorter) at the file's own rate."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioLoadError(f"{path}: decoding progressively needs the `ffmpeg` program (apt-get install ffmpeg).")
    command = [ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-f", "f32le", "-"]
    piece_bytes = piece_samples * channels * 4
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        pending = b""
        while True:
            block = process.stdout.read(piece_bytes - len(pending))
            if not block:
                break
            pending += block
            if len(pending) == piece_bytes:
                yield np.frombuffer(pending, np.float32).reshape(-1, channels).T
                pending = b""
        usable = len(pending) // (4 * channels) * 4 * channels
        if usable:
            yield np.frombuffer(pending[:usable], np.float32).reshape(-1, channels).T
        error = process.stderr.read().decode(errors="replace").strip()
        if process.wait() != 0:
            raise AudioLoadError(
                f"{path}: cannot decode audio ({error.splitlines()[0] if error else 'ffmpeg failed'})."
            )


def stream_file(
    fast: FastSoundNet,
    path: str | Path,
    layers: Iterable[str] = ("conv7",),
    chunk_seconds: float = 60.0,
    input_scale: float = 256.0,
    channel_mode: str = "first",
) -> Iterator[StreamedFrames]:
    """
    [`stream_layers`] over a file decoded progressively by [`iter_file_waveform`], scaled by `input_scale` as
    `SoundNetFeatureExtractor` does (no repetition of short clips: streaming is meant for long audio).
    """
    rate = fast.config.sampling_rate
    pieces = (piece * input_scale for piece in iter_file_waveform(path, rate, chunk_seconds, channel_mode))
    yield from stream_layers(fast, pieces, layers, chunk_seconds)


__all__ = [
    "StreamedFrames",
    "concatenate_chunks",
    "extract_streaming",
    "iter_file_waveform",
    "stream_file",
    "stream_layers",
]
