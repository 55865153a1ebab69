"""Batched inference over many audio files: decoding in DataLoader workers, padding, and the one model forward.

Every model call of the `soundnet` CLI and of the linear probe goes through [`forward_batch`], which runs either the
transformers model or the equivalent [`FastSoundNet`] that [`inference_engine`] builds from it. Decoding happens in [`AudioFileDataset`]
(in DataLoader worker processes when `num_workers > 0`); a file that cannot be decoded becomes an item that carries
its error message instead of raising, so one bad file never loses the rest of its batch.
"""

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, default_collate

from .audio_io import load_audio, preload_decoder
from .feature_extraction_soundnet import SoundNetFeatureExtractor
from .modeling_soundnet import has_heads, trunk_of


AudioSource = str | os.PathLike | bytes | dict


@dataclass
class AudioItem:
    """
    One decoded clip, or the reason it could not be decoded.

    Args:
        index: position of the source in the dataset.
        name: the path, or what to call an in-memory record in messages.
        input_values: `np.ndarray` of shape `(num_samples,)`, the feature extractor's per-clip output (mono by its
            `channel_mode`, repeated to `repeat_to_seconds`, scaled by `input_scale`); None on error.
        duration_s: duration of the decoded audio before any repetition, in seconds (0.0 on error).
        error: the error message, or None.
    """

    index: int
    name: str
    input_values: np.ndarray | None = None
    duration_s: float = 0.0
    error: str | None = None


def source_name(source: AudioSource, index: int) -> str:
    """What to call `source` in outputs and messages: its path, else `record {index}`."""
    if isinstance(source, dict):
        return str(source.get("path") or f"record {index}")
    if isinstance(source, (bytes, bytearray)):
        return f"record {index}"
    return str(source)


def source_size(source: AudioSource) -> int:
    """A cheap proxy of the duration (bytes on disk or in memory) used to batch clips of similar length together."""
    if isinstance(source, dict):
        data = source.get("bytes")
        return len(data) if data else source_size(source.get("path") or "")
    if isinstance(source, (bytes, bytearray)):
        return len(source)
    try:
        return os.stat(source).st_size
    except OSError:
        return 0


class AudioFileDataset(Dataset):
    """
    A torch `Dataset` over audio sources: paths, encoded bytes, or `{"path", "bytes"}` records (what a `datasets`
    Audio column gives with `decode=False`). Each item is an [`AudioItem`]; decoding errors are returned, not raised.

    Args:
        sources: any sequence (a list, or a lazy column wrapper) of the sources above.
        feature_extractor: supplies the rate, `channel_mode`, repetition of short clips and scaling.
        names: optional display names, one per source.
    """

    def __init__(
        self,
        sources: Sequence[AudioSource],
        feature_extractor: SoundNetFeatureExtractor,
        names: Sequence[str] | None = None,
    ):
        if names is not None and len(names) != len(sources):
            raise ValueError(f"Got {len(names)} names for {len(sources)} sources.")
        self.sources = sources
        self.feature_extractor = feature_extractor
        self.names = names

    def __len__(self) -> int:
        return len(self.sources)

    def __getitem__(self, index: int) -> AudioItem:
        source = self.sources[index]
        name = self.names[index] if self.names is not None else source_name(source, index)
        extractor = self.feature_extractor
        try:
            if isinstance(source, dict):
                source = source.get("bytes") or source.get("path")
                if not source:
                    raise ValueError(f"{name}: the record has neither bytes nor a path.")
            waveform = load_audio(source, extractor.sampling_rate, name=name, channel_mode=extractor.channel_mode)
            mono = extractor.to_mono_float(waveform[0], source=name)
            values = extractor.repeat_short(mono) * np.float32(extractor.input_scale)
        except Exception as err:  # reported per file by the caller; one bad file never kills the batch
            return AudioItem(index=index, name=name, error=str(err) or type(err).__name__)
        return AudioItem(
            index=index, name=name, input_values=values, duration_s=mono.shape[0] / extractor.sampling_rate
        )


@dataclass
class AudioBatch:
    """
    A padded batch of the decodable clips of one loader step, and the failures of that step.

    Args:
        items: the successfully decoded items, in the order of the rows of `input_values` (their own
            `input_values` are dropped once padded: row `i` up to `num_samples[i]` is item `i`'s audio).
        failures: the items that carry an error.
        input_values: `torch.FloatTensor` of shape `(batch_size, max_num_samples)`, or None when every item failed.
        num_samples: `torch.LongTensor` of shape `(batch_size,)`, the valid samples of each row.
    """

    items: list[AudioItem]
    failures: list[AudioItem]
    input_values: torch.Tensor | None = None
    num_samples: torch.Tensor | None = None

    @property
    def attention_mask(self) -> torch.Tensor | None:
        """`torch.LongTensor` of shape `(batch_size, max_num_samples)`, 1 on real samples (built on demand: a
        worker sends only `num_samples`, as the int64 mask would be twice the size of the audio)."""
        if self.input_values is None:
            return None
        frames = torch.arange(self.input_values.shape[1], device=self.num_samples.device)
        return (frames[None, :] < self.num_samples[:, None]).long()

    @property
    def is_padded(self) -> bool:
        """Whether any row is shorter than the batch (else the model needs no mask)."""
        return self.input_values is not None and bool((self.num_samples < self.input_values.shape[1]).any())

    def pin_memory(self) -> "AudioBatch":
        """Page-locked copies of the tensors (called by the DataLoader when `pin_memory=True`)."""
        if self.input_values is not None:
            self.input_values = self.input_values.pin_memory()
            self.num_samples = self.num_samples.pin_memory()
        return self


class AudioBatchCollator:
    """
    Splits items into failures and clips, and pads the clips at the end with the feature extractor's
    `padding_value` (as its `pad(padding="longest")` does). The rows are stacked by torch's `default_collate`, which in
    a DataLoader worker writes them straight into shared memory: the main process maps the batch instead of
    receiving a copy through a pipe.
    """

    def __init__(self, feature_extractor: SoundNetFeatureExtractor):
        self.feature_extractor = feature_extractor

    def __call__(self, items: list[AudioItem]) -> AudioBatch:
        good = [item for item in items if item.error is None]
        batch = AudioBatch(items=good, failures=[item for item in items if item.error is not None])
        if good:
            rows = [torch.from_numpy(item.input_values).to(torch.float32) for item in good]
            lengths = [row.shape[0] for row in rows]
            width, value = max(lengths), float(self.feature_extractor.padding_value)
            rows = [
                F.pad(row, (0, width - row.shape[0]), value=value) if row.shape[0] < width else row for row in rows
            ]
            batch.input_values = default_collate(rows)
            batch.num_samples = torch.tensor(lengths, dtype=torch.long)
            for item in good:  # the rows of `input_values` hold the audio now; a worker would send it twice
                item.input_values = None
        return batch


def length_sorted_batches(sources: Sequence[AudioSource], batch_size: int) -> list[list[int]]:
    """Index batches with sources of similar size together (less padding), largest first (memory errors early)."""
    order = sorted(range(len(sources)), key=lambda i: -source_size(sources[i]))
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def make_loader(
    dataset: AudioFileDataset, batch_size: int = 8, num_workers: int = 0, pin_memory: bool = False
) -> DataLoader:
    """
    A DataLoader of [`AudioBatch`]es; sources of similar size share a batch when the size is cheap to read.
    `pin_memory=True` (for a GPU) puts each batch in page-locked memory for asynchronous copies.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    if num_workers > 0:
        preload_decoder()  # forked workers inherit FFmpeg's libraries instead of each loading them (0.85 s here)
    sizes_are_cheap = isinstance(dataset.sources, (list, tuple))  # a lazy column would be read whole to sort
    batches = (
        length_sorted_batches(dataset.sources, batch_size)
        if sizes_are_cheap
        else [list(range(i, min(i + batch_size, len(dataset)))) for i in range(0, len(dataset), batch_size)]
    )
    return DataLoader(
        dataset,
        batch_sampler=batches,
        num_workers=num_workers,
        collate_fn=AudioBatchCollator(dataset.feature_extractor),
        pin_memory=pin_memory,
    )


class ForwardOutput(NamedTuple):
    """
    What [`forward_batch`] returns.

    Args:
        hidden_states: one `torch.FloatTensor` of shape `(batch_size, channels_i, frames_i)` per block that ran.
        object_logits: `(batch_size, num_steps, num_object_classes)`, or None without heads or with `num_blocks`.
        scene_logits: `(batch_size, num_steps, num_scene_classes)`, or None likewise.
    """

    hidden_states: tuple[torch.Tensor, ...]
    object_logits: torch.Tensor | None
    scene_logits: torch.Tensor | None


PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def inference_engine(model: torch.nn.Module, fast: bool = True, precision: str = "fp32") -> torch.nn.Module:
    """
    What [`forward_batch`] runs: the model itself (`fast=False`, fp32 only), or a [`FastSoundNet`] built from its
    weights (BN folded, GEMM first convolutions; equal to the eager model to 1e-4 in fp32), in `precision`
    (`"fp32"`, `"bf16"` or `"fp16"`; the reduced ones agree to about 1e-2 and 2e-3 and pay off mostly on GPUs).
    """
    from .fast_forward import FastSoundNet

    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}.")
    if not fast:
        if precision != "fp32":
            raise ValueError("Reduced precision needs the fast forward (drop fast=False / --eager).")
        return model
    return FastSoundNet.from_model(model, compute_dtype=PRECISIONS[precision]).eval()


@torch.inference_mode()
def forward_batch(
    model: torch.nn.Module,
    input_values: torch.Tensor,
    attention_mask: torch.Tensor | None,
    num_blocks: int | None = None,
) -> ForwardOutput:
    """
    The model forward of batched inference, for the transformers model or its [`FastSoundNet`].

    Args:
        model: a SoundNet model in eval mode (`SoundNetModel`, `SoundNetForPreTraining` or
            `SoundNetForAudioClassification`), or the [`FastSoundNet`] that [`inference_engine`] built from one; the
            conv8 heads run when it has them and all blocks run.
        input_values: `torch.FloatTensor` of shape `(batch_size, num_samples)`, scaled waveforms.
        attention_mask: `torch.LongTensor` of shape `(batch_size, num_samples)`, or None for an unpadded batch.
        num_blocks: run only the first `num_blocks` blocks (and no heads).

    Returns:
        [`ForwardOutput`]: every block's output, and the per-step head logits.
    """
    from .fast_forward import FastSoundNet

    if isinstance(model, FastSoundNet):
        outputs = model(input_values, attention_mask=attention_mask, num_blocks=num_blocks)
        return ForwardOutput(outputs.hidden_states, outputs.object_logits, outputs.scene_logits)
    device = next(model.parameters()).device
    input_values = input_values.to(device)
    attention_mask = attention_mask.to(device) if attention_mask is not None else None
    outputs = trunk_of(model)(
        input_values, attention_mask=attention_mask, output_hidden_states=True, return_dict=True, num_blocks=num_blocks
    )
    object_logits = scene_logits = None
    if has_heads(model) and (num_blocks is None or num_blocks >= model.config.num_blocks):
        object_logits, scene_logits, _ = model._heads_forward(outputs.last_hidden_state, None)
    return ForwardOutput(outputs.hidden_states, object_logits, scene_logits)


def run_batches(
    model: torch.nn.Module,
    loader: DataLoader,
    num_blocks: int | None = None,
    fast: bool = True,
    precision: str = "fp32",
) -> Iterator[tuple[AudioBatch, ForwardOutput | None]]:
    """
    Yields each loader batch with its [`forward_batch`] output (None when every item of the batch failed), run by
    [`inference_engine`]`(model, fast, precision)`.
    """
    batches = iter(loader)  # worker processes start decoding while the engine is built
    engine = inference_engine(model, fast=fast, precision=precision)
    for batch in batches:
        output = None
        if batch.items:
            mask = batch.attention_mask if batch.is_padded else None  # an unpadded batch needs no mask
            output = forward_batch(engine, batch.input_values, mask, num_blocks=num_blocks)
        yield batch, output


def load_model_and_extractor(name_or_path: str | os.PathLike, device: str = "cpu") -> tuple[Any, Any]:
    """
    Loads a SoundNet checkpoint (a directory or a Hub id) for inference through transformers' Auto classes.

    Returns:
        `(model, feature_extractor)`, the model in eval mode on `device`.
    """
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

    path = Path(name_or_path)
    if not path.exists() and str(name_or_path).count("/") != 1:
        raise FileNotFoundError(
            f"{name_or_path}: no such checkpoint directory. Convert the released weights with "
            "`soundnet convert --output-dir soundnet8`, or pass a Hub id."
        )
    model = AutoModelForAudioClassification.from_pretrained(str(name_or_path)).eval().to(device)
    extractor = AutoFeatureExtractor.from_pretrained(str(name_or_path))
    return model, extractor


__all__ = [
    "AudioBatch",
    "AudioBatchCollator",
    "AudioFileDataset",
    "AudioItem",
    "ForwardOutput",
    "forward_batch",
    "inference_engine",
    "has_heads",
    "length_sorted_batches",
    "load_model_and_extractor",
    "make_loader",
    "run_batches",
    "source_name",
    "trunk_of",
]
