"""`soundnet extract --format parquet-dataset`: one dataset of Parquet shards, loadable by `datasets`, equal to the
per-file outputs, with paths relative to the inputs' common folder."""

import json
from pathlib import Path

import numpy as np
import pytest
from _helpers_downstream import BAD_FILES, GOOD_FILES
from test_cli import mixed_folder, tiny_checkpoint  # noqa: F401 (fixtures)

from hf_soundnet.cli import main


datasets = pytest.importorskip("datasets")


def extract(folder: Path, checkpoint: Path, out: Path, fmt: str, layer: str = "conv3") -> int:
    argv = ["extract", str(folder), "--model", str(checkpoint), "--layer", layer, "--output-dir", str(out)]
    return main([*argv, "--format", fmt, "--batch-size", "2", "--num-workers", "0", "--quiet"])


@pytest.mark.parametrize("layer", ["conv3", "conv8"])
def test_dataset_loads_and_equals_the_npy_outputs(mixed_folder, tiny_checkpoint, tmp_path, layer):  # noqa: F811
    per_file, dataset_dir = tmp_path / "npy", tmp_path / "dataset"
    assert extract(mixed_folder, tiny_checkpoint, per_file, "npy", layer) == 1  # the corrupt and the empty file
    assert extract(mixed_folder, tiny_checkpoint, dataset_dir, "parquet-dataset", layer) == 1
    errors = [json.loads(line) for line in (dataset_dir / "errors.jsonl").read_text().splitlines()]
    assert sorted(Path(e["path"]).name for e in errors) == sorted(BAD_FILES)

    table = datasets.load_dataset("parquet", data_dir=str(dataset_dir), split="train")
    assert table.column_names == ["path", "frame", "time_s", "features"]
    settings = json.loads((dataset_dir / "extraction.json").read_text())
    assert settings["format"] == "parquet-dataset"
    # Relative to the inputs' common folder (mixed_folder), POSIX separators, never absolute.
    assert set(table["path"]) == set(GOOD_FILES)
    frame = np.asarray(table["frame"])
    np.testing.assert_array_equal(np.asarray(table["time_s"]), frame * settings["hop_seconds"])
    features = np.asarray(table["features"], dtype=np.float32)
    paths = np.asarray(table["path"])
    for name in GOOD_FILES:
        expected = np.load(per_file / f"{name}.npy")  # (channels, frames)
        rows = np.flatnonzero(paths == name)
        np.testing.assert_array_equal(frame[rows], np.arange(expected.shape[1]))
        # Same batches through the same code: the same floats.
        np.testing.assert_array_equal(features[rows].T, expected)


def test_dataset_resumes_without_duplicates(mixed_folder, tiny_checkpoint, tmp_path):  # noqa: F811
    out = tmp_path / "dataset"
    assert extract(mixed_folder / "sub", tiny_checkpoint, out, "parquet-dataset") == 0
    shards = sorted((out / "data").glob("*.parquet"))
    assert len(shards) == 1
    first = datasets.load_dataset("parquet", data_dir=str(out), split="train")
    assert set(first["path"]) == {"rail.flac", "forest.ogg"}  # relative to mixed_folder/sub, their common folder
    # A rerun finds both files in the shards and writes nothing.
    assert extract(mixed_folder / "sub", tiny_checkpoint, out, "parquet-dataset") == 0
    assert sorted((out / "data").glob("*.parquet")) == shards
    again = datasets.load_dataset("parquet", data_dir=str(out), split="train")
    assert again.num_rows == first.num_rows
