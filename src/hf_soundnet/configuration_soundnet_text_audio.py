"""Configuration of the zero-shot model: a SoundNet student distilled into an image-text teacher's embedding space,
with the teacher's text tower (transformers' CLAP layout: `audio_config` and `text_config`).

Why a composite config rather than more SoundNetConfig fields: the text tower's config is the teacher's own
(`clip_text_model`, `siglip_text_model`, ...), saved and rebuilt by `AutoConfig` under its own `model_type`, so any
image-text teacher's text model fits without SoundNet knowing its fields; and the composite's own `model_type`
(`"soundnet_text_audio"`) maps `AutoModel` and the zero-shot pipeline to this model, while `"soundnet"` keeps meaning
the audio-only models (the student itself, with its KL heads, stays a `SoundNetForPreTraining` checkpoint).
"""

import copy
import importlib
import os
from typing import Any

from huggingface_hub.dataclasses import strict
from transformers import AutoConfig, PreTrainedConfig
from transformers.configuration_utils import SubConfigSpec
from transformers.dynamic_module_utils import custom_object_save

from .configuration_soundnet import SoundNetConfig, _registry_implements


# The prompt of a label: the teacher is an image-text model, so its text tower knows prompts about images; "a photo
# of a {}." is the template the student's teacher used for its zero-shot image targets (`ZeroShotImageTeacher`).
DEFAULT_HYPOTHESIS_TEMPLATE = "a photo of a {}."

# What a checkpoint saved with code declares in `config.custom_pipelines` (see `SoundNetConfig.custom_pipelines`):
# the zero-shot pipeline of the checkpoint's own `pipeline_soundnet_zero_shot.py`, on the model `AutoModel` loads.
ZERO_SHOT_PIPELINES: dict[str, dict[str, Any]] = {
    "zero-shot-audio-classification": {
        "impl": "pipeline_soundnet_zero_shot.SoundNetZeroShotAudioClassificationPipeline",
        "pt": ["AutoModel"],
        "type": "multimodal",
    }
}


@strict
class SoundNetTextAudioConfig(PreTrainedConfig):
    r"""
    Configuration of [`SoundNetTextAudioModel`]: a SoundNet trunk with its embedding head (`audio_config`, with
    `embedding_dim` set) and an image-text teacher's text tower (`text_config`), scored like CLIP.

    Args:
        audio_config (`dict` or [`SoundNetConfig`], *optional*):
            The student's config; its `embedding_dim` is the shared space's dimension.
        text_config (`dict` or `PreTrainedConfig`, *optional*):
            The teacher's text config (`CLIPTextConfig`, `SiglipTextConfig`, ...), built by `AutoConfig` from its
            `model_type` (defaults to `clip_text_model`).
        text_model_class (`str`, *optional*):
            The transformers class of the text model (`"SiglipTextModel"`; the teacher's `text_model`), for text
            configs that `AutoModel` does not map; `AutoModel.from_config(text_config)` when unset.
        projection_dim (`int`, *optional*):
            Output of the text projection (`Linear(hidden_size, projection_dim, bias=False)`, CLIP's); None when the
            text model's pooled output is already in the shared space (SigLIP's head).
        logit_scale_init_value (`float`, *optional*, defaults to 2.6592):
            Initial `logit_scale` (log of the inverse temperature; CLIP's `log(1 / 0.07)`). Copied from the teacher.
        logit_bias_init_value (`float`, *optional*):
            When set, the model has SigLIP's `logit_bias` (copied from the teacher), added to every logit; it is the
            same for every label, so it drops out of the zero-shot softmax.
        hypothesis_template (`str`, *optional*, defaults to `"a photo of a {}."`):
            The pipeline's default prompt of a label (`{}` is replaced by the label).
        text_max_length (`int`, *optional*):
            Length every prompt is padded (and truncated) to, the text model's `max_position_embeddings` by default
            (SigLIP was trained so; CLIP pools the end-of-text token and is indifferent to it).
        teacher_name_or_path (`str`, *optional*):
            The teacher's Hub id or folder, for the record.
    """

    model_type = "soundnet_text_audio"
    sub_configs_defaults = {
        "audio_config": SubConfigSpec(config_class=SoundNetConfig),
        "text_config": SubConfigSpec(config_class=AutoConfig, model_type="clip_text_model"),
    }

    audio_config: dict | PreTrainedConfig | None = None
    text_config: dict | PreTrainedConfig | None = None
    text_model_class: str | None = None
    projection_dim: int | None = None
    logit_scale_init_value: float = 2.6592
    logit_bias_init_value: float | None = None
    hypothesis_template: str = DEFAULT_HYPOTHESIS_TEMPLATE
    text_max_length: int | None = None
    teacher_name_or_path: str | None = None

    def __post_init__(self, **kwargs):
        super().__post_init__(**kwargs)
        if self.text_max_length is None:
            self.text_max_length = getattr(self.text_config, "max_position_embeddings", None)

    def validate_architecture(self):
        """The template has a `{}` for the label (the student's embedding head is checked by the model)."""
        if "{}" not in self.hypothesis_template:
            raise ValueError(f"hypothesis_template {self.hypothesis_template!r} has no {{}} for the label.")

    @property
    def custom_pipelines(self) -> dict[str, dict[str, Any]]:
        """The declared pipelines less those the registry already implements (as [`SoundNetConfig.custom_pipelines`]:
        with the plugin imported the plain `pipeline()` call needs no `trust_remote_code`)."""
        declared = self.__dict__.get("custom_pipelines") or {}
        return {task: copy.deepcopy(info) for task, info in declared.items() if not _registry_implements(task, info)}

    @custom_pipelines.setter
    def custom_pipelines(self, value: dict[str, dict[str, Any]] | None) -> None:
        self.__dict__["custom_pipelines"] = value

    def save_pretrained(self, save_directory: str | os.PathLike, *args, **kwargs) -> None:
        """[`PreTrainedConfig.save_pretrained`]; with code upload on, also copies `pipeline_soundnet_zero_shot.py`
        (and its root-level imports) and declares it in `custom_pipelines` ([`ZERO_SHOT_PIPELINES`])."""
        if self._auto_class is not None:
            pipeline_class = _zero_shot_pipeline_class()
            if pipeline_class is not None:
                os.makedirs(save_directory, exist_ok=True)
                custom_object_save(pipeline_class, save_directory)
                declared = self.__dict__.get("custom_pipelines") or {}
                self.custom_pipelines = {**declared, **copy.deepcopy(ZERO_SHOT_PIPELINES)}
        return super().save_pretrained(save_directory, *args, **kwargs)


def _zero_shot_pipeline_class() -> type | None:
    """The zero-shot pipeline class of this package (or of a checkpoint's code), None where it has none; imported by
    name so that code upload of this file does not carry the pipeline."""
    try:
        module = importlib.import_module(".pipeline_soundnet_zero_shot", __package__)
    except ImportError:
        return None
    return getattr(module, "SoundNetZeroShotAudioClassificationPipeline", None)


__all__ = ["DEFAULT_HYPOTHESIS_TEMPLATE", "ZERO_SHOT_PIPELINES", "SoundNetTextAudioConfig"]
