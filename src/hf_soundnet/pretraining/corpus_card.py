"""The dataset card (README.md with YAML) of a SoundNet corpus: what `load_dataset(DIR, streaming=True)` reads, and the
schema, teachers and settings in words."""

import os
from pathlib import Path

import yaml

from .corpus import CORPUS_INFO_FILE, DATA_DIR, CorpusInfo, list_shards, read_column


# How the card names each kind of teacher (`TeacherInfo.kind`).
TEACHER_KIND_WORDS = {
    "classifier": "image classifier (softmax)",
    "zero_shot": "zero-shot classifier (softmax over prompts)",
    "embedding": "image embedding (L2-normalised)",
}


def corpus_statistics(corpus_dir: str | os.PathLike) -> dict[str, float]:
    """Shards, records and hours of audio of a corpus, read from the `duration` column only."""
    shards = list_shards(corpus_dir)
    durations = [d for shard in shards for d in read_column(shard, "duration")]
    return {"num_shards": len(shards), "num_records": len(durations), "hours": sum(durations) / 3600}


def dataset_card(info: CorpusInfo, statistics: dict[str, float]) -> str:
    """The card's text: YAML front matter (`configs`, `dataset_info`, `soundnet_corpus`) and the schema."""
    features = info.features()
    front_matter = {
        "configs": [{"config_name": "default", "data_files": [{"split": "train", "path": f"{DATA_DIR}/*.parquet"}]}],
        "dataset_info": {"features": features._to_yaml_list()},
        "tags": ["audio", "soundnet", "distillation"],
        "soundnet_corpus": info.settings(),
    }
    teacher_rows = "\n".join(
        f"| `{t.column}` | `{t.model}` | {TEACHER_KIND_WORDS[t.kind]} | "
        f"{f'dimension {t.dim}' if t.is_embedding else f'{t.num_classes} classes'} | "
        f"Array2D `(num_steps, {t.num_classes})` {t.dtype} |"
        for t in info.teachers
    )
    prompts = "".join(
        f"\n- Zero-shot teacher `{t.name}`: prompt `{t.prompt}` per label; its distribution is "
        "`softmax(exp(logit_scale) * cos(image embedding, prompt embedding))` (see "
        "`hf_soundnet.pretraining.image_text_teachers`)."
        for t in info.teachers
        if t.kind == "zero_shot"
    )
    return f"""---
{yaml.safe_dump(front_matter, sort_keys=False).strip()}
---

# SoundNet pre-training corpus

Built by `examples/build_corpus.py` of hf-soundnet: one record per video, {int(statistics["num_records"])} records
({statistics["hours"]:.2f} hours of audio) in {int(statistics["num_shards"])} Parquet shards.

```python
from datasets import load_dataset
corpus = load_dataset("path/to/this/folder", split="train", streaming=True)
```

## Record schema

| column | type | meaning |
|---|---|---|
| `key` | string | unique id: the video's path relative to the videos folder |
| `source` | string | the video file the record was built from |
| `duration` | float32 | seconds of audio |
| `num_steps` | int32 | teacher steps `T`: `floor(duration / {info.step_seconds:g})`, at least 1 |
| `audio` | binary | {info.audio_format.upper()} bytes, mono ({info.channel_mode} channel of the video), {info.sampling_rate} Hz |

Teachers (one column each, one row per step: the softmax of an image classifier, the zero-shot softmax of an image-text
model over text prompts, or an image-text model's L2-normalised image embedding):

| column | model | kind | width | type |
|---|---|---|---|---|
{teacher_rows}

## Settings

- Teacher step: {info.step_seconds:g} s. Step `t` covers seconds `[t * {info.step_seconds:g}, (t + 1) * {info.step_seconds:g})`
  of the audio; its frame is the one shown at the step's {info.frame_position} (`(t + 0.5) * {info.step_seconds:g}` s).
  A clip shorter than one step has one step, whose frame is taken at the middle of the clip.
- Audio bytes are decoded with `hf_soundnet.load_audio(record["audio"], sampling_rate={info.sampling_rate})`
  (torchcodec); they are stored as bytes, not `datasets.Audio`, so that a reader can skip a corrupt record.
- Label lists of the teachers: `{CORPUS_INFO_FILE}` (`teachers[i].labels`, index = class id).
- Videos that could not be read are listed with the reason in `failures/`.{prompts}
"""


def write_dataset_card(corpus_dir: str | os.PathLike, info: CorpusInfo) -> Path:
    """Writes `README.md` from the shards now on disk."""
    path = Path(corpus_dir) / "README.md"
    path.write_text(dataset_card(info, corpus_statistics(corpus_dir)))
    return path


__all__ = ["TEACHER_KIND_WORDS", "corpus_statistics", "dataset_card", "write_dataset_card"]
