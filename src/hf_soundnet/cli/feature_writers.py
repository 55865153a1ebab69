"""Writers of one feature array `(channels, frames)` per input file (npy, safetensors or parquet), and of one
dataset of Parquet shards for all of them (`ParquetDatasetWriter`, `--format parquet-dataset`).

Each per-file writer writes to a temporary name and renames, so an interrupted run never leaves a partial file that resuming would
take as done. The metadata (layer, hop, rate, source) goes inside the file where the format has room for it
(safetensors header, parquet schema) and in `extraction.json` beside the outputs for all formats.
"""

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np


def _write_npy(path: Path, features: np.ndarray, metadata: dict) -> None:
    with path.open("wb") as handle:
        np.save(handle, features)


def _write_safetensors(path: Path, features: np.ndarray, metadata: dict) -> None:
    from safetensors.numpy import save_file

    save_file({"features": features}, str(path), metadata={key: str(value) for key, value in metadata.items()})


def _write_parquet(path: Path, features: np.ndarray, metadata: dict) -> None:
    # One row per frame: `frame`, `time_s` (frame start) and `features` (a fixed-size list of the channels).
    import pyarrow as pa
    import pyarrow.parquet as pq

    channels, frames = features.shape
    flat = pa.array(np.ascontiguousarray(features.T).reshape(-1), type=pa.float32())
    table = pa.table(
        {
            "frame": pa.array(np.arange(frames, dtype=np.int64)),
            "time_s": pa.array(np.arange(frames) * float(metadata["hop_seconds"]), type=pa.float64()),
            "features": pa.FixedSizeListArray.from_arrays(flat, channels),
        }
    )
    table = table.replace_schema_metadata({"soundnet": json.dumps(metadata)})
    pq.write_table(table, str(path))


def read_parquet_features(path: str | os.PathLike) -> np.ndarray:
    """Reads a parquet output back as `(channels, frames)` float32."""
    import pyarrow.parquet as pq

    column = pq.read_table(str(path), columns=["features"]).column("features").combine_chunks()
    channels = column.type.list_size
    return column.flatten().to_numpy().reshape(-1, channels).T.astype(np.float32)


@dataclass(frozen=True)
class FeatureWriter:
    suffix: str
    write: Callable[[Path, np.ndarray, dict], None]


# The format table: --format name -> output suffix (appended to the input's file name) and writer.
WRITERS: dict[str, FeatureWriter] = {
    "npy": FeatureWriter(".npy", _write_npy),
    "safetensors": FeatureWriter(".safetensors", _write_safetensors),
    "parquet": FeatureWriter(".parquet", _write_parquet),
}


def write_features(writer: FeatureWriter, path: Path, features: np.ndarray, metadata: dict) -> None:
    """Writes `features` `(channels, frames)` to `path` atomically (temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        writer.write(temporary, np.ascontiguousarray(features, dtype=np.float32), metadata)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


# `--format parquet-dataset`: shards in this folder of the output, loadable by `load_dataset("parquet", data_dir=OUT)`.
DATASET_FOLDER = "data"
DATASET_FORMAT = "parquet-dataset"


class ParquetDatasetWriter:
    """
    One dataset for all inputs (a `train` split: the shard names follow datasets' split-in-file-name convention, so
    `load_dataset` reads them and not `extraction.json` or `errors.jsonl` beside them): Parquet shards `OUT/data/train-NNNNN.parquet`, one row per frame with the columns
    `path` (the input's path relative to the inputs' common folder, POSIX separators, never absolute), `frame`,
    `time_s` (frame start in seconds) and `features` (the frame's channels, a fixed-size float32 list), the settings
    in each shard's schema metadata (`soundnet`). `datasets.load_dataset("parquet", data_dir=OUT)` loads it (and
    `.push_to_hub(...)` publishes it).

    Shards are named `<prefix>-NNNNN.parquet`: `train-NNNNN` in one process, `train-rank<RRR>-NNNNN` for process
    RRR of a multi-process run (any `train-*` name is read as the train split). A shard holds whole files and is
    written atomically when `rows_per_shard` rows have accumulated (and at
    `close`), so an interrupted run loses at most the files of the shard in flight; `done_paths` lists the files
    already in shards, which a resumed run skips.
    """

    def __init__(self, output: Path, metadata: dict, rows_per_shard: int = 100_000, prefix: str = "train"):
        self.folder = output / DATASET_FOLDER
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.glob(".*.partial"):  # left by a run killed while writing
            stale.unlink(missing_ok=True)  # (the processes of one run all clean up before any writes)
        self.metadata = metadata
        self.rows_per_shard = rows_per_shard
        self.prefix = prefix
        self.pending: list[tuple[str, np.ndarray]] = []
        self.pending_rows = 0

    def shards(self) -> list[Path]:
        """Every shard of the dataset, of any writer."""
        return sorted(self.folder.glob("train-*.parquet"))

    def next_shard(self) -> Path:
        """The name of this writer's next shard: `<prefix>-NNNNN.parquet`, after its own shards on disk."""
        pattern = re.compile(re.escape(self.prefix) + r"-(\d+)\.parquet")
        numbers = [int(match.group(1)) for p in self.shards() if (match := pattern.fullmatch(p.name))]
        return self.folder / f"{self.prefix}-{max(numbers, default=-1) + 1:05d}.parquet"

    def done_paths(self) -> set[str]:
        """Relative paths of the files already written to shards."""
        import pyarrow.compute as pc
        import pyarrow.parquet as pq

        done = set()
        for shard in self.shards():
            done.update(pc.unique(pq.read_table(str(shard), columns=["path"]).column("path")).to_pylist())
        return done

    def add(self, relative: Path, features: np.ndarray) -> None:
        """Queues the features `(channels, frames)` of the input at `relative`; writes a shard when enough rows."""
        if relative.is_absolute():
            raise ValueError(f"{relative}: dataset paths are relative to the inputs' common folder.")
        self.pending.append((relative.as_posix(), np.ascontiguousarray(features, dtype=np.float32)))
        self.pending_rows += features.shape[1]
        if self.pending_rows >= self.rows_per_shard:
            self.flush()

    def flush(self) -> None:
        """Writes the queued files as the next shard (temporary name, then rename)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.pending:
            return
        hop = float(self.metadata["hop_seconds"])
        channels = self.pending[0][1].shape[0]
        paths, frames, flat = [], [], []
        for relative, features in self.pending:
            count = features.shape[1]
            paths += [relative] * count
            frames.append(np.arange(count, dtype=np.int64))
            flat.append(features.T.reshape(-1))
        frame = np.concatenate(frames)
        table = pa.table(
            {
                "path": pa.array(paths, type=pa.string()),
                "frame": pa.array(frame),
                "time_s": pa.array(frame * hop, type=pa.float64()),
                "features": pa.FixedSizeListArray.from_arrays(pa.array(np.concatenate(flat)), channels),
            }
        ).replace_schema_metadata({"soundnet": json.dumps(self.metadata)})
        path = self.next_shard()
        temporary = path.with_name(f".{path.name}.partial")
        try:
            pq.write_table(table, str(temporary))
            temporary.replace(path)
        finally:
            temporary.unlink(missing_ok=True)
        self.pending, self.pending_rows = [], 0

    def close(self) -> None:
        self.flush()


class FeatureSink(Protocol):
    """Where `soundnet extract` puts each input's features: by the input's path relative to the inputs' common
    folder (`relative`), which also says whether an earlier run already did it."""

    def is_done(self, relative: Path) -> bool: ...

    def save(self, relative: Path, features: np.ndarray, metadata: dict) -> None: ...

    def close(self) -> None: ...


class FileSink:
    """One file per input, `OUT/<relative><suffix>`, written atomically by `writer` (`--format npy|safetensors|parquet`)."""

    def __init__(self, output: Path, writer: FeatureWriter):
        self.output = output
        self.writer = writer

    def target(self, relative: Path) -> Path:
        return self.output / relative.with_name(relative.name + self.writer.suffix)

    def is_done(self, relative: Path) -> bool:
        return self.target(relative).exists()

    def save(self, relative: Path, features: np.ndarray, metadata: dict) -> None:
        write_features(self.writer, self.target(relative), features, metadata=metadata)

    def close(self) -> None:
        pass


class ParquetDatasetSink:
    """Every input's frames in one dataset of Parquet shards ([`ParquetDatasetWriter`], `--format parquet-dataset`);
    the metadata is the writer's, in each shard. Each process of a multi-process run writes its own shards
    (`prefix` `train-rank<RRR>`), so the processes never write one file."""

    def __init__(self, output: Path, metadata: dict, prefix: str = "train"):
        self.writer = ParquetDatasetWriter(output, metadata, prefix=prefix)
        self.done = self.writer.done_paths()

    def is_done(self, relative: Path) -> bool:
        return relative.as_posix() in self.done

    def save(self, relative: Path, features: np.ndarray, metadata: dict) -> None:
        self.writer.add(relative, features)

    def close(self) -> None:
        self.writer.close()


__all__ = [
    "DATASET_FOLDER",
    "DATASET_FORMAT",
    "WRITERS",
    "FeatureSink",
    "FeatureWriter",
    "FileSink",
    "ParquetDatasetSink",
    "ParquetDatasetWriter",
    "read_parquet_features",
    "write_features",
]
