"""The SoundNet pre-training corpus: a folder of Parquet shards that `datasets` streams, described by a dataset card.

Layout of a corpus folder:

```
README.md               dataset card (YAML: `configs` for `load_dataset(DIR)`, `dataset_info`, `soundnet_corpus`)
soundnet_corpus.json    the same `soundnet_corpus` block, machine-readable (`CorpusInfo`)
data/shard-r{rank}-{index}.parquet   records (one per video), written by rank `rank` of the builder
failures/rank-{rank}.jsonl           videos that could not be turned into records, with the reason
corrupt/shard-r{rank}-{index}.parquet  shards found unreadable (truncated, not Parquet) and set aside by a resumed build
```

One record (row) per video:

| column | type | meaning |
|---|---|---|
| `key` | string | unique id of the video (its path under the videos folder, without extension) |
| `source` | string | the video's path relative to the videos folder |
| `duration` | float32 | seconds of audio stored |
| `num_steps` | int32 | teacher steps `T` (one per `step_seconds`; 1 for a clip shorter than one step) |
| `audio` | binary | the audio, encoded (`audio_format`, FLAC by default), mono, `sampling_rate` Hz |
| `teacher_{name}` | Array2D `(T, num_classes)` float32 | a classifier teacher's softmax per step, one column per teacher |
| `teacher_{name}` | Array2D `(T, dim)` float16 | an embedding teacher's L2-normalised image embedding per step |

Audio is stored as raw encoded bytes rather than `datasets.Audio` on purpose: `datasets` decodes `Audio` inside its
iterator, where a corrupt record raises and ends the stream; bytes are decoded by the reader
(`hf_soundnet.pretraining.data`), which skips and counts a bad record instead. For the same reason the stream reads
the shards itself (`iter_shard_records`, one `datasets` shard per file): `datasets`' Parquet reader raises on a
truncated file, which ends the whole stream; here an unreadable shard is skipped with a warning naming it.
"""

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import SoundNetError


logger = logging.getLogger(__name__)

CORPUS_INFO_FILE = "soundnet_corpus.json"
DATA_DIR = "data"
FAILURES_DIR = "failures"
CORRUPT_DIR = "corrupt"
SHARD_PATTERN = "shard-r{rank:03d}-{index:05d}.parquet"
TEACHER_COLUMN_PREFIX = "teacher_"
FORMAT_VERSION = 1


class CorpusError(SoundNetError, ValueError):
    """A corpus folder that is missing, inconsistent, or was built with other settings; the message says which."""


class CorruptShardError(CorpusError):
    """A Parquet shard that cannot be read (truncated, not Parquet, damaged pages); the message names the file."""


# Kinds of teacher (`TeacherInfo.kind`): an image classifier's softmax, a zero-shot classifier made from an image-text
# model and a label list (also a softmax), or an image-text model's L2-normalised image embedding.
TEACHER_KINDS = ("classifier", "zero_shot", "embedding")


@dataclass
class TeacherInfo:
    """
    One image teacher: its column is `teacher_{name}`, with `num_classes` entries per step.

    Args:
        name: the teacher's name in the corpus.
        model: Hub id or folder of the teacher model.
        num_classes: entries per step: classes of a distribution, or the dimension of an embedding.
        labels: class names in id order (empty for an embedding).
        kind: `"classifier"` (an image classifier's softmax, the original's teachers), `"zero_shot"` (softmax over
            text prompts of an image-text model, one per label) or `"embedding"` (an image-text model's image
            embedding, L2-normalised, stored as float16). Corpora written before the field existed are classifiers.
        prompt: the prompt template of a `"zero_shot"` teacher (`"a photo of a {label}."`).
    """

    name: str
    model: str
    num_classes: int
    labels: list[str] = field(default_factory=list)
    kind: str = "classifier"
    prompt: str | None = None

    def __post_init__(self):
        if self.kind not in TEACHER_KINDS:
            raise CorpusError(f"Teacher {self.name!r}: unknown kind {self.kind!r}; one of {TEACHER_KINDS}.")

    @property
    def column(self) -> str:
        return f"{TEACHER_COLUMN_PREFIX}{self.name}"

    @property
    def is_embedding(self) -> bool:
        """Whether the column holds embeddings (not distributions)."""
        return self.kind == "embedding"

    @property
    def dim(self) -> int:
        """Entries per step (the embedding dimension of an embedding teacher)."""
        return self.num_classes

    @property
    def dtype(self) -> str:
        """Storage type of the column: float16 for embeddings (unit vectors, 3-4 significant digits), else float32."""
        return "float16" if self.is_embedding else "float32"


@dataclass
class CorpusInfo:
    """
    What every record of a corpus shares: the audio rate and codec, the teacher step, and the teachers.

    Args:
        teachers: the image teachers, in the order of `--teacher` at build time.
        sampling_rate: audio rate in Hz (22,050, SoundNet's).
        step_seconds: one teacher step (one video frame) per this many seconds (5.0: the original's 4 per 20 s).
        frame_position: where in its step the frame is taken: `"centre"` (at `(t + 0.5) * step_seconds`).
        audio_format: codec of the `audio` column (`"flac"`, `"mp3"` or `"wav"`), decodable by torchcodec.
        channel_mode: how the video's audio became mono (`"first"` channel, the original's choice, or `"mean"`).
    """

    teachers: list[TeacherInfo]
    sampling_rate: int = 22050
    step_seconds: float = 5.0
    frame_position: str = "centre"
    audio_format: str = "flac"
    channel_mode: str = "first"
    format_version: int = FORMAT_VERSION

    @property
    def step_samples(self) -> int:
        """Audio samples per teacher step (110,250 at the defaults)."""
        return round(self.step_seconds * self.sampling_rate)

    def teacher(self, name: str) -> TeacherInfo:
        for teacher in self.teachers:
            if teacher.name == name:
                return teacher
        raise CorpusError(f"The corpus has no teacher {name!r}; it has {[t.name for t in self.teachers]}.")

    def features(self):
        """The `datasets.Features` of a record (see the module docstring)."""
        import datasets

        columns = {
            "key": datasets.Value("string"),
            "source": datasets.Value("string"),
            "duration": datasets.Value("float32"),
            "num_steps": datasets.Value("int32"),
            "audio": datasets.Value("binary"),
        }
        for teacher in self.teachers:
            columns[teacher.column] = datasets.Array2D((None, teacher.num_classes), teacher.dtype)
        return datasets.Features(columns)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "CorpusInfo":
        values = dict(values)
        values["teachers"] = [TeacherInfo(**teacher) for teacher in values["teachers"]]
        return cls(**values)

    def settings(self) -> dict[str, Any]:
        """
        Everything but the label lists of classifiers (the model fixes them): what must agree between a resumed build
        and the corpus on disk. A zero-shot teacher keeps its labels (the user chose them); fields left at their
        defaults since the format's first version (`kind`, `prompt`) are left out, so older corpora resume.
        """
        values = self.to_dict()
        teachers = []
        for teacher in values["teachers"]:
            keep = {k: v for k, v in teacher.items() if k not in ("labels", "kind", "prompt")}
            if teacher["kind"] != "classifier":
                keep["kind"] = teacher["kind"]
            if teacher["kind"] == "zero_shot":
                keep["labels"], keep["prompt"] = teacher["labels"], teacher["prompt"]
            teachers.append(keep)
        values["teachers"] = teachers
        return values


def save_corpus_info(corpus_dir: str | os.PathLike, info: CorpusInfo) -> None:
    path = Path(corpus_dir) / CORPUS_INFO_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info.to_dict(), indent=2) + "\n")
    os.replace(tmp, path)


def load_corpus_info(corpus_dir: str | os.PathLike) -> CorpusInfo:
    """Reads `soundnet_corpus.json`; raises `CorpusError` naming the folder when it is not a corpus."""
    path = Path(corpus_dir) / CORPUS_INFO_FILE
    if not path.is_file():
        raise CorpusError(
            f"{corpus_dir}: not a SoundNet corpus ({CORPUS_INFO_FILE} is missing); build one with "
            "examples/build_corpus.py --videos DIR --output_dir DIR --teachers MODEL ..."
        )
    try:
        return CorpusInfo.from_dict(json.loads(path.read_text()))
    except (json.JSONDecodeError, TypeError, KeyError) as err:
        raise CorpusError(f"{path}: unreadable corpus description ({err}).") from err


def list_shards(corpus_dir: str | os.PathLike) -> list[Path]:
    """The finished Parquet shards of a corpus, sorted by name (unfinished `.tmp` files are ignored)."""
    return sorted((Path(corpus_dir) / DATA_DIR).glob("*.parquet"))


def shard_path(corpus_dir: str | os.PathLike, rank: int, index: int) -> Path:
    return Path(corpus_dir) / DATA_DIR / SHARD_PATTERN.format(rank=rank, index=index)


def next_shard_index(corpus_dir: str | os.PathLike, rank: int) -> int:
    """
    The index of the next shard `rank` writes: one past its highest finished shard (0 when it has none), so a gap
    (a shard set aside as unreadable) is never refilled over the shards after it.
    """
    prefix = SHARD_PATTERN.format(rank=rank, index=0).rsplit("-", 1)[0] + "-"
    indices = [
        int(shard.name[len(prefix) : -len(".parquet")])
        for shard in list_shards(corpus_dir)
        if shard.name.startswith(prefix) and shard.name[len(prefix) : -len(".parquet")].isdigit()
    ]
    return max(indices, default=-1) + 1


def write_shard(records: list[dict[str, Any]], path: str | os.PathLike, info: CorpusInfo) -> Path:
    """
    Writes `records` (dicts with the columns of `info.features()`) as one Parquet shard, atomically: the file appears
    under its final name only once complete, so an interrupted build never leaves a half shard that looks finished.
    """
    import datasets
    import pyarrow.parquet as pq

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = datasets.Dataset.from_list(records, features=info.features()).data.table
    tmp = path.with_name(path.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, path)
    return path


def read_column(shard: str | os.PathLike, column: str) -> list[Any]:
    """One column of one shard (Parquet is columnar, so this does not read the audio)."""
    import pyarrow.parquet as pq

    return pq.read_table(shard, columns=[column], use_threads=False).column(column).to_pylist()


def read_shard_keys(shard: str | os.PathLike) -> list[str]:
    """The `key` column of one shard; raises `CorruptShardError` naming the shard when it cannot be read."""
    import pyarrow as pa

    try:
        return read_column(shard, "key")
    except (pa.ArrowException, OSError) as err:
        raise CorruptShardError(corrupt_shard_message(shard, err)) from err


def key_to_shard(corpus_dir: str | os.PathLike) -> dict[str, str]:
    """Maps every record's `key` to the file name of its shard; raises `CorruptShardError` on an unreadable shard."""
    return {key: shard.name for shard in list_shards(corpus_dir) for key in read_shard_keys(shard)}


def corrupt_shard_message(shard: str | os.PathLike, err: BaseException) -> str:
    return (
        f"{shard}: unreadable Parquet shard, truncated or damaged ({type(err).__name__}: {err}). Rebuild it: re-run "
        "examples/build_corpus.py with the same options (it sets the shard aside and builds its videos again)."
    )


def shard_error(shard: str | os.PathLike) -> str | None:
    """
    Why `shard` cannot be read, or None when it can: opens its footer (metadata and schema) and reads its `key`
    column. A truncated file (an interrupted copy, a full disk) loses its footer and fails here; damage inside the
    audio pages is only found while streaming (`iter_shard_records`).
    """
    import pyarrow as pa

    try:
        read_column(shard, "key")
    except (pa.ArrowException, OSError) as err:
        return corrupt_shard_message(shard, err)
    return None


def find_corrupt_shards(corpus_dir: str | os.PathLike) -> dict[Path, str]:
    """`shard -> reason` of every shard of the corpus that `shard_error` finds unreadable."""
    errors = {shard: shard_error(shard) for shard in list_shards(corpus_dir)}
    return {shard: error for shard, error in errors.items() if error is not None}


def check_readable_shards(corpus_dir: str | os.PathLike, strict: bool = False) -> list[Path]:
    """
    The shards a reader can open (`shard_error`), before streaming: logs a warning naming each unreadable one.

    Raises:
        CorruptShardError: `strict` and a shard is unreadable (the first one named).
        CorpusError: no shard at all, or none readable.
    """
    shards = list_shards(corpus_dir)
    if not shards:
        raise CorpusError(f"{corpus_dir}: the corpus has no shards in {DATA_DIR}/; build it first.")
    bad = find_corrupt_shards(corpus_dir)
    if bad and strict:
        raise CorruptShardError(next(iter(bad.values())))
    for error in bad.values():
        logger.warning("skipping %s", error)
    if len(bad) == len(shards):
        raise CorpusError(f"{corpus_dir}: none of its {len(shards)} shards can be read; rebuild the corpus.")
    return [shard for shard in shards if shard not in bad]


def set_aside_shard(corpus_dir: str | os.PathLike, shard: str | os.PathLike) -> Path:
    """Moves an unreadable shard to `corrupt/` (out of `data/`, so no reader sees it); returns its new path."""
    target_dir = Path(corpus_dir) / CORRUPT_DIR
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / Path(shard).name
    suffix = 1
    while target.exists():  # the same shard name torn twice: keep both copies
        target = target_dir / f"{Path(shard).name}.{suffix}"
        suffix += 1
    os.replace(shard, target)
    return target


def is_corrupt_shard_marker(record: dict[str, Any]) -> bool:
    """True for the record `iter_shard_records(mark_corrupt=True)` yields in place of an unreadable shard."""
    return record.get("key") is None


def iter_shard_records(
    shards: list[str], info: CorpusInfo, strict: bool = False, mark_corrupt: bool = False, batch_size: int = 8
):
    """
    Records of `shards`, read with pyarrow one batch at a time; a shard that cannot be read is skipped.

    Args:
        shards: Parquet files (the `datasets` shards of the stream: one list entry per file).
        info: the corpus settings (the columns read).
        strict: raise `CorruptShardError` naming the shard instead of skipping it.
        mark_corrupt: in place of an unreadable shard (or of its unread rest), yield a marker record whose `key` is
            None and whose `source` is the error naming the shard (`is_corrupt_shard_marker`), so a reader can count
            it.
        batch_size: rows read at once.

    Yields:
        dicts with the columns of `info.features()`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(info.features())
    for shard in shards:
        try:
            with pq.ParquetFile(shard) as parquet:
                for batch in parquet.iter_batches(batch_size=batch_size, columns=columns):
                    yield from batch.to_pylist()
        except (pa.ArrowException, OSError) as err:
            message = corrupt_shard_message(shard, err)
            if strict:
                raise CorruptShardError(message) from err
            logger.warning("skipped the rest of %s", message)
            if mark_corrupt:
                yield dict.fromkeys(columns) | {"source": message}


def load_streaming_corpus(
    corpus_dir: str | os.PathLike, split: str = "train", strict: bool = False, mark_corrupt_shards: bool = False
):
    """
    The corpus as a streaming `datasets.IterableDataset` with one shard per Parquet file.

    Yields the records `load_dataset(corpus_dir, streaming=True, split="train")` yields (the dataset card's YAML names
    the same files), but an unreadable shard is skipped with a warning naming it instead of ending the stream
    (`iter_shard_records`; `strict=True` raises `CorruptShardError`, `mark_corrupt_shards=True` yields a marker record
    for it). The shard list is explicit, so this also works on a corpus whose card is not written yet; `datasets`
    still splits it between processes and DataLoader workers by whole files and shuffles their order.
    """
    import datasets

    info = load_corpus_info(corpus_dir)
    shards = list_shards(corpus_dir)
    if not shards:
        raise CorpusError(f"{corpus_dir}: the corpus has no shards in {DATA_DIR}/; build it first.")
    return datasets.IterableDataset.from_generator(
        iter_shard_records,
        features=info.features(),
        gen_kwargs={
            "shards": [str(s) for s in shards],
            "info": info,
            "strict": strict,
            "mark_corrupt": mark_corrupt_shards,
        },
        split=split,
    )


def teacher_array(record: dict[str, Any], teacher: TeacherInfo) -> np.ndarray:
    """A record's distributions (or embeddings) for one teacher as float32 `(num_steps, num_classes)`."""
    return np.asarray(record[teacher.column], dtype=np.float32).reshape(-1, teacher.num_classes)


__all__ = [
    "CORPUS_INFO_FILE",
    "CorpusError",
    "CorpusInfo",
    "CorruptShardError",
    "check_readable_shards",
    "TEACHER_KINDS",
    "TeacherInfo",
    "find_corrupt_shards",
    "is_corrupt_shard_marker",
    "iter_shard_records",
    "key_to_shard",
    "list_shards",
    "next_shard_index",
    "load_corpus_info",
    "load_streaming_corpus",
    "read_column",
    "read_shard_keys",
    "save_corpus_info",
    "set_aside_shard",
    "shard_error",
    "shard_path",
    "teacher_array",
    "write_shard",
]
