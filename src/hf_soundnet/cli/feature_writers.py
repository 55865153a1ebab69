"""Writers of one feature array `(channels, frames)` per input file: npy, safetensors or parquet.

Each writes to a temporary name and renames, so an interrupted run never leaves a partial file that resuming would
take as done. The metadata (layer, hop, rate, source) goes inside the file where the format has room for it
(safetensors header, parquet schema) and in `extraction.json` beside the outputs for all formats.
"""

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

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


__all__ = ["WRITERS", "FeatureWriter", "read_parquet_features", "write_features"]
