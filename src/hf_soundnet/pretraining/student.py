"""The student of a pre-training run: which corpus teacher trains which head, the model built or loaded with heads
sized to those teachers, and the model card of the trained result (the soundnet5 template filled with the run's
facts)."""

import json
from pathlib import Path
from typing import Any

from huggingface_hub import ModelCard
from transformers import AutoConfig

from ..configuration_soundnet import SOUNDNET_VARIANTS, SoundNetConfig
from ..conversion.convert import MODEL_CARDS
from ..errors import SoundNetError
from ..hub import render_model_card
from ..modeling_soundnet import SoundNetForPreTraining
from .corpus import CorpusError, CorpusInfo
from .data import default_head_teachers


# Files whose presence makes a model folder a checkpoint to start from (else only its config.json is used).
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")


class StudentModelError(SoundNetError, ValueError):
    """A `--model` that cannot be the student of this corpus; the message names it and says what to choose."""


# The config field that sizes each head to its teacher's width.
HEAD_SIZE_FIELDS = {"object": "num_object_classes", "scene": "num_scene_classes", "embedding": "embedding_dim"}

# `--embedding_teacher none`: train no embedding head even though the corpus has an embedding teacher.
NO_TEACHER = "none"


def choose_head_teachers(
    info: CorpusInfo,
    object_teacher: str | None = None,
    scene_teacher: str | None = None,
    embedding_teacher: str | None = None,
) -> dict[str, str]:
    """
    Head -> corpus teacher: [`default_head_teachers`], with `object_teacher` / `scene_teacher` / `embedding_teacher`
    (corpus teacher names) replacing the default of their head; `embedding_teacher="none"` drops the embedding head.

    Raises:
        `CorpusError`: a named teacher is not in the corpus (the message lists the corpus's teachers), or is not of
            the head's kind (distributions for the object and scene heads, embeddings for the embedding head).
    """
    heads = default_head_teachers(info)
    if embedding_teacher == NO_TEACHER:
        heads.pop("embedding", None)
        embedding_teacher = None
    for head, name in (("object", object_teacher), ("scene", scene_teacher), ("embedding", embedding_teacher)):
        if name:
            teacher = info.teacher(name)  # raises CorpusError naming the corpus's teachers
            if teacher.is_embedding != (head == "embedding"):
                raise CorpusError(
                    f"Teacher {name!r} is a {teacher.kind} teacher; the {head} head needs "
                    f"{'an embedding' if head == 'embedding' else 'a classifier or zero-shot'} teacher."
                )
            heads[head] = name
    return heads


def parse_config_overrides(text: str | None) -> dict[str, Any]:
    """
    `"embedding_layer=conv6,embedding_contrastive_weight=0.5"` -> `{"embedding_layer": "conv6",
    "embedding_contrastive_weight": 0.5}`: each value read as JSON (numbers, `true`, `null`), else kept as a string;
    whole numbers given to a float field of `SoundNetConfig` become floats.

    Raises:
        `StudentModelError`: an item without `=`, or a name that is not a `SoundNetConfig` field.
    """
    overrides: dict[str, Any] = {}
    fields = SoundNetConfig.__dataclass_fields__
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or key not in fields:
            raise StudentModelError(
                f"--config_overrides: {item!r} is not NAME=VALUE with NAME a SoundNetConfig field (e.g. "
                "embedding_layer=conv6,embedding_contrastive_weight=0.5)."
            )
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value.strip()
        if isinstance(fields[key].default, float) and isinstance(parsed, int) and not isinstance(parsed, bool):
            parsed = float(parsed)
        overrides[key] = parsed
    return overrides


def load_student(
    name: str, info: CorpusInfo, head_teachers: dict[str, str], config_overrides: dict[str, Any] | None = None
) -> SoundNetForPreTraining:
    """
    The model to pre-train: a variant name (`soundnet8`, `soundnet5`) from scratch, a folder holding only a
    config.json from scratch with that architecture, or a checkpoint (folder or Hub id) to continue from. The heads
    are sized to the corpus teachers of `head_teachers` (from scratch), or must already be (a checkpoint); an
    `"embedding"` head teacher gives the model an embedding head of the teacher's dimension (`config.embedding_dim`).
    `config_overrides` (`SoundNetConfig` fields, e.g. the embedding loss weights, [`parse_config_overrides`]) are set
    on the config before the model is built or loaded (an architecture field changed on a checkpoint builds that part
    anew, as `from_pretrained(..., field=value)` does).

    Raises:
        `StudentModelError`: `name` is not a SoundNet model, its heads do not fit the teachers, or its sampling rate
            is not the corpus's.
        `OSError`: `name` is neither a variant, a folder nor a Hub model that can be loaded.
    """
    sizes = {HEAD_SIZE_FIELDS[head]: info.teacher(teacher).num_classes for head, teacher in head_teachers.items()}
    overrides = dict(config_overrides or {})
    clash = {field: (overrides[field], size) for field, size in sizes.items() if overrides.get(field, size) != size}
    if clash:
        raise StudentModelError(f"--config_overrides sets head sizes that differ from the corpus teachers': {clash}.")
    if name in SOUNDNET_VARIANTS:
        model = SoundNetForPreTraining(SoundNetConfig.from_variant(name, **{**overrides, **sizes}))
    else:
        config = AutoConfig.from_pretrained(name)
        if not isinstance(config, SoundNetConfig):
            raise StudentModelError(
                f"--model {name}: not a SoundNet config (model_type {config.model_type!r}); give a SoundNet "
                f"variant ({', '.join(SOUNDNET_VARIANTS)}), folder or Hub id."
            )
        if Path(name).is_dir() and not any((Path(name) / f).exists() for f in WEIGHT_FILES):
            for field, value in {**overrides, **sizes}.items():
                setattr(config, field, value)
            config.validate()
            model = SoundNetForPreTraining(config)
        else:
            model = SoundNetForPreTraining.from_pretrained(name, **overrides)
            wrong = {f: (getattr(model.config, f), s) for f, s in sizes.items() if getattr(model.config, f) != s}
            if wrong:
                raise StudentModelError(
                    f"{name}: head sizes (model, corpus teacher) differ: {wrong}. Start from scratch (--model "
                    "soundnet8, or a folder with only config.json) or pick matching teachers with "
                    "--object_teacher/--scene_teacher."
                )
    if model.config.sampling_rate != info.sampling_rate:
        raise StudentModelError(
            f"The model expects {model.config.sampling_rate} Hz but the corpus holds {info.sampling_rate} Hz audio."
        )
    return model


def pretrained_model_card(
    trainer, repo_id: str, corpus_name: str, head_teachers: dict[str, str], crop_seconds: float
) -> ModelCard:
    """
    The soundnet5 template filled with a finished run's architecture and training facts.

    Args:
        trainer (`SoundNetDistillationTrainer`): the trainer after `train()` (its model, arguments and log history).
        repo_id (`str`): the Hub repo the card is for.
        corpus_name (`str`): the corpus folder's name.
        head_teachers (`dict[str, str]`): head -> corpus teacher.
        crop_seconds (`float`): length of the training crops.
    """
    config = trainer.model.config
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    architecture = (
        f"{config.num_blocks} conv blocks ({', '.join(map(str, config.conv_channels))} channels; kernels "
        f"{', '.join(map(str, config.conv_kernel_sizes))}; max-pools {', '.join(map(str, config.pool_kernel_sizes))}) "
        f"and two heads of {config.num_object_classes} and {config.num_scene_classes} classes (kernel "
        f"{config.head_kernel_size}, stride {config.head_stride}), "
        + (
            f"an embedding head of {config.embedding_dim} dimensions over "
            f"{config.layer_names[config.embedding_layer_index]}, "
            if config.embedding_dim is not None
            else ""
        )
        + f"{trainer.model.num_parameters() / 1e6:.1f} M parameters."
    )
    return render_model_card(
        MODEL_CARDS / "soundnet5.md",
        repo_id=repo_id,
        model_name=repo_id.split("/")[-1],
        num_layers=config.num_blocks + 1,
        architecture=architecture,
        training_data=f"the corpus `{corpus_name}` built by examples/build_corpus.py, teachers {head_teachers}.",
        training={
            "steps": trainer.state.global_step,
            "crop seconds": crop_seconds,
            "batch size per process": trainer.args.per_device_train_batch_size,
            "processes": trainer.args.world_size,
            "learning rate": trainer.args.learning_rate,
            "last logged loss": f"{losses[-1]:.3f}" if losses else "n/a",
        },
    )


__all__ = [
    "HEAD_SIZE_FIELDS",
    "NO_TEACHER",
    "StudentModelError",
    "WEIGHT_FILES",
    "choose_head_teachers",
    "parse_config_overrides",
    "load_student",
    "pretrained_model_card",
]
