"""Which sounds most activate each unit of a layer: a top-k search over a collection, one file at a time.

The score of unit `c` at frame `t` of a layer is the layer's output there, `hidden_states[layer][c, t]` (after the
block's ReLU and max-pool: the values `soundnet extract` writes; for `conv8`, the head's logit of class `c`). A
segment is one `(file, frame)`; its sound is the frame's receptive field, samples
`[t * hop + offset, t * hop + offset + receptive_field)` of the file at the model's rate (the layer table's row),
clamped to the audio, so the clip is centred on what the unit heard.

Only frames whose whole receptive field lies inside the audio count, unless `edge_frames=True`: a frame whose field
reaches past the file's start or end reads the layers' zero padding, and such edge frames win for nearly every unit
(on the shared recordings, the last conv7 frame is the top frame of 1,019 of the 1,024 conv7 units of SoundNet-8), so
they would say more about the padding than about sounds. A file shorter than one field has no such frame: it is
skipped ([`TooShortForLayer`]).

Each unit's top segments are the `top_k` highest scores over every frame of every file, taking at most `per_file` of
them from one file (0: no limit; neighbouring frames of one loud event would otherwise fill the list). Ties go to
the earlier file, then the earlier frame. Files are streamed (`hf_soundnet.inference.streaming`: decoded
progressively and run in chunks with exact context, the frames of a whole-file forward), so memory holds one chunk
and, per unit, `top_k + per_file` candidates, whatever the number and length of the files.
"""

import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..configuration_soundnet import SoundNetLayerInfo
from ..errors import SoundNetError
from ..fast_forward_soundnet import FastSoundNet
from ..inference.features import head_channels
from ..inference.streaming import iter_file_waveform, stream_layers


class TooShortForLayer(SoundNetError, ValueError):
    """A file with no frame whose receptive field lies inside it (shorter than the layer's receptive field)."""


@dataclass(frozen=True)
class UnitSegment:
    """
    One of a unit's top segments.

    Args:
        unit: the unit (channel) of the layer.
        rank: 0 for the most activating segment.
        file_index: position of the file in the searched list.
        path: the file.
        frame: the layer's frame.
        score: the unit's activation at that frame.
        start_s, end_s: the frame's receptive field in the file, clamped to the audio, in seconds.
        center_s: the middle of the (unclamped) receptive field, in seconds.
    """

    unit: int
    rank: int
    file_index: int
    path: str
    frame: int
    score: float
    start_s: float
    end_s: float
    center_s: float

    def to_dict(self) -> dict:
        return asdict(self)


def merge_candidates(
    scores: np.ndarray, keys: Sequence[np.ndarray], count: int
) -> tuple[np.ndarray, list[np.ndarray]]:
    """
    Per row, the `count` best of the candidates: highest score first, ties by the `keys` in order (lowest first).

    Args:
        scores: `(units, candidates)`; `-inf` marks an empty slot.
        keys: arrays `(units, candidates)` (file index, frame).

    Returns:
        `(scores (units, count), [key (units, count) ...])`, padded with `-inf` when fewer candidates.
    """
    if scores.shape[1] < count:
        pad = count - scores.shape[1]
        scores = np.pad(scores, ((0, 0), (0, pad)), constant_values=-np.inf)
        keys = [np.pad(key, ((0, 0), (0, pad)), constant_values=np.iinfo(np.int64).max) for key in keys]
    order = np.lexsort([*reversed(keys), -scores], axis=-1)[:, :count]
    return np.take_along_axis(scores, order, 1), [np.take_along_axis(key, order, 1) for key in keys]


class UnitSearch:
    """
    The running top segments of some units of one layer (see the module docstring); feed files with [`add_file`],
    read the result with [`segments`].

    Args:
        fast: a [`FastSoundNet`] (with heads for `conv8`).
        layer: the layer's row (`fast.config.get_layer(name, heads_available=fast.has_heads)`).
        units: the units searched (default: all the layer's channels).
        top_k: segments per unit.
        per_file: at most this many segments of one file per unit (0: no limit).
        edge_frames: also score frames whose receptive field reaches past the file's start or end.
        input_scale, channel_mode: as the checkpoint's feature extractor (x256, first channel).
        chunk_seconds: streamed chunk length.
    """

    def __init__(
        self,
        fast: FastSoundNet,
        layer: SoundNetLayerInfo,
        units: Sequence[int] | None = None,
        *,
        top_k: int = 9,
        per_file: int = 1,
        edge_frames: bool = False,
        input_scale: float = 256.0,
        channel_mode: str = "first",
        chunk_seconds: float = 60.0,
    ):
        if top_k < 1 or per_file < 0:
            raise ValueError(f"top_k must be >= 1 and per_file >= 0, got {top_k} and {per_file}.")
        units = np.arange(layer.channels) if units is None else np.asarray(sorted(set(units)), dtype=np.int64)
        if units.size == 0 or units.min() < 0 or units.max() >= layer.channels:
            raise ValueError(f"units must be in 0..{layer.channels - 1} ({layer.name} has {layer.channels}).")
        self.fast, self.layer, self.units = fast, layer, units
        self.top_k, self.per_file, self.edge_frames = top_k, per_file, edge_frames
        self.input_scale, self.channel_mode, self.chunk_seconds = input_scale, channel_mode, chunk_seconds
        self.paths: list[str] = []
        self.num_samples: list[int] = []
        self.scores = np.full((units.size, top_k), -np.inf, dtype=np.float64)
        self.files = np.zeros((units.size, top_k), dtype=np.int64)
        self.frames = np.zeros((units.size, top_k), dtype=np.int64)

    @property
    def sampling_rate(self) -> int:
        return self.fast.config.sampling_rate

    def _chunks(self, pieces) -> Iterator[tuple[int, np.ndarray]]:
        """`(first frame, values (units, frames))` of the searched units, chunk by chunk."""
        for chunk in stream_layers(self.fast, pieces, [self.layer.name], self.chunk_seconds):
            if self.layer.is_head:
                if "object_logits" not in chunk.values:
                    continue
                values = head_channels(chunk.values["object_logits"], chunk.values["scene_logits"])
                first = chunk.first_frame["object_logits"]
            else:
                values, first = chunk.values[self.layer.name], chunk.first_frame[self.layer.name]
            yield first, values.cpu()[torch.from_numpy(self.units)].double().numpy()

    @torch.inference_mode()
    def add_file(self, path: str | os.PathLike) -> float:
        """
        Streams one file and merges its best frames into each unit's top segments.

        Returns:
            the file's duration in seconds.

        Raises:
            AudioLoadError, ValueError, RuntimeError, OSError: the file could not be decoded or is too short for
            the layer; the search is left as it was.
        """
        counted = [0]

        def pieces() -> Iterator[np.ndarray]:
            for piece in iter_file_waveform(path, self.sampling_rate, self.chunk_seconds, self.channel_mode):
                counted[0] += piece.shape[0]
                yield piece * np.float32(self.input_scale)

        layer = self.layer
        wanted = self.per_file or self.top_k
        # Frames whose field ends past the audio are known only at its end: keep enough spare candidates to drop
        # them then (at most (receptive_field - offset) / hop + 2 frames reach past the end).
        spare = 0 if self.edge_frames else -(-(layer.receptive_field - layer.offset) // layer.hop) + 2
        keep = wanted + spare
        scores = np.full((self.units.size, keep), -np.inf)
        frames = np.zeros((self.units.size, keep), dtype=np.int64)
        for first, values in self._chunks(pieces()):
            if not self.edge_frames:  # fields that start before the audio, known at once
                starts = (first + np.arange(values.shape[1])) * layer.hop + layer.offset
                values = np.where(starts[None, :] < 0, -np.inf, values)
            if values.shape[1] == 0:
                continue
            order = np.argsort(-values, axis=1, kind="stable")[:, :keep]
            candidates = np.take_along_axis(values, order, 1)
            scores, (frames,) = merge_candidates(
                np.concatenate([scores, candidates], 1), [np.concatenate([frames, order + first], 1)], keep
            )
        if not self.edge_frames:
            ends = frames * layer.hop + layer.offset + layer.receptive_field
            scores = np.where(ends > counted[0], -np.inf, scores)
        scores, (frames,) = merge_candidates(scores, [frames], wanted)
        if not np.isfinite(scores).any():
            raise TooShortForLayer(
                f"{path}: no {layer.name} frame "
                + (
                    "at all"
                    if self.edge_frames
                    else f"whose {layer.receptive_field / self.sampling_rate:.2f} s field fits in it"
                )
                + f" ({counted[0] / self.sampling_rate:.2f} s of audio); skipped."
            )
        index = len(self.paths)
        file_column = np.where(np.isfinite(scores), index, np.iinfo(np.int64).max)
        self.scores, (self.files, self.frames) = merge_candidates(
            np.concatenate([self.scores, scores], 1),
            [np.concatenate([self.files, file_column], 1), np.concatenate([self.frames, frames], 1)],
            self.top_k,
        )
        self.paths.append(os.fspath(path))
        self.num_samples.append(counted[0])
        return counted[0] / self.sampling_rate

    def segment(self, unit_row: int, rank: int) -> UnitSegment:
        """The segment at `rank` of the unit in row `unit_row` of `units`."""
        file_index, frame = int(self.files[unit_row, rank]), int(self.frames[unit_row, rank])
        layer, rate = self.layer, self.sampling_rate
        start = frame * layer.hop + layer.offset
        clamped = max(0, start), min(self.num_samples[file_index], start + layer.receptive_field)
        return UnitSegment(
            unit=int(self.units[unit_row]),
            rank=rank,
            file_index=file_index,
            path=self.paths[file_index],
            frame=frame,
            score=float(self.scores[unit_row, rank]),
            start_s=clamped[0] / rate,
            end_s=clamped[1] / rate,
            center_s=(start + layer.receptive_field / 2) / rate,
        )

    def segments(self) -> dict[int, list[UnitSegment]]:
        """Each searched unit's top segments, best first (fewer than `top_k` when the files had fewer frames)."""
        return {
            int(unit): [self.segment(row, rank) for rank in range(self.top_k) if np.isfinite(self.scores[row, rank])]
            for row, unit in enumerate(self.units)
        }


def parse_units(text: str, channels: int) -> list[int]:
    """Units from `"0-15,42"` (ranges inclusive), each checked against the layer's `channels`."""
    units = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError as err:
            raise ValueError(f"units {text!r}: {part!r} is not a number or a range like 0-15.") from err
        if not 0 <= first <= last < channels:
            raise ValueError(f"units {text!r}: {part!r} is outside 0..{channels - 1}.")
        units.extend(range(first, last + 1))
    if not units:
        raise ValueError(f"units {text!r} names no unit.")
    return sorted(set(units))


__all__ = ["TooShortForLayer", "UnitSearch", "UnitSegment", "merge_candidates", "parse_units"]
