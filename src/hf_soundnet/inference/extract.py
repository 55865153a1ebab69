"""Features of one layer for many audio files: what `soundnet extract` writes, as a library call.

[`extract_files`] decides once, before any forward, how each source runs:
- a file longer than `stream_longer_than` seconds (by its container's header) is streamed: decoded progressively in
  this process and run in chunks with exact context ([`stream_file`]), so hours of audio take bounded memory and give
  the same frames as a whole-file forward; with no decoding processes beside it, the model gets every core;
- every other source is decoded in DataLoader worker processes and batched with clips of similar size
  (`hf_soundnet.audio.batches`), the model getting the cores the workers leave (`hf_soundnet.inference.parallelism`).

The fast forward is built at most once for both. Each source gives one [`ExtractedFeatures`] (the layer's valid
frames) or one [`ExtractionFailure`] (why it could not be read); one bad file never stops the others.
"""

import copy
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..audio.batches import AudioFileDataset, AudioSource, make_loader, source_name
from ..audio.decoding import AudioLoadError, check_decoder
from ..configuration_soundnet import SoundNetLayerInfo
from ..feature_extraction_soundnet import SoundNetFeatureExtractor
from .engine import inference_engine, model_device, run_batches
from .features import HEAD_OUTPUTS, clip_layer_features, head_channels, resolve_layer
from .parallelism import Parallelism, resolve_parallelism, torch_threads
from .streaming import concatenate_chunks, stream_file


# What streaming one file may raise for that file alone (decoding, a file too short for the layer); reported as its
# failure, while any other exception is a bug and propagates.
STREAM_ERRORS = (AudioLoadError, OSError, RuntimeError, ValueError)


@dataclass(frozen=True)
class ExtractedFeatures:
    """
    The features of one source.

    Args:
        name: the source's path (or the name given for it).
        features: float32 `np.ndarray` of shape `(channels, frames)`, the layer's valid frames; frame `t` starts at
            `t * hop` samples.
        duration_s: the audio's duration before any repetition, in seconds (for a streamed file, as its header
            states it).
        streamed: whether the file was streamed in chunks rather than decoded whole.
    """

    name: str
    features: np.ndarray
    duration_s: float
    streamed: bool


@dataclass(frozen=True)
class ExtractionFailure:
    """A source that gave no features: its `name` and the `error` message (naming the file and the problem)."""

    name: str
    error: str


def probe_duration(path: str | os.PathLike, decoder: str = "torchcodec") -> float | None:
    """The duration in seconds that the header of the file's audio stream states, or None when unknown or unreadable
    (the batch path then decodes the file and reports any error). Read by torchcodec, or, for the `"ffmpeg"`
    decoder, by the `ffprobe` program when it is on PATH (the same header field, printed to the microsecond), so
    that this process does not import torchcodec for a few files."""
    ffprobe = shutil.which("ffprobe") if decoder == "ffmpeg" else None
    if ffprobe is not None:
        command = [ffprobe, "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=duration"]
        command += ["-of", "default=noprint_wrappers=1:nokey=1", f"file:{os.fspath(path)}"]
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
        try:
            return float(result.stdout.split()[0]) if result.returncode == 0 else None
        except (IndexError, ValueError):  # `N/A`, or no audio stream: left to the batch path
            return None
    try:
        from torchcodec.decoders import AudioDecoder

        return AudioDecoder(str(path)).metadata.duration_seconds_from_header
    except Exception:  # a corrupt file: left to the batch path, which names the problem
        return None


def streamed_features(
    engine: torch.nn.Module,
    path: str | os.PathLike,
    *,
    spec: SoundNetLayerInfo,
    head_output: str,
    feature_extractor: SoundNetFeatureExtractor,
) -> np.ndarray:
    """Layer `spec` of a whole file by exact chunked streaming through the [`FastSoundNet`] `engine`: float32
    `(channels, frames)`, as the batch path gives it (`feature_extractor` supplies the scale and channel policy)."""
    chunks = stream_file(
        engine,
        path,
        [spec.name],
        input_scale=feature_extractor.input_scale,
        channel_mode=feature_extractor.channel_mode,
    )
    values = concatenate_chunks(chunks, [spec.name])
    if spec.is_head:
        features = head_channels(values["object_logits"], values["scene_logits"], head_output)
    else:
        features = values[spec.name]
    return np.ascontiguousarray(features.float().numpy())


def extraction_feature_extractor(
    feature_extractor: SoundNetFeatureExtractor, repeat_short_clips: bool = True
) -> SoundNetFeatureExtractor:
    """
    A copy of `feature_extractor` as extraction uses it: clips shorter than `repeat_to_seconds` are repeated (unless
    `repeat_short_clips=False`, which sets `repeat_to_seconds` to 0), and longer ones are not continued (a long
    file's frames are its own audio's, streamed or not).
    """
    extractor = copy.deepcopy(feature_extractor)
    if not repeat_short_clips:
        extractor.repeat_to_seconds = 0
    extractor.continue_long_clips = False
    return extractor


def extract_files(
    model: torch.nn.Module,
    feature_extractor: SoundNetFeatureExtractor,
    sources: Sequence[AudioSource | str | os.PathLike],
    *,
    layer: str,
    names: Sequence[str] | None = None,
    head_output: str = "logits",
    batch_size: int = 8,
    num_workers: int | None = None,
    num_threads: int | None = None,
    fast: bool = True,
    precision: str = "fp32",
    stream_longer_than: float = 600.0,
    repeat_short_clips: bool = True,
    decoder: str = "torchcodec",
) -> Iterator[ExtractedFeatures | ExtractionFailure]:
    """
    Extracts layer `layer` of every source.

    Args:
        model: a SoundNet model in eval mode (with the released heads for `layer="conv8"`).
        feature_extractor: the checkpoint's [`SoundNetFeatureExtractor`] (rate, mono, scale, repetition of short
            clips); not modified.
        sources: paths, encoded bytes or `{"path", "bytes"}` records; only paths are ever streamed.
        layer: `conv1`..`conv7`, the pooled names (`pool1`, `pool2`, `pool5` for SoundNet-8), or `conv8`: the heads'
            object then scene logits as channels.
        names: what to call each source in results (default: its path, else `record {index}`).
        head_output: `"logits"` or `"probabilities"` (each head's softmax), for `conv8`.
        batch_size: clips per forward of the batch path; sources of similar size share a batch.
        num_workers: decoding processes of the batch path (0 decodes in this process; None: see
            `hf_soundnet.inference.parallelism`).
        num_threads: torch threads while decoding processes run beside the model (None: the cores they leave); also
            those of streaming when given (None: every core). Set for each phase and restored at the end.
        fast: run [`FastSoundNet`] (default) rather than the transformers model itself on the batch path (streaming
            always runs the fast forward).
        precision: `"fp32"` (equal to the eager model to 1e-4), `"bf16"` or `"fp16"` (fast forward only).
        stream_longer_than: stream paths whose header states more seconds than this (0 streams none).
        repeat_short_clips: repeat clips shorter than the extractor's `repeat_to_seconds` (as the model saw in
            training); False extracts every clip as it is.
        decoder: `"torchcodec"` (default) or `"ffmpeg"`: the `ffmpeg` program decodes each batched file in a child
            process and `ffprobe` reads the durations (the same samples; quicker for a few files, as it spares
            torchcodec's import; see `hf_soundnet.audio.decoding`). Streamed files are decoded as before.

    Yields:
        per source, an [`ExtractedFeatures`] or an [`ExtractionFailure`]: the streamed files first (in order), then
        the others in batch order (not input order).

    Raises:
        ValueError: at the call (not at the first result), for an unknown layer or `conv8` without heads, an unknown
            `head_output`, names that do not match the sources, negative `num_workers` / `num_threads < 1`, or an
            unknown `decoder`.
    """
    spec = resolve_layer(model, layer)
    check_decoder(decoder)
    if head_output not in HEAD_OUTPUTS:
        raise ValueError(f"head_output must be one of {HEAD_OUTPUTS}, got {head_output!r}.")
    sources = [os.fspath(s) if isinstance(s, os.PathLike) else s for s in sources]
    if names is not None and len(names) != len(sources):
        raise ValueError(f"Got {len(names)} names for {len(sources)} sources.")
    device = model_device(model).type
    return _extract(
        model,
        extraction_feature_extractor(feature_extractor, repeat_short_clips),
        sources,
        names=list(names) if names is not None else [source_name(s, i) for i, s in enumerate(sources)],
        spec=spec,
        head_output=head_output,
        batch_size=batch_size,
        parallelism=resolve_parallelism(device, num_workers=num_workers, num_threads=num_threads),
        fast=fast,
        precision=precision,
        stream_longer_than=stream_longer_than,
        decoder=decoder,
    )


def _extract(
    model: torch.nn.Module,
    feature_extractor: SoundNetFeatureExtractor,
    sources: list[AudioSource],
    *,
    names: list[str],
    spec: SoundNetLayerInfo,
    head_output: str,
    batch_size: int,
    parallelism: Parallelism,
    fast: bool,
    precision: str,
    stream_longer_than: float,
    decoder: str = "torchcodec",
) -> Iterator[ExtractedFeatures | ExtractionFailure]:
    """The generator behind [`extract_files`], once its arguments are checked."""
    durations = {}  # index -> header duration, for the sources to stream
    if stream_longer_than > 0:
        for index, source in enumerate(sources):
            duration = probe_duration(source, decoder) if isinstance(source, str) else None
            if (duration or 0.0) > stream_longer_than:
                durations[index] = duration
    engine = None
    if durations:
        with torch_threads(parallelism.solo_threads):
            engine = inference_engine(model, fast=True, precision=precision)
            for index, duration in durations.items():
                try:
                    features = streamed_features(
                        engine,
                        sources[index],
                        spec=spec,
                        head_output=head_output,
                        feature_extractor=feature_extractor,
                    )
                except STREAM_ERRORS as err:
                    yield ExtractionFailure(names[index], f"{sources[index]}: {err}")
                    continue
                yield ExtractedFeatures(names[index], features, duration, streamed=True)

    batched = [index for index in range(len(sources)) if index not in durations]
    if not batched:
        return
    with torch_threads(parallelism.num_threads):
        dataset = AudioFileDataset(
            [sources[i] for i in batched], feature_extractor, [names[i] for i in batched], decoder
        )
        loader = make_loader(
            dataset,
            batch_size=batch_size,
            num_workers=parallelism.num_workers,
            pin_memory=model_device(model).type == "cuda",
        )
        # The FastSoundNet built for streaming serves the batches too; else run_batches builds the engine while the
        # workers start decoding.
        outputs = run_batches(
            model,
            loader,
            num_blocks=spec.num_blocks,
            fast=fast,
            precision=precision,
            engine=engine if fast else None,
        )
        for batch, output in outputs:
            for item in batch.failures:
                yield ExtractionFailure(item.name, item.error)
            if output is None:
                continue
            features = clip_layer_features(output, spec, head_output=head_output)
            for item, array in zip(batch.items, features):
                yield ExtractedFeatures(item.name, array, item.duration_s, streamed=False)


__all__ = [
    "ExtractedFeatures",
    "ExtractionFailure",
    "extract_files",
    "extraction_feature_extractor",
    "probe_duration",
    "streamed_features",
]
