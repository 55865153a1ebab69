"""Many audio sources as padded batches: decoding in DataLoader workers, one bad file never losing its batch.

[`AudioFileDataset`] decodes paths, encoded bytes or `{"path", "bytes"}` records with the checkpoint's feature
extractor (rate, channel policy, repetition of short clips, scaling); a source that cannot be decoded becomes an
[`AudioItem`] carrying its error message instead of raising. [`make_loader`] batches sources of similar size and
[`AudioBatchCollator`] pads them. Used by inference (`hf_soundnet.inference`) and by fine-tuning and the linear probe
(`hf_soundnet.downstream`).
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, default_collate

from ..feature_extraction_soundnet import SoundNetFeatureExtractor
from .decoding import check_decoder, load_audio, preload_decoder


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
        decoder: `"torchcodec"` or `"ffmpeg"` (the program; see `hf_soundnet.audio.decoding.load_audio`).
    """

    def __init__(
        self,
        sources: Sequence[AudioSource],
        feature_extractor: SoundNetFeatureExtractor,
        names: Sequence[str] | None = None,
        decoder: str = "torchcodec",
    ):
        if names is not None and len(names) != len(sources):
            raise ValueError(f"Got {len(names)} names for {len(sources)} sources.")
        check_decoder(decoder)
        self.sources = sources
        self.feature_extractor = feature_extractor
        self.names = names
        self.decoder = decoder

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
            waveform = load_audio(
                source, extractor.sampling_rate, name=name, channel_mode=extractor.channel_mode, decoder=self.decoder
            )
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
    `pin_memory=True` (for a GPU) puts each batch in page-locked memory for asynchronous copies. With workers, the
    dataset's decoder is loaded first (torchcodec only when it decodes: the `ffmpeg` program needs no import).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    if num_workers > 0:
        preload_decoder(dataset.decoder)  # forked workers inherit FFmpeg's libraries instead of each loading them
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


__all__ = [
    "AudioBatch",
    "AudioBatchCollator",
    "AudioFileDataset",
    "AudioItem",
    "AudioSource",
    "length_sorted_batches",
    "make_loader",
    "source_name",
    "source_size",
]
